/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulator's Jobs device MQTT API (tests/emulator/jobs.c) against AWS's documented shapes
 * and error codes, driven with the requests the agent's codec builds (lib/jobs-proto.c) and
 * answered with replies its strict parsers accept.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "jobs-proto.h"
#include "jobs.h"

#define T0 1796600000

static json_object *at(json_object *o, const char *path)
{
        char buf[256], *save = NULL;

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
                if (!json_object_object_get_ex(o, k, &o))
                        return NULL;
        return o;
}

static const char *str_at(json_object *o, const char *path)
{
        json_object *v = at(o, path);

        return v ? json_object_get_string(v) : NULL;
}

static int64_t int_at(json_object *o, const char *path)
{
        json_object *v = at(o, path);

        if (!v)
                fail_msg("no %s in %s", path, json_object_to_json_string(o));
        return json_object_get_int64(v);
}

/* A registry with things a (group gw), b (groups gw, lab) and c (no group). */
static json_object *registry(void)
{
        return json_tokener_parse("{\"things\": {\"a\": {\"thingGroups\": [\"gw\"]},"
                                  " \"b\": {\"thingGroups\": [\"lab\", \"gw\"]}, \"c\": {}}}");
}

static void create(json_object *reg, const char *id, const char *targets, int64_t now,
                   ObEmuJobsAnswer *a)
{
        char buf[512];
        json_object *cmd, *res = json_object_new_object();
        const char *err, *code;

        snprintf(buf, sizeof(buf),
                 "{\"op\": \"create-job\", \"jobId\": \"%s\", \"document\": {\"operation\": "
                 "\"rotate\", \"force\": true}, \"targets\": %s}",
                 id, targets);
        cmd = json_tokener_parse(buf);
        if (ob_emu_jobs_admin(reg, cmd, now, res, &err, &code, a) != 1)
                fail_msg("create-job %s refused: %s", id, err);
        json_object_put(cmd);
        json_object_put(res);
}

/* Send payload on $aws/things/THING/jobs/REST; the answer is in a. */
static void req(json_object *reg, const char *thing, const char *rest, const char *payload,
                int64_t now, ObEmuJobsAnswer *a)
{
        char topic[256];

        snprintf(topic, sizeof(topic), "$aws/things/%s/jobs/%s", thing, rest);
        assert_true(ob_emu_jobs_request(reg, topic, payload, strlen(payload), now, a));
}

static void req_json(json_object *reg, const char *thing, const char *rest, json_object *o,
                     int64_t now, ObEmuJobsAnswer *a)
{
        req(reg, thing, rest, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), now, a);
        json_object_put(o);
}

/* The agent's parser reads a start-next answer. */
static void parse_start_next(ObEmuJobsAnswer *a, ObJobExecution *e)
{
        const char *s = json_object_to_json_string_ext(a->reply, JSON_C_TO_STRING_PLAIN);
        char err[128] = "";

        if (ob_jobs_parse_start_next(s, strlen(s), e, err, sizeof(err)) != 0)
                fail_msg("the agent's codec refused %s: %s", s, err);
}

static const char *rejected_code(ObEmuJobsAnswer *a)
{
        const char *s = json_object_to_json_string_ext(a->reply, JSON_C_TO_STRING_PLAIN);
        static char code[64];
        char err[128];
        int64_t v;

        assert_non_null(strstr(a->topic, "/rejected"));
        assert_int_equal(ob_jobs_parse_update_reply(s, strlen(s), false, &v, code, sizeof(code),
                                                    err, sizeof(err)),
                         -EPROTO);
        assert_string_equal(code, a->code);
        return code;
}

