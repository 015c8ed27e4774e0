/* SPDX-License-Identifier: Apache-2.0 */
/* The emulator's control-plane registry commands (tests/emulator/admin-cmds.c): AWS's rules for
 * what may change, the exception each refusal names, and an unchanged registry on refusal. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "admin-cmds.h"

#define CERT "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NOW  1700000000

static json_object *registry(void)
{
        return json_tokener_parse(
                "{\"certificates\": {\"" CERT "\": {\"status\": \"ACTIVE\", \"policies\": [],"
                " \"things\": []}},"
                " \"things\": {\"t1\": {\"attributes\": {\"a\": \"1\"}}},"
                " \"policies\": {\"P\": {\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\":"
                " \"Allow\", \"Action\": \"iot:Connect\", \"Resource\": \"*\"}]}},"
                " \"templates\": {}, \"cas\": {}, \"tokens\": {\"tok\": {\"certificateId\": \"" CERT
                "\"}}}");
}

/* Run a command given as JSON text; *ret_res gets the answer (caller puts it). */
static int cmd(json_object *reg, const char *text, json_object **ret_res)
{
        json_object *c = json_tokener_parse(text), *res = json_object_new_object();
        const char *err = NULL;
        int r;

        assert_non_null(c);
        r = ob_emu_admin_cmd(reg, c, NOW, res, &err);
        if (r < 0)
                assert_non_null(err);
        json_object_put(c);
        if (ret_res)
                *ret_res = res;
        else
                json_object_put(res);
        return r;
}

/* The command fails with AWS exception `code` and leaves the registry as it was. */
static void refused(json_object *reg, const char *text, const char *code)
{
        json_object *before = json_tokener_parse(json_object_to_json_string(reg)), *res, *v;

        assert_true(cmd(reg, text, &res) < 0);
        assert_true(json_object_object_get_ex(res, "errorCode", &v));
        assert_string_equal(json_object_get_string(v), code);
        assert_true(json_object_object_get_ex(res, "message", &v));
        assert_true(json_object_get_string_len(v) > 0);
        assert_true(json_object_equal(before, reg));
        json_object_put(res);
        json_object_put(before);
}

static json_object *at(json_object *o, const char *a, const char *b)
{
        json_object *x = NULL, *y = NULL;

        if (!json_object_object_get_ex(o, a, &x))
                return NULL;
        if (!b)
                return x;
        return json_object_object_get_ex(x, b, &y) ? y : NULL;
}

static void test_unknown_op_is_not_ours(void **state)
{
        json_object *reg = registry(), *before = registry();
        (void)state;
        assert_int_equal(cmd(reg, "{\"op\": \"set-cert-status\"}", NULL), 0);
        assert_true(json_object_equal(before, reg));
        json_object_put(reg);
        json_object_put(before);
}

static void test_create_thing_idempotent_or_conflict(void **state)
{
        json_object *reg = registry(), *res;
        (void)state;
        assert_int_equal(cmd(reg, "{\"op\": \"create-thing\", \"thingName\": \"t2\"}", NULL), 1);
        assert_int_equal(json_object_get_int64(at(at(reg, "things", "t2"), "version", NULL)), 1);
        assert_int_equal(json_object_get_int64(at(at(reg, "things", "t2"), "creationDate", NULL)),
                         NOW);
        /* same name and configuration: succeeds (AWS: "the call will succeed") */
        assert_int_equal(cmd(reg,
                             "{\"op\": \"create-thing\", \"thingName\": \"t1\","
                             " \"attributes\": {\"a\": \"1\"}}",
                             &res),
                         1);
        assert_true(json_object_get_boolean(at(res, "existed", NULL)));
        json_object_put(res);
        refused(reg,
                "{\"op\": \"create-thing\", \"thingName\": \"t1\", \"attributes\": {\"a\": \"2\"}}",
                "ResourceAlreadyExistsException");
        refused(reg, "{\"op\": \"create-thing\"}", "InvalidRequestException");
        json_object_put(reg);
}

static void test_thing_principals_and_delete_thing(void **state)
{
        json_object *reg = registry();
        (void)state;
        refused(reg,
                "{\"op\": \"attach-thing-principal\", \"thingName\": \"nope\", \"certificateId\": "
                "\"" CERT "\"}",
                "ResourceNotFoundException");
        refused(reg,
                "{\"op\": \"attach-thing-principal\", \"thingName\": \"t1\", \"certificateId\": "
                "\"ff\"}",
                "ResourceNotFoundException");
        assert_int_equal(cmd(reg,
                             "{\"op\": \"attach-thing-principal\", \"thingName\": \"t1\","
                             " \"certificateId\": \"" CERT "\"}",
                             NULL),
                         1);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(
                                    at(at(reg, "certificates", CERT), "things", NULL), 0)),
                            "t1");
        refused(reg, "{\"op\": \"delete-thing\", \"thingName\": \"t1\"}",
                "InvalidRequestException");
        refused(reg, "{\"op\": \"delete-thing\", \"thingName\": \"t1\", \"expectedVersion\": 7}",
                "VersionConflictException");
        assert_int_equal(cmd(reg,
                             "{\"op\": \"detach-thing-principal\", \"thingName\": \"t1\","
                             " \"certificateId\": \"" CERT "\"}",
                             NULL),
                         1);
        assert_int_equal(cmd(reg, "{\"op\": \"delete-thing\", \"thingName\": \"t1\"}", NULL), 1);
        assert_null(at(reg, "things", "t1"));
        /* AWS: deleting a thing that does not exist succeeds */
        assert_int_equal(cmd(reg, "{\"op\": \"delete-thing\", \"thingName\": \"t1\"}", NULL), 1);
        json_object_put(reg);
}

