/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whom configuration files and folders may belong to (lib/config-trust): OpenSSH's StrictModes
 * rule, decided from owner and mode alone.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config-trust.h"

static const char *judge(uid_t owner, mode_t mode, bool dir, uid_t self)
{
        static char buf[96];

        return ob_config_trust_problem(owner, mode, dir, self, buf, sizeof(buf));
}

static void test_trusted(void **state)
{
        (void)state;
        assert_null(judge(0, 0644, false, 0));       /* the packaged config */
        assert_null(judge(0, 0640, false, 997));     /* root's file, read by the agent's user */
        assert_null(judge(997, 0600, false, 997));   /* the agent's own */
        assert_null(judge(0, 0750, true, 0));        /* /etc/onboard-agent */
        assert_null(judge(0, 01777, true, 0));       /* /tmp: others cannot replace root's files */
        assert_null(judge(1000, 0644, false, 1000)); /* a developer's own files */
}

static void test_refused(void **state)
{
        (void)state;
        /* the attack of issue 19: a user's 0666 drop-in in a world-writable config.d */
        assert_non_null(strstr(judge(1000, 0666, false, 0), "owned by uid 1000, not root"));
        assert_non_null(
                strstr(judge(0, 0666, false, 0), "writable by group and others (mode 0666)"));
        assert_non_null(strstr(judge(0, 0664, false, 0), "writable by group (mode 0664)"));
        assert_non_null(strstr(judge(0, 0646, false, 0), "writable by others (mode 0646)"));
        assert_non_null(strstr(judge(0, 0777, true, 0), "writable by group and others"));
        /* a sticky folder is not enough for a file */
        assert_non_null(judge(0, 01666, false, 0));
        /* the reader's own uid is trusted, another non-root uid is not */
        assert_non_null(strstr(judge(1001, 0644, false, 1000), "not root or this user"));
        assert_non_null(judge(1000, 0755, true, 0));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_trusted),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
