/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cbor.h"

static size_t unhex(const char *h, uint8_t *out)
{
        size_t n = 0;

        for (; h[0] && h[1]; h += 2) {
                unsigned v;
                sscanf(h, "%2x", &v);
                out[n++] = (uint8_t)v;
        }
        return n;
}

/* RFC 8949 Appendix A vectors that map onto JSON (diagnostic -> json-c's plain output). */
static const struct {
        const char *hex, *json;
} vectors[] = {
        {"00", "0"},
        {"01", "1"},
        {"0a", "10"},
        {"17", "23"},
        {"1818", "24"},
        {"1819", "25"},
        {"1864", "100"},
        {"1903e8", "1000"},
        {"1a000f4240", "1000000"},
        {"1b000000e8d4a51000", "1000000000000"},
        {"20", "-1"},
        {"29", "-10"},
        {"3863", "-100"},
        {"3903e7", "-1000"},
        {"f90000", "0.0"},
        {"f93c00", "1.0"},
        {"f93e00", "1.5"},
        {"f97bff", "65504.0"},
        {"fa47c35000", "100000.0"},
        {"f90001", "5.9604644775390625E-8"},
        {"f90400", "6.103515625E-5"},
        {"f9c400", "-4.0"},
        {"fb3ff199999999999a", "1.1"},
        {"fbc010666666666666", "-4.1"},
        {"f4", "false"},
        {"f5", "true"},
        {"f6", "null"},
        {"f7", "null"},
        {"60", "\"\""},
        {"6161", "\"a\""},
        {"6449455446", "\"IETF\""},
        {"62225c", "\"\\\"\\\\\""},
        {"62c3bc", "\"\\u00fc\""},
        {"63e6b0b4", "\"\\u6c34\""},
        {"64f0908591", "\"\\ud800\\udd51\""},
        {"80", "[]"},
        {"83010203", "[1,2,3]"},
        {"8301820203820405", "[1,[2,3],[4,5]]"},
        {"98190102030405060708090a0b0c0d0e0f101112131415161718181819",
         "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]"},
        {"a0", "{}"},
        {"a26161016162820203", "{\"a\":1,\"b\":[2,3]}"},
        {"826161a161626163", "[\"a\",{\"b\":\"c\"}]"},
        {"a56161614161626142616361436164614461656145",
         "{\"a\":\"A\",\"b\":\"B\",\"c\":\"C\",\"d\":\"D\",\"e\":\"E\"}"},
        {"7f657374726561646d696e67ff", "\"streaming\""},
        {"9fff", "[]"},
        {"9f018202039f0405ffff", "[1,[2,3],[4,5]]"},
        {"9f01820203820405ff", "[1,[2,3],[4,5]]"},
        {"83018202039f0405ff", "[1,[2,3],[4,5]]"},
        {"bf61610161629f0203ffff", "{\"a\":1,\"b\":[2,3]}"},
        {"826161bf61626163ff", "[\"a\",{\"b\":\"c\"}]"},
        {"bf6346756ef563416d7421ff", "{\"Fun\":true,\"Amt\":-2}"},
};

static void test_rfc8949_vectors(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
                uint8_t buf[64];
                size_t n = unhex(vectors[i].hex, buf);
                json_object *o = (json_object *)1;
                int k = ob_cbor_decode(buf, n, &o);
                if (k < 0)
                        fail_msg("vector %s: error %d", vectors[i].hex, k);
                json_object *want = json_tokener_parse(vectors[i].json);
                if (!json_object_equal(o, want))
                        fail_msg("vector %s: got %s want %s", vectors[i].hex,
                                 json_object_to_json_string(o), vectors[i].json);
                json_object_put(o);
                json_object_put(want);
        }
}

static void expect_err(const char *hex, int err)
{
        uint8_t buf[64];
        size_t n = unhex(hex, buf);
        json_object *o = NULL;

        int k = ob_cbor_decode(buf, n, &o);
        if (k != err)
                fail_msg("%s: got %d want %d", hex, k, err);
        assert_null(o);
}

