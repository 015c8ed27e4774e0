/* SPDX-License-Identifier: Apache-2.0 */
/* The pure parts of `agentctl check`: result order, aggregation, exit codes, rotation window. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "health.h"
#include "macro.h"

#define DAY 86400

static void test_names(void **state)
{
        (void)state;
        assert_string_equal(ob_health_result_to_string(OB_HEALTH_PASS), "pass");
        assert_string_equal(ob_health_result_to_string(OB_HEALTH_SKIP), "skip");
        assert_string_equal(ob_health_result_to_string(OB_HEALTH_WARN), "warn");
        assert_string_equal(ob_health_result_to_string(OB_HEALTH_FAIL), "fail");
        assert_null(ob_health_result_to_string(_OB_HEALTH_RESULT_MAX));
        assert_null(ob_health_result_to_string((ObHealthResult)-1));
}

static void test_worst(void **state)
{
        const ObHealthResult pass_skip[] = {OB_HEALTH_PASS, OB_HEALTH_SKIP, OB_HEALTH_PASS};
        const ObHealthResult skips[] = {OB_HEALTH_SKIP, OB_HEALTH_SKIP};
        const ObHealthResult warn[] = {OB_HEALTH_SKIP, OB_HEALTH_WARN, OB_HEALTH_PASS};
        const ObHealthResult fail_first[] = {OB_HEALTH_FAIL, OB_HEALTH_WARN, OB_HEALTH_SKIP};
        const ObHealthResult fail_last[] = {OB_HEALTH_WARN, OB_HEALTH_PASS, OB_HEALTH_FAIL};
        const ObHealthResult junk[] = {OB_HEALTH_PASS, (ObHealthResult)42};

        (void)state;
        assert_int_equal(ob_health_worst(NULL, 0), OB_HEALTH_PASS);
        assert_int_equal(ob_health_worst(pass_skip, OB_ELEMENTSOF(pass_skip)), OB_HEALTH_PASS);
        assert_int_equal(ob_health_worst(skips, OB_ELEMENTSOF(skips)), OB_HEALTH_PASS);
        assert_int_equal(ob_health_worst(warn, OB_ELEMENTSOF(warn)), OB_HEALTH_WARN);
        assert_int_equal(ob_health_worst(fail_first, OB_ELEMENTSOF(fail_first)), OB_HEALTH_FAIL);
        assert_int_equal(ob_health_worst(fail_last, OB_ELEMENTSOF(fail_last)), OB_HEALTH_FAIL);
        assert_int_equal(ob_health_worst(junk, OB_ELEMENTSOF(junk)), OB_HEALTH_PASS);
}

static void test_exit_codes(void **state)
{
        (void)state;
        assert_int_equal(ob_health_exit_code(OB_HEALTH_PASS), 0);
        assert_int_equal(ob_health_exit_code(OB_HEALTH_SKIP), 0);
        assert_int_equal(ob_health_exit_code(OB_HEALTH_WARN), 3);
        assert_int_equal(ob_health_exit_code(OB_HEALTH_FAIL), 1);
        /* never one of agentctl's other codes (64 usage, 77 permission, 78 config) */
        assert_int_not_equal(OB_HEALTH_EXIT_WARN, 2);
}

