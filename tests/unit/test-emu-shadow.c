/* SPDX-License-Identifier: Apache-2.0 */
/* The emulator's shadow documents (tests/emulator/shadow.c) against AWS's documented shapes. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "shadow.h"

#define T0 1796600000

/* The value at a dotted path ("state.reported.a"), NULL when absent. */
static json_object *at(json_object *o, const char *path)
{
        char buf[256], *save = NULL;

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
                if (!json_object_object_get_ex(o, k, &o))
                        return NULL;
        return o;
}

static int64_t int_at(json_object *o, const char *path)
{
        json_object *v = at(o, path);

        if (!v)
                fail_msg("no %s in %s", path, json_object_to_json_string(o));
        return json_object_get_int64(v);
}

static const char *str_at(json_object *o, const char *path)
{
        json_object *v = at(o, path);

        return v ? json_object_get_string(v) : NULL;
}

/* Update stored (taken over; the new stored document is returned) with payload: accepted. */
static json_object *update_ok(json_object *stored, const char *payload, int64_t now,
                              ObEmuShadowAnswer *a)
{
        json_object *s;

        if (ob_emu_shadow_update(stored, payload, strlen(payload), now, a) != 0)
                fail_msg("%s refused: %s", payload, json_object_to_json_string(a->accepted));
        s = json_object_get(a->stored);
        json_object_put(stored);
        return s;
}

static void update_fails(json_object *stored, const char *payload, int code, const char *msg)
{
        ObEmuShadowAnswer a;

        assert_int_equal(ob_emu_shadow_update(stored, payload, strlen(payload), T0, &a), code);
        assert_int_equal(int_at(a.accepted, "code"), code);
        if (!strstr(str_at(a.accepted, "message"), msg))
                fail_msg("%s: message %s, expected %s", payload, str_at(a.accepted, "message"),
                         msg);
        assert_int_equal(int_at(a.accepted, "timestamp"), T0);
        assert_null(a.stored);
        assert_null(a.documents);
        ob_emu_shadow_answer_clear(&a);
}

static void test_report_creates(void **state)
{
        ObEmuShadowAnswer a;
        json_object *s;

        (void)state;
        s = update_ok(NULL,
                      "{\"state\":{\"reported\":{\"state\":\"onboarded\",\"gen\":1}},"
                      "\"clientToken\":\"t1\"}",
                      T0, &a);
        assert_int_equal(int_at(a.accepted, "version"), 1);
        assert_int_equal(int_at(a.accepted, "timestamp"), T0);
        assert_string_equal(str_at(a.accepted, "clientToken"), "t1");
        assert_string_equal(str_at(a.accepted, "state.reported.state"), "onboarded");
        assert_int_equal(int_at(a.accepted, "metadata.reported.gen.timestamp"), T0);
        assert_null(at(a.documents, "previous"));
        assert_int_equal(int_at(a.documents, "current.version"), 1);
        assert_string_equal(str_at(a.documents, "clientToken"), "t1");
        assert_null(a.delta);
        assert_int_equal(int_at(s, "version"), 1);
        ob_emu_shadow_answer_clear(&a);

        /* a second report merges: members not sent stay, the version counts */
        s = update_ok(s, "{\"state\":{\"reported\":{\"gen\":2}}}", T0 + 5, &a);
        assert_int_equal(int_at(a.accepted, "version"), 2);
        assert_null(at(a.accepted, "clientToken"));
        assert_int_equal(int_at(a.documents, "previous.version"), 1);
        assert_int_equal(int_at(a.documents, "previous.state.reported.gen"), 1);
        assert_int_equal(int_at(a.documents, "current.state.reported.gen"), 2);
        assert_string_equal(str_at(s, "state.reported.state"), "onboarded");
        assert_int_equal(int_at(s, "metadata.reported.state.timestamp"), T0);
        assert_int_equal(int_at(s, "metadata.reported.gen.timestamp"), T0 + 5);
        ob_emu_shadow_answer_clear(&a);
        json_object_put(s);
}