static void test_rejects(void **state)
{
        (void)state;
        expect_err("c074323031332d30332d32315432303a30343a30305a", -ENOTSUP); /* tag 0 */
        expect_err("4401020304", -ENOTSUP);                                   /* bytes */
        expect_err("f0", -ENOTSUP);                                           /* simple(16) */
        expect_err("1bffffffffffffffff", -ERANGE);                            /* 2^64-1 */
        expect_err("3bffffffffffffffff", -ERANGE);
        expect_err("1a0000", -EBADMSG);             /* truncated */
        expect_err("0000", -EBADMSG);               /* trailing data */
        expect_err("62c3", -EBADMSG);               /* short string */
        expect_err("61ff", -EBADMSG);               /* invalid UTF-8 */
        expect_err("63eda080", -EBADMSG);           /* surrogate */
        expect_err("9b00000000ffffffff", -EBADMSG); /* huge count, no data */
        expect_err("a10102", -ENOTSUP);             /* integer map key */
        expect_err("9f01", -EBADMSG);               /* missing break */
        expect_err("1c", -EBADMSG);                 /* reserved ai */
        expect_err("ff", -EBADMSG);                 /* lone break */
        expect_err("", -EBADMSG);
}

static void test_depth_limit(void **state)
{
        uint8_t buf[100];
        json_object *o = NULL;
        (void)state;
        memset(buf, 0x81, sizeof(buf) - 1);
        buf[sizeof(buf) - 1] = 0x00;
        assert_int_equal(ob_cbor_decode(buf, sizeof(buf), &o), -ELOOP);
        assert_int_equal(ob_cbor_decode(buf + sizeof(buf) - 20, 20, &o), 0);
        json_object_put(o);
}

static void test_roundtrip(void **state)
{
        const char *docs[] = {
                "{\"certificateOwnershipToken\":\"abc\",\"parameters\":{\"SerialNumber\":\"123\"}}",
                "{\"statusCode\":500,\"errorCode\":\"InternalError\",\"errorMessage\":\"x\"}",
                "[0,23,24,255,256,65535,65536,4294967295,4294967296,-1,-24,-25,-257,true,null]",
                "{\"d\":1.5,\"s\":\"\\u00fc\\u6c34\"}",
        };
        (void)state;
        for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
                json_object *in = json_tokener_parse(docs[i]), *out = NULL;
                uint8_t *buf = NULL;
                size_t n = 0;
                assert_int_equal(ob_cbor_encode(in, &buf, &n), 0);
                assert_int_equal(ob_cbor_decode(buf, n, &out), 0);
                if (!json_object_equal(in, out))
                        fail_msg("roundtrip %s -> %s", docs[i], json_object_to_json_string(out));
                free(buf);
                json_object_put(in);
                json_object_put(out);
        }
}

/* Mutate valid vectors at random: the decoder must fail cleanly or succeed, never crash or
 * read out of bounds (run under ASan). The seed is printed so a failure can be replayed. */
static void test_random_mutations(void **state)
{
        unsigned seed = (unsigned)(getenv("OB_TEST_SEED") ? strtoul(getenv("OB_TEST_SEED"), NULL, 0)
                                                          : 0x5eed1234u);
        (void)state;
        print_message("seed %u (set OB_TEST_SEED to replay)\n", seed);
        srand(seed);
        for (int iter = 0; iter < 20000; iter++) {
                uint8_t buf[80];
                size_t n = unhex(
                        vectors[(size_t)rand() % (sizeof(vectors) / sizeof(vectors[0]))].hex, buf);
                int flips = 1 + rand() % 3;
                for (int f = 0; f < flips; f++)
                        buf[(size_t)rand() % n] = (uint8_t)rand();
                if (rand() % 4 == 0 && n > 1)
                        n = 1 + (size_t)rand() % (n - 1); /* truncate */
                /* decode from a heap copy of exactly n bytes so ASan sees over-reads */
                uint8_t *heap = malloc(n);
                assert_non_null(heap);
                memcpy(heap, buf, n);
                json_object *o = NULL;
                if (ob_cbor_decode(heap, n, &o) == 0)
                        json_object_put(o);
                free(heap);
        }
}

static void test_encode_exact(void **state)
{
        json_object *o = json_object_new_int(500);
        uint8_t *buf = NULL;
        size_t n = 0;
        (void)state;
        /* AWS's own fixtures encode statusCode 500 as 19 01 f4 */
        assert_int_equal(ob_cbor_encode(o, &buf, &n), 0);
        assert_int_equal(n, 3);
        assert_memory_equal(buf, "\x19\x01\xf4", 3);
        free(buf);
        json_object_put(o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc8949_vectors), cmocka_unit_test(test_rejects),
                cmocka_unit_test(test_depth_limit),     cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_encode_exact),    cmocka_unit_test(test_random_mutations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
