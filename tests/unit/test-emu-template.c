/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "template.h"

static int run(const char *tmpl, const char *params, ObEmuTemplateResult *r, char **err)
{
        json_object *t = json_tokener_parse(tmpl), *p = json_tokener_parse(params);
        int k;

        assert_non_null(t);
        assert_non_null(p);
        k = ob_emu_template_run(t, p, r, err);
        json_object_put(t);
        json_object_put(p);
        return k;
}

static const char fleet[] =
        "{\"Parameters\":{\"SerialNumber\":{\"Type\":\"String\"},"
        "\"Model\":{\"Type\":\"String\",\"Default\":\"m1\"},"
        "\"AWS::IoT::Certificate::Id\":{\"Type\":\"String\"}},"
        "\"Mappings\":{\"Models\":{\"m1\":{\"fw\":\"1.2\"},\"m2\":{\"fw\":\"2.0\"}}},"
        "\"Resources\":{"
        "\"thing\":{\"Type\":\"AWS::IoT::Thing\",\"Properties\":{"
        "\"ThingName\":{\"Fn::Join\":[\"\",[\"dev_\",{\"Ref\":\"SerialNumber\"}]]},"
        "\"AttributePayload\":{\"model\":{\"Ref\":\"Model\"}}},"
        "\"OverrideSettings\":{\"AttributePayload\":\"MERGE\"}},"
        "\"cert\":{\"Type\":\"AWS::IoT::Certificate\",\"Properties\":{"
        "\"CertificateId\":{\"Ref\":\"AWS::IoT::Certificate::Id\"},\"Status\":\"Active\"}},"
        "\"policy\":{\"Type\":\"AWS::IoT::Policy\",\"Properties\":{\"PolicyDocument\":"
        "\"{\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":\\\"iot:*\\\","
        "\\\"Resource\\\":\\\"*\\\"}]}\"}}},"
        "\"DeviceConfiguration\":{\"fw\":{\"Fn::FindInMap\":[\"Models\",{\"Ref\":\"Model\"},"
        "\"fw\"]},\"region\":{\"Fn::Select\":[1,{\"Fn::Split\":[\"-\",\"eu-west-1\"]}]},"
        "\"greeting\":{\"Fn::Sub\":\"hi ${SerialNumber}\"}}}";

static void test_fleet_template(void **state)
{
        ObEmuTemplateResult r = {};
        char *err = NULL;
        (void)state;

        assert_int_equal(run(fleet,
                             "{\"SerialNumber\":\"42\",\"AWS::IoT::Certificate::Id\":\"abc\","
                             "\"Unused\":\"x\"}",
                             &r, &err),
                         0);
        assert_null(err);
        assert_string_equal(r.thing_name, "dev_42");
        assert_string_equal(
                json_object_get_string(json_object_object_get(r.thing_attributes, "model")), "m1");
        assert_string_equal(r.certificate_id, "abc");
        assert_string_equal(r.certificate_status, "ACTIVE"); /* "Active" accepted */
        assert_int_equal(r.n_policies, 1);
        assert_null(r.policies[0].name);
        assert_non_null(json_object_object_get(r.policies[0].document, "Statement"));
        assert_string_equal(
                json_object_get_string(json_object_object_get(r.device_configuration, "fw")),
                "1.2");
        assert_string_equal(
                json_object_get_string(json_object_object_get(r.device_configuration, "region")),
                "west");
        assert_string_equal(
                json_object_get_string(json_object_object_get(r.device_configuration, "greeting")),
                "hi 42");
        ob_emu_template_result_done(&r);
}

static void test_default_overridden(void **state)
{
        ObEmuTemplateResult r = {};
        char *err = NULL;
        (void)state;
        assert_int_equal(run(fleet,
                             "{\"SerialNumber\":\"1\",\"Model\":\"m2\","
                             "\"AWS::IoT::Certificate::Id\":\"abc\"}",
                             &r, &err),
                         0);
        assert_string_equal(
                json_object_get_string(json_object_object_get(r.device_configuration, "fw")),
                "2.0");
        ob_emu_template_result_done(&r);
}

static void expect_error(const char *tmpl, const char *params, const char *needle)
{
        ObEmuTemplateResult r = {};
        char *err = NULL;

        assert_int_equal(run(tmpl, params, &r, &err), -EINVAL);
        assert_non_null(err);
        if (!strstr(err, needle))
                fail_msg("error '%s' lacks '%s'", err, needle);
        assert_null(r.thing_name);
        free(err);
}

