/* SPDX-License-Identifier: Apache-2.0 */
/* Who gets a control-socket connection (agent/control-limits.c). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control-limits.h"

static void test_defaults(void **state)
{
        ObControlLimits l = ob_control_limits_default();

        (void)state;
        assert_int_equal(l.max_clients, 16);
        assert_int_equal(l.root_reserved, 4);
        assert_int_equal(l.per_uid, 4);
}

static void test_one_member_floods(void **state)
{
        ObControlLimits l = ob_control_limits_default();
        const char *why = NULL;
        unsigned n = 0;

        (void)state;
        /* a member opens as many as it can: it gets its share and no more */
        while (ob_control_limits_admit(&l, 1000, n, n, &why) == 0)
                n++;
        assert_int_equal(n, l.per_uid);
        assert_non_null(strstr(why, "one user"));
        /* root still gets every other connection */
        for (unsigned i = n; i < l.max_clients; i++)
                assert_int_equal(ob_control_limits_admit(&l, 0, i, i - n, NULL), 0);
        assert_int_equal(ob_control_limits_admit(&l, 0, l.max_clients, 12, &why), -EBUSY);
        assert_non_null(strstr(why, "all control connections"));
}

static void test_members_never_take_roots_reserve(void **state)
{
        ObControlLimits l = ob_control_limits_default();
        const char *why = NULL;
        unsigned n = 0;

        (void)state;
        /* many members, each within its share: together they stop at max - reserved */
        for (uid_t uid = 1000; uid < 1100; uid++)
                for (unsigned k = 0; k < l.per_uid; k++)
                        if (ob_control_limits_admit(&l, uid, n, k, &why) == 0)
                                n++;
        assert_int_equal(n, l.max_clients - l.root_reserved);
        assert_non_null(strstr(why, "kept for root"));
        for (unsigned i = 0; i < l.root_reserved; i++)
                assert_int_equal(ob_control_limits_admit(&l, 0, n + i, i, &why), 0);
        assert_int_equal(ob_control_limits_admit(&l, 0, l.max_clients, 4, &why), -EBUSY);
        /* a member whose share is free is still refused: the rest is root's */
        assert_int_equal(ob_control_limits_admit(&l, 2000, n, 0, &why), -EBUSY);
}

static void test_no_reserve_and_tiny_limits(void **state)
{
        ObControlLimits l = {.max_clients = 2, .root_reserved = 0, .per_uid = 1};
        ObControlLimits all_root = {.max_clients = 2, .root_reserved = 5, .per_uid = 1};

        (void)state;
        assert_int_equal(ob_control_limits_admit(&l, 5, 0, 0, NULL), 0);
        assert_int_equal(ob_control_limits_admit(&l, 5, 1, 1, NULL), -EBUSY);
        assert_int_equal(ob_control_limits_admit(&l, 6, 1, 0, NULL), 0);
        assert_int_equal(ob_control_limits_admit(&l, 0, 2, 0, NULL), -EBUSY);
        /* a reserve larger than the total: only root */
        assert_int_equal(ob_control_limits_admit(&all_root, 5, 0, 0, NULL), -EBUSY);
        assert_int_equal(ob_control_limits_admit(&all_root, 0, 1, 1, NULL), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_one_member_floods),
                cmocka_unit_test(test_members_never_take_roots_reserve),
                cmocka_unit_test(test_no_reserve_and_tiny_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