static void test_desired_delta(void **state)
{
        ObEmuShadowAnswer a;
        json_object *s;

        (void)state;
        s = update_ok(NULL, "{\"state\":{\"reported\":{\"a\":1,\"b\":{\"x\":1,\"y\":2}}}}", T0, &a);
        ob_emu_shadow_answer_clear(&a);
        /* desired equal to reported: no delta */
        s = update_ok(s, "{\"state\":{\"desired\":{\"a\":1}}}", T0 + 1, &a);
        assert_null(a.delta);
        ob_emu_shadow_answer_clear(&a);
        s = update_ok(s, "{\"state\":{\"desired\":{\"b\":{\"x\":1,\"y\":3},\"c\":true}}}", T0 + 2,
                      &a);
        assert_non_null(a.delta);
        assert_int_equal(int_at(a.delta, "version"), 3);
        assert_int_equal(int_at(a.delta, "state.b.y"), 3);
        assert_null(at(a.delta, "state.b.x"));
        assert_null(at(a.delta, "state.a"));
        assert_true(json_object_get_boolean(at(a.delta, "state.c")));
        assert_int_equal(int_at(a.delta, "metadata.b.y.timestamp"), T0 + 2);
        ob_emu_shadow_answer_clear(&a);

        assert_int_equal(ob_emu_shadow_get(s, "{\"clientToken\":\"g\"}", 19, "th~n", T0 + 3, &a),
                         0);
        assert_int_equal(int_at(a.accepted, "state.delta.b.y"), 3);
        assert_int_equal(int_at(a.accepted, "state.reported.b.y"), 2);
        assert_int_equal(int_at(a.accepted, "version"), 3);
        assert_int_equal(int_at(a.accepted, "timestamp"), T0 + 3);
        assert_string_equal(str_at(a.accepted, "clientToken"), "g");
        ob_emu_shadow_answer_clear(&a);

        /* the device catches up: reported now matches, GET shows no delta */
        s = update_ok(s, "{\"state\":{\"reported\":{\"b\":{\"y\":3},\"c\":true}}}", T0 + 4, &a);
        assert_null(a.delta); /* a report never publishes a delta */
        ob_emu_shadow_answer_clear(&a);
        assert_int_equal(ob_emu_shadow_get(s, "", 0, "th~n", T0 + 5, &a), 0);
        assert_null(at(a.accepted, "state.delta"));
        ob_emu_shadow_answer_clear(&a);
        json_object_put(s);
}

static void test_null_deletes(void **state)
{
        ObEmuShadowAnswer a;
        json_object *s;

        (void)state;
        s = update_ok(NULL, "{\"state\":{\"reported\":{\"a\":1,\"b\":2},\"desired\":{\"a\":5}}}",
                      T0, &a);
        ob_emu_shadow_answer_clear(&a);
        s = update_ok(s, "{\"state\":{\"reported\":{\"a\":null}}}", T0 + 1, &a);
        assert_null(at(s, "state.reported.a"));
        assert_null(at(s, "metadata.reported.a"));
        assert_int_equal(int_at(s, "state.reported.b"), 2);
        ob_emu_shadow_answer_clear(&a);
        s = update_ok(s, "{\"state\":{\"desired\":null}}", T0 + 2, &a);
        assert_null(at(s, "state.desired"));
        assert_null(at(s, "metadata.desired"));
        ob_emu_shadow_answer_clear(&a);
        /* the last member gone: the section goes too */
        s = update_ok(s, "{\"state\":{\"reported\":{\"b\":null}}}", T0 + 3, &a);
        assert_null(at(s, "state.reported"));
        assert_int_equal(int_at(s, "version"), 4);
        ob_emu_shadow_answer_clear(&a);
        json_object_put(s);
}

static void test_version(void **state)
{
        ObEmuShadowAnswer a;
        json_object *s;

        (void)state;
        s = update_ok(NULL, "{\"state\":{\"reported\":{\"a\":1}}}", T0, &a);
        ob_emu_shadow_answer_clear(&a);
        update_fails(s, "{\"state\":{\"reported\":{\"a\":2}},\"version\":7}", 409,
                     "Version conflict");
        s = update_ok(s, "{\"state\":{\"reported\":{\"a\":2}},\"version\":1}", T0, &a);
        assert_int_equal(int_at(s, "version"), 2);
        ob_emu_shadow_answer_clear(&a);
        update_fails(s, "{\"state\":{\"reported\":{\"a\":3}},\"version\":\"2\"}", 400,
                     "Invalid version");
        json_object_put(s);
}

