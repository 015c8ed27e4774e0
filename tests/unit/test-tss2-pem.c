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

#include "tss2-pem.h"

/* Golden DER for parent 0x81000001, emptyAuth TRUE, pub 00 02 aa bb, priv 00 01 cc. */
static const uint8_t golden[] = {
        0x30, 0x1f,                                     /* SEQUENCE, 31 bytes */
        0x06, 0x06, 0x67, 0x81, 0x05, 0x0a, 0x01, 0x03, /* OID 2.23.133.10.1.3 */
        0xa0, 0x03, 0x01, 0x01, 0xff,                   /* [0] BOOLEAN TRUE */
        0x02, 0x05, 0x00, 0x81, 0x00, 0x00, 0x01,       /* INTEGER 0x81000001 */
        0x04, 0x04, 0x00, 0x02, 0xaa, 0xbb,             /* pubkey */
        0x04, 0x03, 0x00, 0x01, 0xcc,                   /* privkey */
};

static ObTss2Key sample(void)
{
        ObTss2Key k = {.empty_auth = true, .parent = 0x81000001};
        memcpy(k.pub, "\x00\x02\xaa\xbb", 4);
        k.pub_len = 4;
        memcpy(k.priv, "\x00\x01\xcc", 3);
        k.priv_len = 3;
        return k;
}

static void test_golden_encode(void **state)
{
        ObTss2Key k = sample();
        uint8_t *der;
        size_t len;
        assert_int_equal(ob_tss2_key_to_der(&k, &der, &len), 0);
        assert_int_equal(len, sizeof(golden));
        assert_memory_equal(der, golden, sizeof(golden));
        free(der);
}

static void test_golden_decode(void **state)
{
        ObTss2Key k;
        assert_int_equal(ob_tss2_key_from_der(golden, sizeof(golden), &k), 0);
        assert_true(k.empty_auth);
        assert_int_equal(k.parent, 0x81000001);
        assert_int_equal(k.pub_len, 4);
        assert_memory_equal(k.pub, "\x00\x02\xaa\xbb", 4);
        assert_int_equal(k.priv_len, 3);
        assert_memory_equal(k.priv, "\x00\x01\xcc", 3);
}

static void test_every_truncation_and_trailing_byte_rejected(void **state)
{
        ObTss2Key k;
        for (size_t n = 0; n < sizeof(golden); n++)
                if (ob_tss2_key_from_der(golden, n, &k) != -EBADMSG)
                        fail_msg("accepted a key truncated to %zu bytes", n);
        uint8_t longer[sizeof(golden) + 1];
        memcpy(longer, golden, sizeof(golden));
        longer[sizeof(golden)] = 0;
        assert_int_equal(ob_tss2_key_from_der(longer, sizeof(longer), &k), -EBADMSG);
}

static void test_corruptions_rejected(void **state)
{
        static const struct {
                size_t at;
                uint8_t value;
                const char *what;
        } cases[] = {
                {7, 0x02, "wrong OID (2.23.133.10.1.2)"},
                {13, 0x02, "emptyAuth BOOLEAN of length 2"},
                {17, 0x80, "negative parent"},
                {22, 0x05, "pubkey not an OCTET STRING"},
                {1, 0x20, "outer length too short"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint8_t bad[sizeof(golden)];
                ObTss2Key k;
                memcpy(bad, golden, sizeof(golden));
                bad[cases[i].at] = cases[i].value;
                if (ob_tss2_key_from_der(bad, sizeof(bad), &k) != -EBADMSG)
                        fail_msg("accepted: %s", cases[i].what);
        }
}

/* tpm2-openssl 1.1 writes emptyAuth TRUE as 0x01 (BER, not DER): such keys must load. */
static void test_ber_true_from_tpm2_openssl(void **state)
{
        uint8_t ber[sizeof(golden)];
        ObTss2Key k;
        memcpy(ber, golden, sizeof(golden));
        ber[14] = 0x01;
        assert_int_equal(ob_tss2_key_from_der(ber, sizeof(ber), &k), 0);
        assert_true(k.empty_auth);
        ber[14] = 0x00;
        assert_int_equal(ob_tss2_key_from_der(ber, sizeof(ber), &k), 0);
        assert_false(k.empty_auth);
}

static void test_small_parent_and_no_empty_auth(void **state)
{
        ObTss2Key k = sample(), back;
        k.parent = 0x40000001; /* the owner hierarchy, as for a primary-parented key */
        k.empty_auth = false;
        uint8_t *der;
        size_t len;
        assert_int_equal(ob_tss2_key_to_der(&k, &der, &len), 0);
        /* INTEGER 0x40000001 needs no leading zero */
        assert_memory_equal(der + 10, "\x02\x04\x40\x00\x00\x01", 6);
        assert_int_equal(ob_tss2_key_from_der(der, len, &back), 0);
        assert_false(back.empty_auth);
        assert_int_equal(back.parent, 0x40000001);
        free(der);
}

static void test_large_blobs_use_long_lengths(void **state)
{
        ObTss2Key k = sample(), back;
        memset(k.priv, 0x5a, 300);
        k.priv_len = 300;
        memset(k.pub, 0x33, 130);
        k.pub_len = 130;
        uint8_t *der;
        size_t len;
        assert_int_equal(ob_tss2_key_to_der(&k, &der, &len), 0);
        assert_int_equal(der[0], 0x30);
        assert_int_equal(der[1], 0x82);
        assert_int_equal(ob_tss2_key_from_der(der, len, &back), 0);
        assert_int_equal(back.priv_len, 300);
        assert_memory_equal(back.priv, k.priv, 300);
        free(der);
        k.priv_len = OB_TSS2_PEM_MAX_BLOB + 1;
        assert_int_equal(ob_tss2_key_to_der(&k, &der, &len), -EINVAL);
}

static void test_pem_round_trip_and_wrong_label(void **state)
{
        ObTss2Key k = sample(), back;
        char *pem;
        assert_int_equal(ob_tss2_key_to_pem(&k, &pem), 0);
        assert_non_null(strstr(pem, "-----BEGIN TSS2 PRIVATE KEY-----\nMB8GBmeBBQoBA6ADAQH/"));
        assert_int_equal(ob_tss2_key_from_pem(pem, strlen(pem), &back), 0);
        assert_int_equal(back.parent, k.parent);
        assert_memory_equal(back.pub, k.pub, k.pub_len);
        char *other = strdup(pem);
        memcpy(strstr(other, "TSS2"), "TSS3", 4);
        assert_int_equal(ob_tss2_key_from_pem(other, strlen(other), &back), -EBADMSG);
        assert_int_equal(ob_tss2_key_from_pem("garbage", 7, &back), -EBADMSG);
        free(other);
        free(pem);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden_encode),
                cmocka_unit_test(test_golden_decode),
                cmocka_unit_test(test_every_truncation_and_trailing_byte_rejected),
                cmocka_unit_test(test_corruptions_rejected),
                cmocka_unit_test(test_ber_true_from_tpm2_openssl),
                cmocka_unit_test(test_small_parent_and_no_empty_auth),
                cmocka_unit_test(test_large_blobs_use_long_lengths),
                cmocka_unit_test(test_pem_round_trip_and_wrong_label),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