static void test_start_next_and_update(void **state)
{
        json_object *reg = registry(), *u;
        ObEmuJobsAnswer a = {0};
        ObJobExecution e = {0};
        int64_t v;
        int r;
        char code[64], err[128];
        const char *s;

        (void)state;
        create(reg, "rot-1", "[\"thing/a\"]", T0, &a);
        assert_true(a.changed);
        /* the thing had nothing pending: notify-next carries the new execution */
        assert_string_equal(str_at(a.notify, "a.execution.jobId"), "rot-1");
        assert_string_equal(str_at(a.notify, "a.execution.status"), "QUEUED");
        assert_string_equal(str_at(a.notify, "a.execution.jobDocument.operation"), "rotate");
        assert_int_equal(int_at(a.notify, "a.timestamp"), T0);
        ob_emu_jobs_answer_clear(&a);

        req_json(reg, "a", "start-next", ob_jobs_build_start_next(5, "tok-1"), T0 + 10, &a);
        assert_null(a.code);
        assert_string_equal(a.topic, "$aws/things/a/jobs/start-next/accepted");
        assert_string_equal(str_at(a.reply, "clientToken"), "tok-1");
        assert_int_equal(int_at(a.reply, "timestamp"), T0 + 10);
        assert_string_equal(str_at(a.reply, "execution.thingName"), "a");
        assert_int_equal(int_at(a.reply, "execution.queuedAt"), T0);
        assert_int_equal(int_at(a.reply, "execution.startedAt"), T0 + 10);
        assert_int_equal(int_at(a.reply, "execution.lastUpdatedAt"), T0 + 10);
        assert_int_equal(int_at(a.reply, "execution.approximateSecondsBeforeTimedOut"), 300);
        assert_null(a.notify); /* the next execution is still rot-1 */
        parse_start_next(&a, &e);
        assert_true(e.present);
        assert_string_equal(e.job_id, "rot-1");
        assert_string_equal(e.status, "IN_PROGRESS");
        assert_int_equal(e.version, 2);
        assert_int_equal(e.execution, 1);
        ob_job_execution_clear(&e);
        ob_emu_jobs_answer_clear(&a);

        /* an IN_PROGRESS execution comes back as it is */
        req(reg, "a", "start-next", "{}", T0 + 20, &a);
        parse_start_next(&a, &e);
        assert_string_equal(e.status, "IN_PROGRESS");
        assert_int_equal(e.version, 2);
        assert_int_equal(int_at(a.reply, "execution.startedAt"), T0 + 10);
        assert_false(a.changed);
        ob_job_execution_clear(&e);
        ob_emu_jobs_answer_clear(&a);

        /* update SUCCEEDED with the current version: accepted, executionState asked for */
        u = json_tokener_parse("{\"certificateId\": \"abc\"}");
        json_object *up = ob_jobs_build_update("SUCCEEDED", u, 2, 0, "tok-2", &r);
        assert_int_equal(r, 0);
        json_object_object_add(up, "includeJobExecutionState", json_object_new_boolean(1));
        req_json(reg, "a", "rot-1/update", up, T0 + 30, &a);
        assert_null(a.code);
        assert_string_equal(a.topic, "$aws/things/a/jobs/rot-1/update/accepted");
        s = json_object_to_json_string_ext(a.reply, JSON_C_TO_STRING_PLAIN);
        assert_int_equal(ob_jobs_parse_update_reply(s, strlen(s), true, &v, code, sizeof(code), err,
                                                    sizeof(err)),
                         0);
        assert_int_equal(v, 3);
        assert_string_equal(str_at(a.reply, "executionState.status"), "SUCCEEDED");
        assert_string_equal(str_at(a.reply, "executionState.statusDetails.certificateId"), "abc");
        assert_string_equal(str_at(a.reply, "clientToken"), "tok-2");
        /* nothing pending any more: notify-next without an execution */
        assert_non_null(at(a.notify, "a.timestamp"));
        assert_null(at(a.notify, "a.execution"));
        assert_string_equal(str_at(reg, "jobs.rot-1.status"), "COMPLETED");
        assert_null(at(reg, "jobs.rot-1.executions.a.stepTimeoutAt"));
        json_object_put(u);
        ob_emu_jobs_answer_clear(&a);

        /* nothing pending: start-next is accepted without an execution */
        req(reg, "a", "start-next", "", T0 + 40, &a);
        assert_null(a.code);
        assert_null(at(a.reply, "execution"));
        parse_start_next(&a, &e);
        assert_false(e.present);
        ob_emu_jobs_answer_clear(&a);
        json_object_put(reg);
}