static void test_bad_requests(void **state)
{
        char big[OB_EMU_SHADOW_MAX_DOCUMENT + 64], token[128];
        size_t n;

        (void)state;
        update_fails(NULL, "not json", 400, "Invalid JSON");
        update_fails(NULL, "[1]", 400, "Invalid JSON");
        update_fails(NULL, "{\"reported\":{}}", 400, "Missing required node: state");
        update_fails(NULL, "{\"state\":3}", 400, "State node must be an object");
        update_fails(NULL, "{\"state\":{\"reported\":[1]}}", 400,
                     "Reported node must be an object");
        update_fails(NULL, "{\"state\":{\"desired\":\"x\"}}", 400,
                     "Desired node must be an object");
        update_fails(NULL, "{\"state\":{\"delta\":{}}}", 400, "State contains an invalid node");
        update_fails(NULL,
                     "{\"state\":{\"reported\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":1}}"
                     "}}}}}}}",
                     400, "too many levels of nesting");
        snprintf(token, sizeof(token), "{\"state\":{\"reported\":{}},\"clientToken\":\"%065d\"}",
                 0);
        update_fails(NULL, token, 400, "Invalid clientToken");
        n = (size_t)snprintf(big, sizeof(big), "{\"state\":{\"reported\":{\"a\":\"");
        memset(big + n, 'x', sizeof(big) - n - 8);
        snprintf(big + sizeof(big) - 8, 8, "\"}}}");
        update_fails(NULL, big, 413, "exceeds the maximum size");
}

static void test_missing_and_delete(void **state)
{
        ObEmuShadowAnswer a;
        json_object *s;

        (void)state;
        assert_int_equal(ob_emu_shadow_get(NULL, "", 0, "gw-1~onboard-agent", T0, &a), 404);
        assert_string_equal(str_at(a.accepted, "message"),
                            "No shadow exists with name: 'gw-1~onboard-agent'");
        ob_emu_shadow_answer_clear(&a);
        assert_int_equal(ob_emu_shadow_delete(NULL, "", 0, "gw-1~onboard-agent", T0, &a), 404);
        ob_emu_shadow_answer_clear(&a);
        assert_int_equal(ob_emu_shadow_get(NULL, "{", 1, "x", T0, &a), 400);
        ob_emu_shadow_answer_clear(&a);

        s = update_ok(NULL, "{\"state\":{\"reported\":{\"a\":1}}}", T0, &a);
        ob_emu_shadow_answer_clear(&a);
        assert_int_equal(ob_emu_shadow_delete(s, "{\"clientToken\":\"d\"}", 19, "x", T0 + 1, &a),
                         0);
        assert_int_equal(int_at(a.accepted, "version"), 1);
        assert_string_equal(str_at(a.accepted, "clientToken"), "d");
        ob_emu_shadow_answer_clear(&a);
        json_object_put(s);
}

static void test_names(void **state)
{
        (void)state;
        assert_true(ob_emu_shadow_name_valid("onboard-agent"));
        assert_true(ob_emu_shadow_name_valid("a:b_c-D9"));
        assert_false(ob_emu_shadow_name_valid(""));
        assert_false(ob_emu_shadow_name_valid("a/b"));
        assert_false(ob_emu_shadow_name_valid("a b"));
        assert_false(ob_emu_shadow_name_valid(
                "0123456789012345678901234567890123456789012345678901234567890123456789"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_report_creates), cmocka_unit_test(test_desired_delta),
                cmocka_unit_test(test_null_deletes),   cmocka_unit_test(test_version),
                cmocka_unit_test(test_bad_requests),   cmocka_unit_test(test_missing_and_delete),
                cmocka_unit_test(test_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