static void test_delete_certificate_rules(void **state)
{
        json_object *reg = registry();
        json_object *c = at(reg, "certificates", CERT);
        (void)state;
        refused(reg, "{\"op\": \"delete-certificate\", \"certificateId\": \"" CERT "\"}",
                "CertificateStateException");
        json_object_object_add(c, "status", json_object_new_string("INACTIVE"));
        json_object_array_add(at(c, "things", NULL), json_object_new_string("t1"));
        refused(reg,
                "{\"op\": \"delete-certificate\", \"certificateId\": \"" CERT
                "\", \"forceDelete\": true}",
                "DeleteConflictException");
        json_object_array_del_idx(at(c, "things", NULL), 0, 1);
        json_object_array_add(at(c, "policies", NULL), json_object_new_string("P"));
        refused(reg, "{\"op\": \"delete-certificate\", \"certificateId\": \"" CERT "\"}",
                "DeleteConflictException");
        /* forceDelete: "if it is inactive and is not attached to an IoT thing" */
        assert_int_equal(cmd(reg,
                             "{\"op\": \"delete-certificate\", \"certificateId\": \"" CERT
                             "\", \"forceDelete\": true}",
                             NULL),
                         1);
        assert_null(at(reg, "certificates", CERT));
        assert_null(at(reg, "tokens", "tok"));
        refused(reg, "{\"op\": \"delete-certificate\", \"certificateId\": \"" CERT "\"}",
                "ResourceNotFoundException");
        json_object_put(reg);
}

static void test_policies(void **state)
{
        json_object *reg = registry();
        (void)state;
        refused(reg, "{\"op\": \"create-policy\", \"name\": \"Q\", \"document\": {\"Version\": 1}}",
                "MalformedPolicyException");
        refused(reg,
                "{\"op\": \"create-policy\", \"name\": \"P\", \"document\": {\"Version\": "
                "\"2012-10-17\", \"Statement\": []}}",
                "ResourceAlreadyExistsException");
        assert_int_equal(cmd(reg,
                             "{\"op\": \"create-policy\", \"name\": \"Q\", \"document\": "
                             "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": "
                             "\"Allow\", \"Action\": \"iot:*\", \"Resource\": \"*\"}]}}",
                             NULL),
                         1);
        json_object_array_add(at(at(reg, "certificates", CERT), "policies", NULL),
                              json_object_new_string("Q"));
        refused(reg, "{\"op\": \"delete-policy\", \"name\": \"Q\"}", "DeleteConflictException");
        refused(reg,
                "{\"op\": \"detach-policy\", \"certificateId\": \"" CERT "\", \"policy\": \"X\"}",
                "ResourceNotFoundException");
        assert_int_equal(cmd(reg,
                             "{\"op\": \"detach-policy\", \"certificateId\": \"" CERT
                             "\", \"policy\": \"Q\"}",
                             NULL),
                         1);
        assert_int_equal(cmd(reg, "{\"op\": \"delete-policy\", \"name\": \"Q\"}", NULL), 1);
        assert_null(at(reg, "policies", "Q"));
        json_object_put(reg);
}

static void test_templates(void **state)
{
        json_object *reg = registry(), *t;
        (void)state;
        refused(reg, "{\"op\": \"create-template\", \"name\": \"T\", \"body\": \"{not json\"}",
                "InvalidRequestException");
        assert_int_equal(cmd(reg,
                             "{\"op\": \"create-template\", \"name\": \"T\", \"body\": "
                             "\"{\\\"Resources\\\": {}}\", \"type\": \"FLEET_PROVISIONING\","
                             " \"preProvisioningHook\": \"/x/hook\"}",
                             NULL),
                         1);
        t = at(reg, "templates", "T");
        /* AWS: a template is disabled unless created with enabled = true */
        assert_false(json_object_get_boolean(at(t, "enabled", NULL)));
        assert_true(json_object_is_type(at(t, "body", NULL), json_type_object));
        assert_int_equal(json_object_get_int64(at(t, "creationDate", NULL)), NOW);
        refused(reg, "{\"op\": \"create-template\", \"name\": \"T\", \"body\": {}}",
                "ResourceAlreadyExistsException");
        assert_int_equal(cmd(reg,
                             "{\"op\": \"update-template\", \"name\": \"T\", \"enabled\": true,"
                             " \"preProvisioningHook\": null}",
                             NULL),
                         1);
        assert_true(json_object_get_boolean(at(t, "enabled", NULL)));
        assert_null(at(t, "preProvisioningHook", NULL));
        refused(reg, "{\"op\": \"update-template\", \"name\": \"U\"}", "ResourceNotFoundException");
        json_object_object_add(at(reg, "cas", NULL), "ca1",
                               json_tokener_parse("{\"template\": \"T\"}"));
        refused(reg, "{\"op\": \"delete-template\", \"name\": \"T\"}", "DeleteConflictException");
        json_object_object_del(at(reg, "cas", NULL), "ca1");
        assert_int_equal(cmd(reg, "{\"op\": \"delete-template\", \"name\": \"T\"}", NULL), 1);
        assert_null(at(reg, "templates", "T"));
        json_object_put(reg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unknown_op_is_not_ours),
                cmocka_unit_test(test_create_thing_idempotent_or_conflict),
                cmocka_unit_test(test_thing_principals_and_delete_thing),
                cmocka_unit_test(test_delete_certificate_rules),
                cmocka_unit_test(test_policies),
                cmocka_unit_test(test_templates),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
