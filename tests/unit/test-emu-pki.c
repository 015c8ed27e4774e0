/* SPDX-License-Identifier: Apache-2.0 */
/* The emulator's certificate dates and subjects (tests/emulator/pki.c): AWS's notAfter
 * 2049-12-31T23:59:59Z as UTCTime, 2050 on as GeneralizedTime, 9999-12-31T23:59:59Z, computed
 * without time_t (so a 32-bit time_t platform gets them right too); bad dates refused. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/asn1.h>

#include "pki.h"

static void test_parse(void **state)
{
        int64_t t = 0;

        (void)state;
        assert_int_equal(ob_emu_pki_parse_time("1970-01-01T00:00:00Z", &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(ob_emu_pki_parse_time("2038-01-19T03:14:08Z", &t), 0);
        assert_int_equal(t, INT64_C(2147483648)); /* one past 32-bit time_t */
        assert_int_equal(ob_emu_pki_parse_time(OB_EMU_AWS_NOT_AFTER, &t), 0);
        assert_int_equal(t, INT64_C(2524607999));
        assert_int_equal(ob_emu_pki_parse_time("9999-12-31T23:59:59Z", &t), 0);
        assert_int_equal(t, INT64_C(253402300799));
        assert_int_equal(ob_emu_pki_parse_time("2048-02-29T12:00:00Z", &t), 0); /* leap year */
        assert_int_equal(ob_emu_pki_parse_time("2049-02-29T12:00:00Z", &t), -EINVAL);
        assert_int_equal(ob_emu_pki_parse_time("2100-02-29T00:00:00Z", &t), -EINVAL);
        assert_int_equal(ob_emu_pki_parse_time("2049-12-31T24:00:00Z", &t), -EINVAL);
        assert_int_equal(ob_emu_pki_parse_time("2049-12-31", &t), -EINVAL);
        assert_int_equal(ob_emu_pki_parse_time("2049-12-31T23:59:59Z ", &t), -EINVAL);
        assert_int_equal(ob_emu_pki_parse_time("1949-12-31T23:59:59Z", &t), -EINVAL);
        assert_int_equal(ob_emu_pki_parse_time(NULL, &t), -EINVAL);
}

static void check_time(int64_t secs, int type, const char *text)
{
        ASN1_TIME *a = ASN1_TIME_new();

        assert_non_null(a);
        assert_int_equal(ob_emu_pki_set_time(a, secs), 0);
        assert_int_equal(ASN1_STRING_type(a), type);
        assert_int_equal(ASN1_STRING_length(a), (int)strlen(text));
        assert_memory_equal(ASN1_STRING_get0_data(a), text, strlen(text));
        ASN1_TIME_free(a);
}

static void test_set(void **state)
{
        ASN1_TIME *a = ASN1_TIME_new();

        (void)state;
        check_time(INT64_C(2524607999), V_ASN1_UTCTIME, "491231235959Z");
        check_time(INT64_C(2524608000), V_ASN1_GENERALIZEDTIME, "20500101000000Z");
        check_time(INT64_C(253402300799), V_ASN1_GENERALIZEDTIME, "99991231235959Z");
        check_time(INT64_C(2147483648), V_ASN1_UTCTIME, "380119031408Z");
        check_time(-INT64_C(631152000), V_ASN1_UTCTIME, "500101000000Z");
        assert_non_null(a);
        assert_int_equal(ob_emu_pki_set_time(a, INT64_C(253402300800)), -EINVAL); /* 10000 */
        assert_int_equal(ob_emu_pki_set_time(a, -INT64_C(631152001)), -EINVAL);   /* 1949 */
        ASN1_TIME_free(a);
}

static void test_subject(void **state)
{
        (void)state;
        assert_true(ob_emu_pki_subject_valid(OB_EMU_AWS_SUBJECT));
        assert_true(ob_emu_pki_subject_valid("/CN=sn-1/O=Example Devices Ltd"));
        assert_true(ob_emu_pki_subject_valid("/CN=a\\/b"));
        assert_false(ob_emu_pki_subject_valid("CN=no-slash"));
        assert_false(ob_emu_pki_subject_valid("/"));
        assert_false(ob_emu_pki_subject_valid("/CN"));
        assert_false(ob_emu_pki_subject_valid("/NOSUCHATTR=x"));
        assert_false(ob_emu_pki_subject_valid(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_set),
                cmocka_unit_test(test_subject),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
