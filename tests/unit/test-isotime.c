/* SPDX-License-Identifier: Apache-2.0 */
/* lib/isotime: dates from 64-bit seconds, whatever the width of time_t (armhf with a 32-bit
 * time_t showed AWS's 2049 expiry as 1913-11-25 and 9999 as 1969-12-23). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "backoff.h"
#include "isotime.h"

static void test_known_dates(void **state)
{
        static const struct {
                int64_t s;
                const char *iso;
        } cases[] = {
                {0, "1970-01-01T00:00:00Z"},
                {-1, "1969-12-31T23:59:59Z"},
                {951782400, "2000-02-29T00:00:00Z"},
                {2147483647, "2038-01-19T03:14:07Z"},
                {2147483648LL, "2038-01-19T03:14:08Z"},
                {2524607999LL, "2049-12-31T23:59:59Z"}, /* AWS's notAfter */
                {4107542400LL, "2100-03-01T00:00:00Z"}, /* 2100 is not a leap year */
                {253402300799LL, "9999-12-31T23:59:59Z"},
                {OB_ISOTIME_MIN, "0000-01-01T00:00:00Z"},
        };
        char buf[32];
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_true(ob_isotime_format(cases[i].s, buf, sizeof(buf)));
                assert_string_equal(buf, cases[i].iso);
        }
        assert_true(ob_isotime_from_civil(2049, 12, 31, 23, 59, 59) == 2524607999LL);
        assert_true(ob_isotime_from_civil(9999, 12, 31, 23, 59, 59) == 253402300799LL);
        assert_true(ob_isotime_from_civil(1970, 1, 1, 0, 0, 0) == 0);
}

static void test_out_of_range(void **state)
{
        char buf[32], small[8];
        (void)state;

        assert_false(ob_isotime_format(OB_ISOTIME_MAX + 1, buf, sizeof(buf)));
        assert_string_equal(buf, "@253402300800");
        assert_false(ob_isotime_format(OB_ISOTIME_MIN - 1, buf, sizeof(buf)));
        assert_false(ob_isotime_format(OB_ISOTIME_MAX + 1, small, sizeof(small)));
        assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* Round trip and, where time_t is 64 bits wide, agreement with the C library's gmtime_r. */
static void test_against_gmtime(void **state)
{
        uint64_t seed = getenv("OB_TEST_SEED") ? strtoull(getenv("OB_TEST_SEED"), NULL, 0) : 1795;
        char buf[32], want[32];
        (void)state;

        print_message("seed %llu, time_t %zu bits\n", (unsigned long long)seed, sizeof(time_t) * 8);
        for (int i = 0; i < 20000; i++) {
                int64_t s = (int64_t)(ob_random_splitmix64(&seed) % (uint64_t)(OB_ISOTIME_MAX + 1));
                assert_true(ob_isotime_format(s, buf, sizeof(buf)));
                int64_t y = strtoll(buf, NULL, 10);
                unsigned mo = (unsigned)atoi(buf + 5), d = (unsigned)atoi(buf + 8);
                unsigned h = (unsigned)atoi(buf + 11), mi = (unsigned)atoi(buf + 14);
                unsigned se = (unsigned)atoi(buf + 17);
                assert_true(ob_isotime_from_civil(y, mo, d, h, mi, se) == s);
                if (sizeof(time_t) < 8 && (int64_t)(time_t)s != s)
                        continue;
                time_t t = (time_t)s;
                struct tm tm;
                assert_non_null(gmtime_r(&t, &tm));
                assert_true(strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0);
                assert_string_equal(buf, want);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_known_dates),
                cmocka_unit_test(test_out_of_range),
                cmocka_unit_test(test_against_gmtime),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