static void test_update_errors(void **state)
{
        json_object *reg = registry();
        ObEmuJobsAnswer a = {0};

        (void)state;
        create(reg, "j1", "[\"thing/a\"]", T0, &a);
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "j1/update",
            "{\"status\": \"IN_PROGRESS\", \"expectedVersion\": 7, "
            "\"clientToken\": \"t\"}",
            T0, &a);
        assert_string_equal(rejected_code(&a), "VersionMismatch");
        assert_string_equal(a.topic, "$aws/things/a/jobs/j1/update/rejected");
        assert_string_equal(str_at(a.reply, "clientToken"), "t");
        assert_int_equal(int_at(a.reply, "executionState.versionNumber"), 1);
        assert_string_equal(str_at(a.reply, "executionState.status"), "QUEUED");
        assert_int_equal(int_at(a.reply, "timestamp"), T0);
        assert_false(a.changed);
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "j1/update", "{\"status\": \"QUEUED\"}", T0, &a);
        assert_string_equal(rejected_code(&a), "InvalidStateTransition");
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "j1/update", "{\"status\": \"DONE\"}", T0, &a);
        assert_string_equal(rejected_code(&a), "InvalidRequest");
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "j1/update", "{\"statusDetails\": {}}", T0, &a);
        assert_string_equal(rejected_code(&a), "InvalidRequest"); /* no status */
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "j1/update", "{\"status\": \"FAILED\", \"statusDetails\": {\"a b\": \"x\"}}",
            T0, &a);
        assert_string_equal(rejected_code(&a), "InvalidRequest");
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "j1/update", "{\"status\": \"FAILED\", \"statusDetails\": {\"k\": 1}}", T0,
            &a);
        assert_string_equal(rejected_code(&a), "InvalidRequest");
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "j1/update", "{\"status\": \"FAILED\", \"statusDetails\": {\"k\": \"\"}}", T0,
            &a);
        assert_string_equal(rejected_code(&a), "InvalidRequest");
        ob_emu_jobs_answer_clear(&a);

        {
                char big[1200], payload[1300];

                memset(big, 'x', 1025);
                big[1025] = 0;
                snprintf(payload, sizeof(payload),
                         "{\"status\": \"FAILED\", \"statusDetails\": {\"k\": \"%s\"}}", big);
                req(reg, "a", "j1/update", payload, T0, &a);
                assert_string_equal(rejected_code(&a), "InvalidRequest");
                ob_emu_jobs_answer_clear(&a);
                big[1024] = 0; /* exactly AWS's limit: fine */
                snprintf(payload, sizeof(payload),
                         "{\"status\": \"IN_PROGRESS\", \"statusDetails\": {\"k\": \"%s\"}}", big);
                req(reg, "a", "j1/update", payload, T0, &a);
                assert_null(a.code);
                ob_emu_jobs_answer_clear(&a);
        }

        req(reg, "a", "j1/update", "{\"status\": \"IN_PROGRESS\", \"stepTimeoutInMinutes\": 10081}",
            T0, &a);
        assert_string_equal(rejected_code(&a), "InvalidRequest");
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "j1/update", "{\"status\": \"IN_PROGRESS\", \"clientToken\": 5}", T0, &a);
        assert_string_equal(rejected_code(&a), "InvalidRequest");
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "j1/update", "{\"status\": ", T0, &a);
        assert_string_equal(rejected_code(&a), "InvalidJson");
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "j1/update", "[1]", T0, &a);
        assert_string_equal(rejected_code(&a), "InvalidRequest");
        ob_emu_jobs_answer_clear(&a);

        /* another thing's execution, an unknown job */
        req(reg, "b", "j1/update", "{\"status\": \"SUCCEEDED\"}", T0, &a);
        assert_string_equal(rejected_code(&a), "ResourceNotFound");
        ob_emu_jobs_answer_clear(&a);
        req(reg, "a", "nope/update", "{\"status\": \"SUCCEEDED\"}", T0, &a);
        assert_string_equal(rejected_code(&a), "ResourceNotFound");
        ob_emu_jobs_answer_clear(&a);

        /* a terminal execution cannot change */
        req(reg, "a", "j1/update", "{\"status\": \"FAILED\", \"expectedVersion\": 2}", T0 + 1, &a);
        assert_null(a.code);
        assert_null(at(a.reply, "executionState")); /* not asked for */
        ob_emu_jobs_answer_clear(&a);
        req(reg, "a", "j1/update", "{\"status\": \"IN_PROGRESS\"}", T0 + 2, &a);
        assert_string_equal(rejected_code(&a), "InvalidStateTransition");
        assert_string_equal(str_at(a.reply, "executionState.status"), "FAILED");
        assert_int_equal(int_at(reg, "jobs.j1.executions.a.versionNumber"), 3);
        ob_emu_jobs_answer_clear(&a);
        json_object_put(reg);
}

