/* SPDX-License-Identifier: Apache-2.0 */
/* The AWS IoT Jobs device MQTT API codec (lib/jobs-proto.c). */
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

#include "jobs-proto.h"

static void test_topics(void **state)
{
        char buf[160];

        (void)state;
        assert_int_equal(ob_jobs_topic(buf, sizeof(buf), "ob-SN1", NULL, "start-next"), 0);
        assert_string_equal(buf, "$aws/things/ob-SN1/jobs/start-next");
        assert_int_equal(ob_jobs_topic(buf, sizeof(buf), "ob-SN1", "rot-42", "update/accepted"), 0);
        assert_string_equal(buf, "$aws/things/ob-SN1/jobs/rot-42/update/accepted");
        assert_int_equal(ob_jobs_topic(buf, sizeof(buf), "a/b", NULL, "start-next"), -EINVAL);
        assert_int_equal(ob_jobs_topic(buf, sizeof(buf), "t", "a b", "update"), -EINVAL);
        assert_int_equal(ob_jobs_topic(buf, sizeof(buf), "t", "x:y", "update"), -EINVAL);
        assert_int_equal(ob_jobs_topic(buf, sizeof(buf), "t", NULL, "#"), -EINVAL);
        assert_int_equal(ob_jobs_topic(buf, 20, "ob-SN1", NULL, "start-next"), -ENOBUFS);
        assert_true(ob_jobs_thing_valid("thing:with_colon-1"));
        assert_false(ob_jobs_id_valid(""));
}

static void test_start_next(void **state)
{
        const char *ok = "{\"execution\":{\"jobId\":\"rot-42\",\"thingName\":\"ob-SN1\","
                         "\"jobDocument\":{\"operation\":\"rotate\",\"force\":true},"
                         "\"status\":\"IN_PROGRESS\",\"statusDetails\":{},\"queuedAt\":1,"
                         "\"startedAt\":2,\"lastUpdatedAt\":2,\"versionNumber\":2,"
                         "\"executionNumber\":1},\"timestamp\":3,\"clientToken\":\"c\"}";
        ObJobExecution e;
        char err[160] = "";
        json_object *req;

        (void)state;
        assert_int_equal(ob_jobs_parse_start_next(ok, strlen(ok), &e, err, sizeof(err)), 0);
        assert_true(e.present);
        assert_string_equal(e.job_id, "rot-42");
        assert_string_equal(e.status, "IN_PROGRESS");
        assert_int_equal(e.version, 2);
        assert_int_equal(e.execution, 1);
        assert_true(json_object_is_type(e.document, json_type_object));
        ob_job_execution_clear(&e);

        /* nothing pending: the reply has no execution */
        assert_int_equal(ob_jobs_parse_start_next("{\"timestamp\":3}", 15, &e, err, sizeof(err)),
                         0);
        assert_false(e.present);

        static const char *const bad[] = {
                "[]",
                "{\"execution\":7}",
                "{\"execution\":{\"jobId\":\"a/b\",\"status\":\"QUEUED\",\"versionNumber\":1,"
                "\"executionNumber\":1,\"jobDocument\":{}}}",
                "{\"execution\":{\"jobId\":\"j\",\"status\":\"QUEUED\",\"versionNumber\":\"1\","
                "\"executionNumber\":1,\"jobDocument\":{}}}",
                "{\"execution\":{\"jobId\":\"j\",\"status\":\"QUEUED\",\"versionNumber\":1,"
                "\"executionNumber\":1,\"jobDocument\":\"{}\"}}",
                "{\"execution\":{\"jobId\":\"j\",\"versionNumber\":1,\"executionNumber\":1,"
                "\"jobDocument\":{}}}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = 0;
                assert_int_equal(
                        ob_jobs_parse_start_next(bad[i], strlen(bad[i]), &e, err, sizeof(err)),
                        -EBADMSG);
                assert_false(e.present);
                assert_null(e.document);
                assert_true(err[0] != 0);
        }

        req = ob_jobs_build_start_next(30, "tok");
        assert_string_equal(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN),
                            "{\"stepTimeoutInMinutes\":30,\"clientToken\":\"tok\"}");
        json_object_put(req);
}

