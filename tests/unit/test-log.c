/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

struct captured {
        int calls;
        ObLogLevel level;
        char message[256];
        char message_id[64];
        char field0[64];
};

static void capture_sink(ObLogLevel level, const char *message_id, const char *const *fields,
                         const char *message, void *userdata)
{
        struct captured *c = userdata;
        c->calls++;
        c->level = level;
        snprintf(c->message, sizeof(c->message), "%s", message);
        snprintf(c->message_id, sizeof(c->message_id), "%s", message_id ? message_id : "");
        snprintf(c->field0, sizeof(c->field0), "%s", fields && fields[0] ? fields[0] : "");
}

static int setup(void **state)
{
        static struct captured c;
        memset(&c, 0, sizeof(c));
        ob_log_set_sink(capture_sink, &c);
        ob_log_set_max_level(OB_LOG_INFO);
        *state = &c;
        return 0;
}

static int teardown(void **state)
{
        ob_log_set_sink(NULL, NULL);
        return 0;
}

static void test_level_strings(void **state)
{
        ObLogLevel l;
        assert_int_equal(ob_log_level_from_string("debug", &l), 0);
        assert_int_equal(l, OB_LOG_DEBUG);
        assert_int_equal(ob_log_level_from_string("warning", &l), 0);
        assert_int_equal(l, OB_LOG_WARNING);
        assert_int_equal(ob_log_level_from_string("loud", &l), -EINVAL);
        assert_int_equal(ob_log_level_from_string(NULL, &l), -EINVAL);
        assert_string_equal(ob_log_level_to_string(OB_LOG_NOTICE), "notice");
        assert_string_equal(ob_log_level_to_string((ObLogLevel)42), "unknown");
}

static void test_filter_by_level(void **state)
{
        struct captured *c = *state;
        ob_log_debug("hidden %d", 1);
        assert_int_equal(c->calls, 0);
        ob_log_info("shown %d", 2);
        assert_int_equal(c->calls, 1);
        assert_string_equal(c->message, "shown 2");
        assert_int_equal(c->level, OB_LOG_INFO);
        ob_log_set_max_level(OB_LOG_DEBUG);
        ob_log_debug("now shown");
        assert_int_equal(c->calls, 2);
}

static void test_errno_return_and_suffix(void **state)
{
        struct captured *c = *state;
        assert_int_equal(ob_log_error_errno(ENOENT, "open %s", "x"), -ENOENT);
        assert_string_equal(c->message, "open x: No such file or directory");
        /* positive or negative error both give a negative return */
        assert_int_equal(ob_log_error_errno(-EACCES, "denied"), -EACCES);
        assert_int_equal(ob_log_error("plain"), 0);
        /* a filtered message still returns the error */
        assert_int_equal(ob_log_debug_errno(EIO, "quiet"), -EIO);
}

static void test_structured(void **state)
{
        struct captured *c = *state;
        const char *fields[] = {"OB_THING=gw-1", NULL};
        ob_log_full(OB_LOG_NOTICE, 0, "0123456789abcdef0123456789abcdef", fields, "done");
        assert_string_equal(c->message_id, "0123456789abcdef0123456789abcdef");
        assert_string_equal(c->field0, "OB_THING=gw-1");
}

static void test_control_characters_escaped(void **state)
{
        struct captured *c = *state;

        /* a name from the cloud with a newline cannot forge a second log line */
        ob_log_notice("registered as thing %s", "gw\nerror: forged");
        assert_string_equal(c->message, "registered as thing gw\\nerror: forged");
        ob_log_notice("a\rb\x1b[31mc\x7f\td");
        assert_string_equal(c->message, "a\\rb\\x1b[31mc\\x7f\td");
        ob_log_notice("plain text, a tab\tstays");
        assert_string_equal(c->message, "plain text, a tab\tstays");
}

static void test_errno_preserved(void **state)
{
        errno = EPIPE;
        ob_log_info("x");
        assert_int_equal(errno, EPIPE);
}

static void test_secret_free(void **state)
{
        char *s = strdup("secret");
        assert_non_null(s);
        assert_null(ob_secret_free(s));
        assert_null(ob_secret_free(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_level_strings, setup, teardown),
                cmocka_unit_test_setup_teardown(test_filter_by_level, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errno_return_and_suffix, setup, teardown),
                cmocka_unit_test_setup_teardown(test_structured, setup, teardown),
                cmocka_unit_test_setup_teardown(test_control_characters_escaped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errno_preserved, setup, teardown),
                cmocka_unit_test_setup_teardown(test_secret_free, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