static void test_step_timeout(void **state)
{
        json_object *reg = registry();
        ObEmuJobsAnswer a = {0};

        (void)state;
        create(reg, "slow", "[\"thing/c\"]", T0, &a);
        ob_emu_jobs_answer_clear(&a);
        create(reg, "next", "[\"thing/c\"]", T0 + 1, &a);
        assert_null(a.notify); /* c's next execution is still "slow" */
        ob_emu_jobs_answer_clear(&a);
        req(reg, "c", "start-next", "{\"stepTimeoutInMinutes\": 1}", T0 + 10, &a);
        assert_string_equal(str_at(a.reply, "execution.jobId"), "slow");
        ob_emu_jobs_answer_clear(&a);

        /* an IN_PROGRESS update with a new timeout resets the timer */
        req(reg, "c", "slow/update", "{\"status\": \"IN_PROGRESS\", \"stepTimeoutInMinutes\": 2}",
            T0 + 50, &a);
        assert_null(a.code);
        ob_emu_jobs_answer_clear(&a);
        assert_int_equal(ob_emu_jobs_tick(reg, T0 + 169, &a), 0);
        assert_false(a.changed);
        ob_emu_jobs_answer_clear(&a);
        assert_int_equal(ob_emu_jobs_tick(reg, T0 + 170, &a), 1);
        assert_true(a.changed);
        assert_string_equal(str_at(reg, "jobs.slow.executions.c.status"), "TIMED_OUT");
        assert_int_equal(int_at(reg, "jobs.slow.executions.c.versionNumber"), 4);
        assert_string_equal(str_at(a.notify, "c.execution.jobId"), "next");
        assert_string_equal(str_at(json_object_array_get_idx(a.events, 0), "status"), "TIMED_OUT");
        ob_emu_jobs_answer_clear(&a);

        /* a timed-out execution is terminal */
        req(reg, "c", "slow/update", "{\"status\": \"SUCCEEDED\"}", T0 + 171, &a);
        assert_string_equal(rejected_code(&a), "InvalidStateTransition");
        ob_emu_jobs_answer_clear(&a);

        /* the timer is also checked before each request (no tick in between) */
        req(reg, "c", "start-next", "{\"stepTimeoutInMinutes\": 1}", T0 + 200, &a);
        assert_string_equal(str_at(a.reply, "execution.jobId"), "next");
        ob_emu_jobs_answer_clear(&a);
        req(reg, "c", "next/update", "{\"status\": \"SUCCEEDED\"}", T0 + 260, &a);
        assert_string_equal(rejected_code(&a), "InvalidStateTransition");
        assert_string_equal(str_at(a.reply, "executionState.status"), "TIMED_OUT");
        ob_emu_jobs_answer_clear(&a);
        json_object_put(reg);
}

static void test_group_targets(void **state)
{
        json_object *reg = registry(), *res = json_object_new_object(), *cmd;
        ObEmuJobsAnswer a = {0};
        const char *err, *code;

        (void)state;
        create(reg, "fleet", "[\"thinggroup/gw\", \"thing/b\", \"thing/c\"]", T0, &a);
        assert_non_null(at(reg, "jobs.fleet.executions.a"));
        assert_non_null(at(reg, "jobs.fleet.executions.b"));
        assert_non_null(at(reg, "jobs.fleet.executions.c"));
        assert_int_equal(json_object_object_length(at(reg, "jobs.fleet.executions")), 3);
        assert_int_equal(json_object_object_length(a.notify), 3);
        ob_emu_jobs_answer_clear(&a);

        create(reg, "lab", "[\"thinggroup/lab\"]", T0, &a);
        assert_null(at(reg, "jobs.lab.executions.a"));
        assert_non_null(at(reg, "jobs.lab.executions.b"));
        ob_emu_jobs_answer_clear(&a);

        /* unknown targets, a bad jobId, a duplicate: refused, nothing changed */
        static const char *const bad[] = {
                "{\"op\": \"create-job\", \"jobId\": \"x\", \"document\": {}, \"targets\": "
                "[\"thinggroup/none\"]}",
                "{\"op\": \"create-job\", \"jobId\": \"x\", \"document\": {}, \"targets\": "
                "[\"thing/zz\"]}",
                "{\"op\": \"create-job\", \"jobId\": \"x\", \"document\": {}, \"targets\": "
                "[\"a\"]}",
                "{\"op\": \"create-job\", \"jobId\": \"x\", \"document\": {}, \"targets\": []}",
                "{\"op\": \"create-job\", \"jobId\": \"x y\", \"document\": {}, \"targets\": "
                "[\"thing/a\"]}",
                "{\"op\": \"create-job\", \"jobId\": \"x\", \"document\": [], \"targets\": "
                "[\"thing/a\"]}",
                "{\"op\": \"create-job\", \"jobId\": \"lab\", \"document\": {}, \"targets\": "
                "[\"thing/a\"]}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cmd = json_tokener_parse(bad[i]);
                assert_true(ob_emu_jobs_admin(reg, cmd, T0, res, &err, &code, &a) < 0);
                assert_non_null(err);
                assert_non_null(code);
                assert_false(a.changed);
                ob_emu_jobs_answer_clear(&a);
                json_object_put(cmd);
        }
        assert_int_equal(json_object_object_length(at(reg, "jobs")), 2);
        cmd = json_tokener_parse("{\"op\": \"list-things\"}");
        assert_int_equal(ob_emu_jobs_admin(reg, cmd, T0, res, &err, &code, &a), 0);
        json_object_put(cmd);
        json_object_put(res);
        json_object_put(reg);
}