/* DescribeJobExecution: the request, and get/accepted (an execution, always) */
static void test_describe(void **state)
{
        const char *ok = "{\"execution\":{\"jobId\":\"rot-42\",\"thingName\":\"ob-SN1\","
                         "\"jobDocument\":{\"operation\":\"report\"},\"status\":\"CANCELED\","
                         "\"versionNumber\":5,\"executionNumber\":1},\"timestamp\":3}";
        ObJobExecution e;
        char err[160] = "";
        json_object *req = ob_jobs_build_describe();

        (void)state;
        assert_string_equal(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN),
                            "{\"includeJobDocument\":true}");
        json_object_put(req);
        assert_int_equal(ob_jobs_parse_describe(ok, strlen(ok), &e, err, sizeof(err)), 0);
        assert_true(e.present);
        assert_string_equal(e.status, "CANCELED");
        assert_int_equal(e.version, 5);
        ob_job_execution_clear(&e);
        /* no execution is malformed here (start-next's "nothing pending" has no meaning) */
        assert_int_equal(ob_jobs_parse_describe("{\"timestamp\":3}", 15, &e, err, sizeof(err)),
                         -EBADMSG);
        assert_string_equal(err, "the reply has no execution");
        assert_false(e.present);
        assert_int_equal(ob_jobs_parse_describe("{\"execution\":1}", 15, &e, err, sizeof(err)),
                         -EBADMSG);
}

static void test_update(void **state)
{
        json_object *d = json_tokener_parse("{\"certificateId\":\"ab12\",\"reason\":\"rotated\"}");
        json_object *bad = json_tokener_parse("{\"a b\":\"x\"}");
        json_object *empty = json_tokener_parse("{\"k\":\"\"}");
        json_object *u;
        int e;

        (void)state;
        u = ob_jobs_build_update("SUCCEEDED", d, 2, 0, "c", &e);
        assert_int_equal(e, 0);
        assert_string_equal(json_object_to_json_string_ext(u, JSON_C_TO_STRING_PLAIN),
                            "{\"status\":\"SUCCEEDED\",\"statusDetails\":{\"certificateId\":"
                            "\"ab12\",\"reason\":\"rotated\"},\"expectedVersion\":2,"
                            "\"clientToken\":\"c\"}");
        json_object_put(u);
        u = ob_jobs_build_update("IN_PROGRESS", NULL, -1, 15, NULL, &e);
        assert_string_equal(json_object_to_json_string_ext(u, JSON_C_TO_STRING_PLAIN),
                            "{\"status\":\"IN_PROGRESS\",\"stepTimeoutInMinutes\":15}");
        json_object_put(u);
        assert_null(ob_jobs_build_update("DONE", NULL, 1, 0, NULL, &e));
        assert_int_equal(e, -EINVAL);
        assert_null(ob_jobs_build_update("FAILED", bad, 1, 0, NULL, &e));
        assert_int_equal(e, -EINVAL);
        assert_null(ob_jobs_build_update("FAILED", empty, 1, 0, NULL, &e));
        assert_null(ob_jobs_build_update("FAILED", NULL, 1, 10081, NULL, &e));
        json_object_put(d);
        json_object_put(bad);
        json_object_put(empty);
}

static void test_update_replies(void **state)
{
        const char *acc = "{\"executionState\":{\"status\":\"SUCCEEDED\",\"versionNumber\":3},"
                          "\"timestamp\":5}";
        const char *rej = "{\"code\":\"VersionMismatch\",\"message\":\"expected 2, is 3\","
                          "\"timestamp\":5}";
        char code[32], err[128];
        int64_t v;

        (void)state;
        assert_int_equal(ob_jobs_parse_update_reply(acc, strlen(acc), true, &v, code, sizeof(code),
                                                    err, sizeof(err)),
                         0);
        assert_int_equal(v, 3);
        assert_int_equal(ob_jobs_parse_update_reply("{\"timestamp\":5}", 15, true, &v, code,
                                                    sizeof(code), err, sizeof(err)),
                         0);
        assert_int_equal(v, -1);
        assert_int_equal(ob_jobs_parse_update_reply(rej, strlen(rej), false, &v, code, sizeof(code),
                                                    err, sizeof(err)),
                         -EPROTO);
        assert_string_equal(code, "VersionMismatch");
        assert_string_equal(err, "expected 2, is 3");
        assert_int_equal(ob_jobs_parse_update_reply("{}", 2, false, &v, code, sizeof(code), err,
                                                    sizeof(err)),
                         -EBADMSG);
        assert_int_equal(ob_jobs_parse_update_reply("nope", 4, true, &v, code, sizeof(code), err,
                                                    sizeof(err)),
                         -EBADMSG);
}

