/* SPDX-License-Identifier: Apache-2.0 */
/* What the agent reports in its named shadow (lib/shadow-report.c). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "shadow-report.h"

static const char *str(json_object *o, const char *key)
{
        json_object *v = NULL;

        return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

static bool is_null(json_object *o, const char *key)
{
        json_object *v = (json_object *)1;

        return json_object_object_get_ex(o, key, &v) && v == NULL;
}

static void test_onboarded(void **state)
{
        json_object *st = json_tokener_parse(
                "{\"state\":\"onboarded\",\"method\":\"fleet-claim\",\"thing_name\":\"ob-SN1\","
                "\"certificate_id\":\"ab12\",\"certificate_not_after\":\"2049-12-31T23:59:59Z\","
                "\"next_rotation\":\"2049-06-01T00:00:00Z\",\"generation\":3,\"last_error\":null,"
                "\"serial\":\"SN1\",\"attempts\":0}");
        ObShadowReportInfo info = {
                .agent_version = "1.4.0", .tpm_manufacturer = "IBM", .tpm_firmware = "8217.4131"};
        json_object *r, *req, *v;

        (void)state;
        r = ob_shadow_report_reported(st, &info);
        assert_non_null(r);
        assert_int_equal(json_object_get_int(json_object_object_get(r, "schema")), 1);
        assert_string_equal(str(r, "agent_version"), "1.4.0");
        assert_string_equal(str(r, "state"), "onboarded");
        assert_string_equal(str(r, "method"), "fleet-claim");
        assert_string_equal(str(r, "thing_name"), "ob-SN1");
        assert_string_equal(str(r, "certificate_not_after"), "2049-12-31T23:59:59Z");
        /* the same as a number, for fleet indexing's range queries (docs/shadow.md) */
        assert_int_equal(
                json_object_get_int64(json_object_object_get(r, "certificate_not_after_s")),
                2524607999LL);
        assert_int_equal(json_object_get_int(json_object_object_get(r, "generation")), 3);
        assert_true(is_null(r, "last_error"));
        assert_string_equal(str(json_object_object_get(r, "tpm"), "manufacturer"), "IBM");
        /* only what the issue names: no serial, no attempts (they change without meaning) */
        assert_false(json_object_object_get_ex(r, "serial", NULL));
        assert_false(json_object_object_get_ex(r, "attempts", NULL));

        req = ob_shadow_report_request(r);
        assert_true(json_object_object_get_ex(req, "state", &v));
        assert_true(json_object_object_get_ex(v, "reported", &v));
        assert_ptr_equal(v, r);
        json_object_put(req);
        json_object_put(r);
        json_object_put(st);
}

static void test_error_and_no_tpm(void **state)
{
        json_object *st = json_tokener_parse(
                "{\"state\":\"waiting-to-retry\",\"method\":\"jitr\",\"generation\":null,"
                "\"last_error\":{\"code\":\"certificate-revoked\",\"class\":\"refused\","
                "\"text\":\"a long text that is not reported\",\"time\":\"2026-12-05T22:00:00Z\"}}");
        ObShadowReportInfo info = {.agent_version = "1.4.0"};
        json_object *r, *e;

        (void)state;
        r = ob_shadow_report_reported(st, &info);
        assert_true(is_null(r, "generation"));
        assert_true(is_null(r, "thing_name"));
        assert_true(is_null(r, "tpm"));
        assert_true(is_null(r, "certificate_not_after_s")); /* no certificate: null */
        e = json_object_object_get(r, "last_error");
        assert_string_equal(str(e, "code"), "certificate-revoked");
        assert_string_equal(str(e, "class"), "refused");
        assert_string_equal(str(e, "time"), "2026-12-05T22:00:00Z");
        assert_false(json_object_object_get_ex(e, "text", NULL));
        json_object_put(r);
        json_object_put(st);
}

/* The worst case fits in 1 KiB: every string at (beyond) its longest, cut to its bound. */
static void test_fits(void **state)
{
        char big[600], json[8192];
        ObShadowReportInfo info;
        json_object *st, *r, *req;
        size_t n;

        (void)state;
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        n = (size_t)snprintf(
                json, sizeof(json),
                "{\"state\":\"%s\",\"method\":\"%s\",\"thing_name\":\"%s\",\"certificate_id\":"
                "\"%s\",\"certificate_not_after\":\"%s\",\"next_rotation\":\"%s\","
                "\"generation\":18446744073709551615,\"last_error\":{\"code\":\"%s\","
                "\"class\":\"%s\",\"time\":\"%s\"}}",
                big, big, big, big, big, big, big, big, big);
        assert_true(n < sizeof(json));
        st = json_tokener_parse(json);
        assert_non_null(st);
        info = (ObShadowReportInfo){big, big, big};
        r = ob_shadow_report_reported(st, &info);
        req = ob_shadow_report_request(r);
        n = strlen(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
        if (n >= OB_SHADOW_REPORT_MAX)
                fail_msg("the worst-case request is %zu bytes", n);
        print_message("worst-case request: %zu bytes\n", n);
        /* a multi-byte character is never cut in half */
        json_object_put(req);
        json_object_put(r);
        json_object_put(st);
        st = json_tokener_parse("{\"thing_name\":\"" /* 127 x + a 2-byte character */
                                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                "\xc3\xa9\"}");
        assert_non_null(st);
        r = ob_shadow_report_reported(st, NULL);
        assert_int_equal(strlen(str(r, "thing_name")), 127);
        json_object_put(r);
        json_object_put(st);
}

static void test_changed(void **state)
{
        json_object *a = json_tokener_parse("{\"state\":\"onboarded\",\"generation\":2}");
        json_object *b = json_tokener_parse("{\"generation\":2,\"state\":\"onboarded\"}");
        json_object *c = json_tokener_parse("{\"state\":\"onboarded\",\"generation\":3}");

        (void)state;
        assert_true(ob_shadow_report_changed(a, NULL));
        assert_false(ob_shadow_report_changed(a, b)); /* member order does not matter */
        assert_true(ob_shadow_report_changed(c, a));
        json_object_put(a);
        json_object_put(b);
        json_object_put(c);
}

static void test_topic(void **state)
{
        char buf[128];

        (void)state;
        assert_int_equal(ob_shadow_topic(buf, sizeof(buf), "ob-SN1", "update"), 0);
        assert_string_equal(buf, "$aws/things/ob-SN1/shadow/name/onboard-agent/update");
        assert_int_equal(ob_shadow_topic(buf, sizeof(buf), "ob-SN1", "update/accepted"), 0);
        assert_int_equal(ob_shadow_topic(buf, sizeof(buf), "a/b", "update"), -EINVAL);
        assert_int_equal(ob_shadow_topic(buf, sizeof(buf), "a+", "update"), -EINVAL);
        assert_int_equal(ob_shadow_topic(buf, sizeof(buf), "", "update"), -EINVAL);
        assert_int_equal(ob_shadow_topic(buf, sizeof(buf), "x", "#"), -EINVAL);
        assert_int_equal(ob_shadow_topic(buf, 20, "ob-SN1", "update"), -ENAMETOOLONG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_onboarded), cmocka_unit_test(test_error_and_no_tpm),
                cmocka_unit_test(test_fits),      cmocka_unit_test(test_changed),
                cmocka_unit_test(test_topic),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