static void test_get_describe_cancel(void **state)
{
        json_object *reg = registry(), *res = json_object_new_object(), *cmd;
        ObEmuJobsAnswer a = {0};
        const char *err, *code;

        (void)state;
        create(reg, "one", "[\"thing/a\"]", T0, &a);
        ob_emu_jobs_answer_clear(&a);
        create(reg, "two", "[\"thing/a\"]", T0 + 5, &a);
        ob_emu_jobs_answer_clear(&a);
        req(reg, "a", "start-next", "{}", T0 + 6, &a);
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "get", "{\"clientToken\": \"g\"}", T0 + 7, &a);
        assert_string_equal(a.topic, "$aws/things/a/jobs/get/accepted");
        assert_string_equal(
                str_at(json_object_array_get_idx(at(a.reply, "inProgressJobs"), 0), "jobId"),
                "one");
        assert_string_equal(
                str_at(json_object_array_get_idx(at(a.reply, "queuedJobs"), 0), "jobId"), "two");
        assert_null(at(json_object_array_get_idx(at(a.reply, "queuedJobs"), 0), "startedAt"));
        assert_string_equal(str_at(a.reply, "clientToken"), "g");
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "two/get", "{\"includeJobDocument\": false}", T0 + 8, &a);
        assert_string_equal(a.topic, "$aws/things/a/jobs/two/get/accepted");
        assert_string_equal(str_at(a.reply, "execution.status"), "QUEUED");
        assert_int_equal(int_at(a.reply, "execution.versionNumber"), 1);
        assert_null(at(a.reply, "execution.jobDocument"));
        ob_emu_jobs_answer_clear(&a);

        req(reg, "a", "$next/get", "", T0 + 8, &a);
        assert_string_equal(a.topic, "$aws/things/a/jobs/$next/get/accepted");
        assert_string_equal(str_at(a.reply, "execution.jobId"), "one");
        assert_string_equal(str_at(a.reply, "execution.jobDocument.operation"), "rotate");
        ob_emu_jobs_answer_clear(&a);

        req(reg, "b", "one/get", "", T0 + 8, &a);
        assert_string_equal(rejected_code(&a), "ResourceNotFound");
        assert_string_equal(a.topic, "$aws/things/b/jobs/one/get/rejected");
        ob_emu_jobs_answer_clear(&a);

        /* cancel "one" without force: its IN_PROGRESS execution stays; with force it goes */
        cmd = json_tokener_parse("{\"op\": \"cancel-job\", \"jobId\": \"one\"}");
        assert_int_equal(ob_emu_jobs_admin(reg, cmd, T0 + 9, res, &err, &code, &a), 1);
        assert_string_equal(str_at(reg, "jobs.one.executions.a.status"), "IN_PROGRESS");
        assert_string_equal(str_at(reg, "jobs.one.status"), "CANCELED");
        ob_emu_jobs_answer_clear(&a);
        assert_true(ob_emu_jobs_admin(reg, cmd, T0 + 9, res, &err, &code, &a) < 0); /* again */
        json_object_put(cmd);
        ob_emu_jobs_answer_clear(&a);
        cmd = json_tokener_parse("{\"op\": \"cancel-job\", \"jobId\": \"one\", \"force\": true}");
        assert_int_equal(ob_emu_jobs_admin(reg, cmd, T0 + 9, res, &err, &code, &a), 1);
        assert_string_equal(str_at(reg, "jobs.one.executions.a.status"), "CANCELED");
        assert_string_equal(str_at(a.notify, "a.execution.jobId"), "two");
        json_object_put(cmd);
        ob_emu_jobs_answer_clear(&a);

        /* topics that are not requests are not the module's */
        assert_false(ob_emu_jobs_request(reg, "$aws/things/a/jobs/notify-next", "", 0, T0, &a));
        assert_false(
                ob_emu_jobs_request(reg, "$aws/things/a/jobs/two/update/accepted", "", 0, T0, &a));
        assert_false(ob_emu_jobs_request(reg, "$aws/things/a/jobs/$next/update", "", 0, T0, &a));
        assert_false(ob_emu_jobs_request(reg, "$aws/things/a/shadow/get", "", 0, T0, &a));
        json_object_put(res);
        json_object_put(reg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_start_next_and_update), cmocka_unit_test(test_update_errors),
                cmocka_unit_test(test_step_timeout),          cmocka_unit_test(test_group_targets),
                cmocka_unit_test(test_get_describe_cancel),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