static int op_of(const char *json, ObJobOp *op, char *reason, size_t size)
{
        json_object *d = json_tokener_parse(json);
        int r;

        assert_non_null(d);
        r = ob_jobs_parse_operation(d, op, reason, size);
        json_object_put(d);
        return r;
}

static void test_operations(void **state)
{
        ObJobOp op;
        char reason[200];

        (void)state;
        assert_int_equal(
                op_of("{\"operation\":\"rotate\",\"force\":true}", &op, reason, sizeof(reason)), 0);
        assert_int_equal(op.kind, OB_JOB_OP_ROTATE);
        assert_true(op.force);
        assert_int_equal(op_of("{\"operation\":\"reprovision\"}", &op, reason, sizeof(reason)), 0);
        assert_int_equal(op.kind, OB_JOB_OP_REPROVISION);
        assert_int_equal(op_of("{\"operation\":\"report\"}", &op, reason, sizeof(reason)), 0);
        assert_int_equal(op_of("{\"operation\":\"set-rotation-policy\",\"lifetime_fraction\":0.5,"
                               "\"max_age_days\":90}",
                               &op, reason, sizeof(reason)),
                         0);
        assert_true(op.has_fraction && op.has_age && !op.has_days);
        assert_true(op.lifetime_fraction == 0.5);
        assert_int_equal(op.max_age_days, 90);
        assert_string_equal(ob_job_op_to_string(OB_JOB_OP_SET_ROTATION_POLICY),
                            "set-rotation-policy");

        /* refused, each with its reason */
        assert_int_equal(op_of("{\"operation\":\"reboot\"}", &op, reason, sizeof(reason)),
                         -EOPNOTSUPP);
        assert_non_null(strstr(reason, "unknown operation 'reboot'"));
        assert_int_equal(op_of("{\"op\":\"rotate\"}", &op, reason, sizeof(reason)), -EINVAL);
        assert_non_null(strstr(reason, "operation"));
        assert_int_equal(
                op_of("{\"operation\":\"rotate\",\"force\":\"yes\"}", &op, reason, sizeof(reason)),
                -EINVAL);
        assert_int_equal(
                op_of("{\"operation\":\"report\",\"now\":true}", &op, reason, sizeof(reason)),
                -EINVAL);
        assert_non_null(strstr(reason, "no arguments"));
        assert_int_equal(op_of("{\"operation\":\"set-rotation-policy\",\"lifetime_fraction\":0.95}",
                               &op, reason, sizeof(reason)),
                         -EINVAL);
        assert_non_null(strstr(reason, "lifetime_fraction must be within 0.1..0.9"));
        assert_int_equal(op_of("{\"operation\":\"set-rotation-policy\",\"days_before_expiry\":1.5}",
                               &op, reason, sizeof(reason)),
                         -EINVAL);
        assert_int_equal(op_of("{\"operation\":\"set-rotation-policy\",\"max_age_days\":4000}", &op,
                               reason, sizeof(reason)),
                         -EINVAL);
        assert_int_equal(
                op_of("{\"operation\":\"set-rotation-policy\"}", &op, reason, sizeof(reason)),
                -EINVAL);
        assert_int_equal(op_of("{\"operation\":\"set-rotation-policy\",\"threshold\":3}", &op,
                               reason, sizeof(reason)),
                         -EINVAL);
        assert_non_null(strstr(reason, "not 'threshold'"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_topics),     cmocka_unit_test(test_start_next),
                cmocka_unit_test(test_update),     cmocka_unit_test(test_update_replies),
                cmocka_unit_test(test_operations), cmocka_unit_test(test_describe),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