static void test_errors(void **state)
{
        (void)state;
        expect_error(fleet, "{\"AWS::IoT::Certificate::Id\":\"abc\"}", "SerialNumber");
        expect_error("{\"Resources\":{\"t\":{\"Type\":\"AWS::IoT::Thing\",\"Properties\":"
                     "{\"ThingName\":{\"Ref\":\"Nope\"}}}}}",
                     "{}", "Nope");
        expect_error("{\"Resources\":{\"t\":{\"Type\":\"AWS::S3::Bucket\",\"Properties\":{}}}}",
                     "{}", "unsupported");
        expect_error("{\"Parameters\":{\"L\":{\"Type\":\"String\",\"Default\":\"a\"}},"
                     "\"Resources\":{\"t\":{\"Type\":\"AWS::IoT::Thing\",\"Properties\":"
                     "{\"ThingName\":{\"Fn::Select\":[5,{\"Fn::Split\":[\",\",{\"Ref\":\"L\"}]}]}}"
                     "}}}",
                     "{}", "out of range");
        expect_error("{\"Resources\":{\"p\":{\"Type\":\"AWS::IoT::Policy\",\"Properties\":"
                     "{\"PolicyName\":\"a\",\"PolicyDocument\":{}}}}}",
                     "{}", "exactly one");
        expect_error("{\"Resources\":{\"c\":{\"Type\":\"AWS::IoT::Certificate\",\"Properties\":"
                     "{\"CertificateId\":\"x\",\"Status\":\"REVOKED\"}}}}",
                     "{}", "Status");
        expect_error("{\"Resources\":{},\"DeviceConfiguration\":{\"a\":{\"b\":\"c\"}}}", "{}",
                     "nested");
        expect_error("{\"Resources\":{\"t\":{\"Type\":\"AWS::IoT::Thing\",\"Properties\":"
                     "{\"ThingName\":{\"Fn::Sub\":\"${x\"}}}}}",
                     "{}", "unterminated");
        expect_error("{\"Parameters\":{}}", "{}", "Resources");
        /* a Type that is not a string (null crashed the engine: found by fuzz-emu-template) */
        expect_error("{\"Resources\":{\"t\":{\"Type\":null,\"Properties\":{}}}}", "{}", "no Type");
        expect_error("{\"Resources\":{\"t\":{\"Type\":[\"AWS::IoT::Thing\"],\"Properties\":{}}}}",
                     "{}", "no Type");
        /* a parameter's Type that is not a string (null: strcmp(NULL), found by the CI fuzz run) */
        expect_error("{\"Parameters\":{\"SerialNumber\":{\"Type\":null}},\"Resources\":{}}",
                     "{\"SerialNumber\":\"42\"}", "only Type String");
}

static void test_deep_nesting_does_not_crash(void **state)
{
        json_object *v = json_object_new_string("x"), *t, *dc, *res, *params;
        ObEmuTemplateResult r = {};
        char *err = NULL;
        (void)state;

        /* Built with the API: json-c's parser itself stops at depth 32. */
        for (int i = 0; i < 100; i++) {
                json_object *list = json_object_new_array(), *args = json_object_new_array();
                json_object_array_add(list, v);
                json_object_array_add(args, json_object_new_int(0));
                json_object_array_add(args, list);
                v = json_object_new_object();
                json_object_object_add(v, "Fn::Select", args);
        }
        t = json_object_new_object();
        dc = json_object_new_object();
        res = json_object_new_object();
        params = json_object_new_object();
        json_object_object_add(dc, "a", v);
        json_object_object_add(t, "Resources", res);
        json_object_object_add(t, "DeviceConfiguration", dc);
        assert_int_equal(ob_emu_template_run(t, params, &r, &err), -EINVAL);
        assert_non_null(strstr(err, "deeply"));
        free(err);
        json_object_put(t);
        json_object_put(params);
}

static void test_parse_string_body(void **state)
{
        json_object *s = json_object_new_string("{\"Resources\":{}}"), *t;
        json_object *bad = json_object_new_string("[1]");
        (void)state;
        t = ob_emu_template_parse(s);
        assert_non_null(t);
        assert_null(ob_emu_template_parse(bad));
        json_object_put(t);
        json_object_put(s);
        json_object_put(bad);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fleet_template),
                cmocka_unit_test(test_default_overridden),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_deep_nesting_does_not_crash),
                cmocka_unit_test(test_parse_string_body),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