static void test_rotation_due(void **state)
{
        const int64_t nb = 1700000000;
        int64_t due;

        (void)state;
        /* a one-year certificate with the shipped defaults (0.8, 30 days, 365 days):
         * 0.8 of 365 days = day 292, 30 days before expiry = day 335: the fraction wins */
        assert_int_equal(ob_health_rotation_due(nb, nb + 365 * DAY, 0.8, 30, 365, &due), 0);
        assert_int_equal(due, nb + 292 * DAY);
        /* a 100-day certificate with 30 days: 0.8 is day 80, 30 before expiry is day 70 */
        assert_int_equal(ob_health_rotation_due(nb, nb + 100 * DAY, 0.8, 30, 0, &due), 0);
        assert_int_equal(due, nb + 70 * DAY);
        /* AWS's certificates run to 2049: max_age_days decides */
        assert_int_equal(ob_health_rotation_due(nb, nb + 9000 * DAY, 0.8, 30, 365, &due), 0);
        assert_int_equal(due, nb + 365 * DAY);
        /* both day rules off: only the fraction */
        assert_int_equal(ob_health_rotation_due(nb, nb + 10 * DAY, 0.5, 0, 0, &due), 0);
        assert_int_equal(due, nb + 5 * DAY);
        /* days_before_expiry longer than the lifetime: not at once, at half the life */
        assert_int_equal(ob_health_rotation_due(nb, nb + 2 * DAY, 0.8, 30, 0, &due), 0);
        assert_int_equal(due, nb + DAY);
        /* a 7-day certificate with 30 days: half its life, not "renew forever" */
        assert_int_equal(ob_health_rotation_due(nb, nb + 7 * DAY, 0.8, 30, 365, &due), 0);
        assert_int_equal(due, nb + 7 * DAY / 2);
        /* a 40-day certificate with 30 days: day 20 (half), not day 10 */
        assert_int_equal(ob_health_rotation_due(nb, nb + 40 * DAY, 0.8, 30, 0, &due), 0);
        assert_int_equal(due, nb + 20 * DAY);
        /* max_age_days below half the life still wins */
        assert_int_equal(ob_health_rotation_due(nb, nb + 40 * DAY, 0.8, 30, 5, &due), 0);
        assert_int_equal(due, nb + 5 * DAY);
        /* a fraction rounds down to the second */
        assert_int_equal(ob_health_rotation_due(0, 3, 0.5, 0, 0, &due), 0);
        assert_int_equal(due, 1);
        /* before 1970 and after 2038 */
        assert_int_equal(ob_health_rotation_due(-100 * DAY, 4102444800LL, 0.99, 0, 0, &due), 0);
        assert_true(due > 4000000000LL && due < 4102444800LL);

        due = 7;
        assert_int_equal(ob_health_rotation_due(nb, nb, 0.8, 30, 365, &due), -EINVAL);
        assert_int_equal(ob_health_rotation_due(nb, nb - 1, 0.8, 30, 365, &due), -EINVAL);
        assert_int_equal(ob_health_rotation_due(nb, nb + DAY, 0.0, 30, 365, &due), -EINVAL);
        assert_int_equal(ob_health_rotation_due(nb, nb + DAY, 1.0, 30, 365, &due), -EINVAL);
        assert_int_equal(due, 7);
}

static void test_cert_validity(void **state)
{
        const int64_t nb = 1000, na = 2000, due = 1800;

        (void)state;
        assert_int_equal(ob_health_cert_validity(999, nb, na, due), OB_HEALTH_FAIL);
        assert_int_equal(ob_health_cert_validity(1000, nb, na, due), OB_HEALTH_PASS);
        assert_int_equal(ob_health_cert_validity(1799, nb, na, due), OB_HEALTH_PASS);
        assert_int_equal(ob_health_cert_validity(1800, nb, na, due), OB_HEALTH_WARN);
        assert_int_equal(ob_health_cert_validity(1999, nb, na, due), OB_HEALTH_WARN);
        assert_int_equal(ob_health_cert_validity(2000, nb, na, due), OB_HEALTH_FAIL);
}

/* TLS 1.2's gmt_unix_time counts only when it can be a time: inside the server certificate's
 * validity and within a day of the local clock */
static void test_server_time(void **state)
{
        const int64_t nb = 1700000000, na = nb + 400 * 86400, now = nb + 100 * 86400;

        (void)state;
        assert_int_equal(ob_health_server_time((uint32_t)now, nb, na, now), now);
        assert_int_equal(ob_health_server_time((uint32_t)(now - 3600), nb, na, now), now - 3600);
        assert_int_equal(ob_health_server_time((uint32_t)(now + 86400), nb, na, now), now + 86400);
        /* random bytes: a day and a second off, before the certificate, after it */
        assert_int_equal(ob_health_server_time((uint32_t)(now + 86401), nb, na, now), -1);
        assert_int_equal(ob_health_server_time((uint32_t)(now - 86401), nb, na, now), -1);
        assert_int_equal(ob_health_server_time(0x12345678, nb, na, now), -1);
        assert_int_equal(ob_health_server_time((uint32_t)(nb - 1), nb, na, nb + 10), -1);
        assert_int_equal(ob_health_server_time((uint32_t)na, nb, na, na - 10), -1);
        assert_int_equal(OB_HEALTH_CLOCK_OFFSET_WARN_S, 60);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),         cmocka_unit_test(test_worst),
                cmocka_unit_test(test_exit_codes),    cmocka_unit_test(test_rotation_due),
                cmocka_unit_test(test_cert_validity), cmocka_unit_test(test_server_time),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
