/* SPDX-License-Identifier: Apache-2.0 */
/* The job runner (lib/job-runner.c) against fake ops that record every call: the exact updates
 * sent, and what a crash in each persisted phase does (never twice). */
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

#include "job-runner.h"
#include "macro.h"

#define T    "ob-SN1"
#define PFX  "$aws/things/" T "/jobs/"
#define NPUB 32

typedef struct Fake {
        ObJobRunner *r;
        char trace[4096]; /* "save(received) pub(rep-1/update) report ..." in call order */
        char topic[NPUB][160], body[NPUB][1024];
        int npub, nsubs, nsubcalls;
        char saved[2048]; /* what the last save() wrote */
        int rotate_calls, reprov_calls, report_calls, policy_calls;
        bool force;
        ObJobOp policy;
        int rotate_ret, reprov_ret, save_ret, policy_ret, report_ret;
        const char *cert;
        bool pending;
} Fake;

static void tr(Fake *f, const char *fmt, ...) _printf_(2, 3);
static void tr(Fake *f, const char *fmt, ...)
{
        size_t n = strlen(f->trace);
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(f->trace + n, sizeof(f->trace) - n, fmt, ap);
        va_end(ap);
}

static int f_subscribe(void *ctx, const char *const *topics, size_t n)
{
        Fake *f = ctx;

        for (size_t i = 0; i < n; i++) {
                assert_true(strncmp(topics[i], PFX, strlen(PFX)) == 0);
                f->nsubs++;
        }
        f->nsubcalls++;
        return 0;
}

static int f_publish(void *ctx, const char *topic, const char *json)
{
        Fake *f = ctx;

        assert_true(f->npub < NPUB);
        assert_true(strncmp(topic, PFX, strlen(PFX)) == 0);
        snprintf(f->topic[f->npub], sizeof(f->topic[0]), "%s", topic + strlen(PFX));
        snprintf(f->body[f->npub], sizeof(f->body[0]), "%s", json);
        tr(f, "pub(%s) ", f->topic[f->npub]);
        f->npub++;
        return 0;
}

static int f_rotate(void *ctx, bool force, char *reason, size_t size)
{
        Fake *f = ctx;

        f->rotate_calls++;
        f->force = force;
        tr(f, "rotate ");
        if (f->rotate_ret < 0)
                snprintf(reason, size, "rotation refused");
        return f->rotate_ret;
}

static int f_reprovision(void *ctx, char *reason, size_t size)
{
        Fake *f = ctx;

        f->reprov_calls++;
        tr(f, "reprovision ");
        if (f->reprov_ret < 0)
                snprintf(reason, size, "no claim on this device");
        return f->reprov_ret;
}

static int f_report(void *ctx, char *reason, size_t size)
{
        Fake *f = ctx;

        f->report_calls++;
        tr(f, "report ");
        if (f->report_ret < 0)
                snprintf(reason, size, "no status yet");
        return f->report_ret;
}

static int f_policy(void *ctx, const ObJobOp *op, char *reason, size_t size)
{
        Fake *f = ctx;

        f->policy_calls++;
        f->policy = *op;
        tr(f, "policy ");
        if (f->policy_ret < 0)
                snprintf(reason, size, "policy not writable");
        return f->policy_ret;
}

static int f_save(void *ctx)
{
        Fake *f = ctx;
        json_object *j = ob_job_runner_to_json(f->r);

        assert_non_null(j);
        if (f->save_ret < 0) {
                json_object_put(j);
                return f->save_ret;
        }
        snprintf(f->saved, sizeof(f->saved), "%s",
                 json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
        tr(f, "save(%s) ", ob_job_phase_to_string(ob_job_runner_phase(f->r)));
        json_object_put(j);
        return 0;
}

static const char *f_cert(void *ctx)
{
        return ((Fake *)ctx)->cert;
}

static bool f_pending(void *ctx)
{
        return ((Fake *)ctx)->pending;
}

static const ObJobRunnerOps fake_ops = {
        .subscribe = f_subscribe,
        .publish = f_publish,
        .rotate = f_rotate,
        .reprovision = f_reprovision,
        .report = f_report,
        .set_rotation_policy = f_policy,
        .save = f_save,
        .certificate_id = f_cert,
        .operation_pending = f_pending,
};

static void fake_init(Fake *f)
{
        *f = (Fake){.cert = "c0ffee01"};
        f->r = ob_job_runner_new(&fake_ops, f, NULL);
        assert_non_null(f->r);
}

static void fake_done(Fake *f)
{
        ob_job_runner_free(f->r);
}

static void deliver(Fake *f, const char *topic, const char *payload)
{
        char t[200];

        snprintf(t, sizeof(t), PFX "%s", topic);
        assert_true(ob_job_runner_message(f->r, t, payload, strlen(payload), 1000));
}

/* The last publish: its topic (after PFX) and body. */
static void assert_last_pub(const Fake *f, const char *topic, const char *body)
{
        assert_true(f->npub > 0);
        assert_string_equal(f->topic[f->npub - 1], topic);
        assert_string_equal(f->body[f->npub - 1], body);
}

/* A start-next/accepted reply with job id, version and document (AWS's shape). */
static void offer(Fake *f, const char *id, int version, const char *doc)
{
        char p[1024];

        snprintf(p, sizeof(p),
                 "{\"execution\":{\"jobId\":\"%s\",\"thingName\":\"" T "\",\"jobDocument\":%s,"
                 "\"status\":\"IN_PROGRESS\",\"queuedAt\":1,\"startedAt\":2,"
                 "\"lastUpdatedAt\":2,\"versionNumber\":%d,\"executionNumber\":1},"
                 "\"timestamp\":3}",
                 id, doc, version);
        deliver(f, "start-next/accepted", p);
}

static void connect_idle(Fake *f)
{
        assert_int_equal(ob_job_runner_session_connected(f->r, T, 1000), 0);
        assert_int_equal(f->nsubs, 7);
        assert_int_equal(f->nsubcalls, 1); /* one SUBSCRIBE where the transport can */
        assert_last_pub(f, "start-next", "{\"stepTimeoutInMinutes\":10}");
        assert_true(ob_job_runner_busy(f->r));
}

#define ACCEPTED "{\"timestamp\":5}"

static void test_report(void **state)
{
        Fake f;

        (void)state;
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rep-1", 1, "{\"operation\":\"report\"}");
        /* persisted FIRST, then IN_PROGRESS with expectedVersion (no step: a short op) */
        assert_string_equal(f.trace, "pub(start-next) save(received) pub(rep-1/update) ");
        assert_last_pub(&f, "rep-1/update", "{\"status\":\"IN_PROGRESS\",\"expectedVersion\":1}");
        assert_int_equal(f.report_calls, 0);
        deliver(&f, "rep-1/update/accepted", ACCEPTED);
        assert_int_equal(f.report_calls, 1);
        assert_last_pub(&f, "rep-1/update",
                        "{\"status\":\"SUCCEEDED\",\"statusDetails\":{\"result\":\"reported\"},"
                        "\"expectedVersion\":2}");
        deliver(&f, "rep-1/update/accepted", ACCEPTED);
        /* acknowledged: forgotten, and the next job asked for */
        assert_string_equal(f.saved, "{\"phase\":\"idle\"}");
        assert_last_pub(&f, "start-next", "{\"stepTimeoutInMinutes\":10}");
        deliver(&f, "start-next/accepted", "{\"timestamp\":6}");
        assert_false(ob_job_runner_busy(f.r));
        assert_string_equal(f.trace, "pub(start-next) save(received) pub(rep-1/update) report "
                                     "save(done) pub(rep-1/update) save(idle) pub(start-next) ");
        /* another thing's or another job's topic is not acted on */
        assert_false(ob_job_runner_message(f.r, "$aws/things/other/jobs/notify-next", "{}", 2, 1));
        assert_false(ob_job_runner_message(f.r, "sdk/test", "{}", 2, 1));
        fake_done(&f);
}

static void test_set_policy(void **state)
{
        Fake f;

        (void)state;
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "pol-1", 4,
              "{\"operation\":\"set-rotation-policy\",\"lifetime_fraction\":0.5,"
              "\"max_age_days\":90}");
        deliver(&f, "pol-1/update/accepted",
                "{\"executionState\":{\"status\":\"IN_PROGRESS\","
                "\"versionNumber\":7},\"timestamp\":5}");
        assert_int_equal(f.policy_calls, 1);
        assert_true(f.policy.has_fraction && f.policy.has_age && !f.policy.has_days);
        assert_int_equal(f.policy.max_age_days, 90);
        /* the reply's versionNumber is the next expectedVersion */
        assert_last_pub(&f, "pol-1/update",
                        "{\"status\":\"SUCCEEDED\",\"statusDetails\":{\"policy\":"
                        "\"lifetime_fraction=0.5,max_age_days=90\"},\"expectedVersion\":7}");
        fake_done(&f);
}

/* report and set-rotation-policy refused by the agent: FAILED with the reason */
static void test_short_op_failed(void **state)
{
        Fake f;

        (void)state;
        fake_init(&f);
        f.report_ret = -EAGAIN;
        connect_idle(&f);
        offer(&f, "rep-1", 1, "{\"operation\":\"report\"}");
        deliver(&f, "rep-1/update/accepted", ACCEPTED);
        assert_last_pub(&f, "rep-1/update",
                        "{\"status\":\"FAILED\",\"statusDetails\":{\"errorCode\":\"report-failed\","
                        "\"reason\":\"no status yet\"},\"expectedVersion\":2}");
        fake_done(&f);

        fake_init(&f);
        f.policy_ret = -EROFS;
        connect_idle(&f);
        offer(&f, "pol-1", 1, "{\"operation\":\"set-rotation-policy\",\"max_age_days\":30}");
        deliver(&f, "pol-1/update/accepted", ACCEPTED);
        assert_last_pub(
                &f, "pol-1/update",
                "{\"status\":\"FAILED\",\"statusDetails\":{\"errorCode\":\"policy-refused\","
                "\"reason\":\"policy not writable\"},\"expectedVersion\":2}");
        fake_done(&f);
}

static void test_rotate(void **state)
{
        Fake f;

        (void)state;
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rot-1", 1, "{\"operation\":\"rotate\",\"force\":true}");
        /* a long op: the step timeout goes with IN_PROGRESS */
        assert_last_pub(&f, "rot-1/update",
                        "{\"status\":\"IN_PROGRESS\",\"expectedVersion\":1,"
                        "\"stepTimeoutInMinutes\":60}");
        deliver(&f, "rot-1/update/accepted", ACCEPTED);
        /* executing persisted (with the certificate it started from) before the machine is
         * asked; the session need not stay up for it */
        assert_string_equal(f.saved, "{\"phase\":\"executing\",\"job_id\":\"rot-1\",\"version\":2,"
                                     "\"document\":{\"operation\":\"rotate\",\"force\":true},"
                                     "\"from_certificate\":\"c0ffee01\"}");
        assert_non_null(strstr(f.trace, "save(executing) rotate "));
        assert_int_equal(f.rotate_calls, 1);
        assert_true(f.force);
        assert_false(ob_job_runner_busy(f.r));
        ob_job_runner_session_lost(f.r, 2000);
        /* committed while disconnected: persisted now, sent at the next session */
        f.npub = 0;
        assert_int_equal(ob_job_runner_operation_done(f.r, true, "beef0002", NULL, NULL, 3000), 0);
        assert_int_equal(f.npub, 0);
        assert_int_equal(ob_job_runner_phase(f.r), OB_JOB_PHASE_DONE);
        f.cert = "beef0002";
        assert_int_equal(ob_job_runner_session_connected(f.r, T, 4000), 0);
        assert_last_pub(&f, "rot-1/update",
                        "{\"status\":\"SUCCEEDED\",\"statusDetails\":{\"certificateId\":"
                        "\"beef0002\"},\"expectedVersion\":2}");
        assert_int_equal(f.rotate_calls, 1);
        /* a second operation_done is stale */
        assert_int_equal(ob_job_runner_operation_done(f.r, true, "x", NULL, NULL, 5000), -ESTALE);
        fake_done(&f);

        /* a failed rotation: FAILED with the machine's error code and class */
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rot-2", 1, "{\"operation\":\"rotate\"}");
        deliver(&f, "rot-2/update/accepted", ACCEPTED);
        assert_false(f.force);
        assert_int_equal(
                ob_job_runner_operation_done(f.r, false, NULL, "ETIMEDOUT", "network", 3000), 0);
        assert_last_pub(&f, "rot-2/update",
                        "{\"status\":\"FAILED\",\"statusDetails\":{\"errorCode\":\"ETIMEDOUT\","
                        "\"errorClass\":\"network\"},\"expectedVersion\":2}");
        fake_done(&f);

        /* not forced and not due: SUCCEEDED at once, nothing rotated */
        fake_init(&f);
        f.rotate_ret = 1;
        connect_idle(&f);
        offer(&f, "rot-3", 1, "{\"operation\":\"rotate\"}");
        deliver(&f, "rot-3/update/accepted", ACCEPTED);
        assert_last_pub(&f, "rot-3/update",
                        "{\"status\":\"SUCCEEDED\",\"statusDetails\":{\"result\":\"not-due\"},"
                        "\"expectedVersion\":2}");
        fake_done(&f);
}

static void test_reprovision(void **state)
{
        Fake f;

        (void)state;
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rep-9", 3, "{\"operation\":\"reprovision\"}");
        assert_last_pub(&f, "rep-9/update",
                        "{\"status\":\"IN_PROGRESS\",\"expectedVersion\":3,"
                        "\"stepTimeoutInMinutes\":60}");
        deliver(&f, "rep-9/update/accepted", ACCEPTED);
        assert_int_equal(f.reprov_calls, 1);
        assert_int_equal(ob_job_runner_operation_done(f.r, true, "d00d0003", NULL, NULL, 3000), 0);
        assert_last_pub(&f, "rep-9/update",
                        "{\"status\":\"SUCCEEDED\",\"statusDetails\":{\"certificateId\":"
                        "\"d00d0003\"},\"expectedVersion\":4}");
        fake_done(&f);

        /* refused (no claim): FAILED with the reason, at once */
        fake_init(&f);
        f.reprov_ret = -ENOENT;
        connect_idle(&f);
        offer(&f, "rep-8", 1, "{\"operation\":\"reprovision\"}");
        deliver(&f, "rep-8/update/accepted", ACCEPTED);
        assert_last_pub(&f, "rep-8/update",
                        "{\"status\":\"FAILED\",\"statusDetails\":{\"errorCode\":\"refused\","
                        "\"reason\":\"no claim on this device\"},\"expectedVersion\":2}");
        fake_done(&f);
}

static void test_unknown_op(void **state)
{
        Fake f;

        (void)state;
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "bad-1", 1, "{\"operation\":\"reboot\"}");
        /* REJECTED persisted then sent; no IN_PROGRESS, nothing run */
        assert_string_equal(f.trace, "pub(start-next) save(done) pub(bad-1/update) ");
        assert_last_pub(&f, "bad-1/update",
                        "{\"status\":\"REJECTED\",\"statusDetails\":{\"reason\":\"unknown "
                        "operation 'reboot' (this agent does rotate, reprovision, report, "
                        "set-rotation-policy)\"},\"expectedVersion\":1}");
        deliver(&f, "bad-1/update/accepted", ACCEPTED);
        assert_last_pub(&f, "start-next", "{\"stepTimeoutInMinutes\":10}");
        fake_done(&f);

        /* arguments out of their safe bounds: REJECTED too */
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "bad-2", 1, "{\"operation\":\"set-rotation-policy\",\"lifetime_fraction\":2}");
        assert_non_null(strstr(f.body[f.npub - 1], "\"REJECTED\""));
        assert_non_null(strstr(f.body[f.npub - 1], "lifetime_fraction must be within"));
        assert_int_equal(f.policy_calls, 0);
        fake_done(&f);
}

#define MISMATCH "{\"code\":\"VersionMismatch\",\"message\":\"v\",\"timestamp\":5}"

static void test_version_mismatch(void **state)
{
        Fake f;

        (void)state;
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rep-1", 1, "{\"operation\":\"report\"}");
        deliver(&f, "rep-1/update/rejected", MISMATCH);
        /* re-read with DescribeJobExecution */
        assert_last_pub(&f, "rep-1/get", "{\"includeJobDocument\":true}");
        assert_true(ob_job_runner_busy(f.r));
        deliver(&f, "rep-1/get/accepted",
                "{\"execution\":{\"jobId\":\"rep-1\",\"status\":\"IN_PROGRESS\","
                "\"versionNumber\":3,\"executionNumber\":1,"
                "\"jobDocument\":{\"operation\":\"report\"}},\"timestamp\":6}");
        assert_last_pub(&f, "rep-1/update", "{\"status\":\"IN_PROGRESS\",\"expectedVersion\":3}");
        assert_int_equal(f.report_calls, 0);
        deliver(&f, "rep-1/update/accepted", ACCEPTED);
        assert_int_equal(f.report_calls, 1);
        /* the outcome's update also mismatches, and the cloud already has it: forgotten, the
         * report not run again */
        deliver(&f, "rep-1/update/rejected", MISMATCH);
        assert_last_pub(&f, "rep-1/get", "{\"includeJobDocument\":true}");
        deliver(&f, "rep-1/get/accepted",
                "{\"execution\":{\"jobId\":\"rep-1\",\"status\":\"SUCCEEDED\","
                "\"versionNumber\":5,\"executionNumber\":1,"
                "\"jobDocument\":{\"operation\":\"report\"}},\"timestamp\":7}");
        assert_int_equal(ob_job_runner_phase(f.r), OB_JOB_PHASE_IDLE);
        assert_last_pub(&f, "start-next", "{\"stepTimeoutInMinutes\":10}");
        assert_int_equal(f.report_calls, 1);
        fake_done(&f);

        /* canceled in the cloud while executing: the job is gone (get rejected) */
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rep-2", 1, "{\"operation\":\"report\"}");
        deliver(&f, "rep-2/update/rejected",
                "{\"code\":\"TerminalStateReached\",\"message\":\"canceled\"}");
        deliver(&f, "rep-2/get/rejected", "{\"code\":\"ResourceNotFound\",\"message\":\"n\"}");
        assert_int_equal(ob_job_runner_phase(f.r), OB_JOB_PHASE_IDLE);
        assert_int_equal(f.report_calls, 0);
        fake_done(&f);

        /* a describe throttled, or a reply without the execution: nothing forgotten, nothing
         * run; resumed at the next session */
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rep-4", 1, "{\"operation\":\"report\"}");
        deliver(&f, "rep-4/update/rejected", MISMATCH);
        deliver(&f, "rep-4/get/rejected", "{\"code\":\"Throttling\",\"message\":\"slow\"}");
        assert_false(ob_job_runner_busy(f.r));
        assert_int_equal(ob_job_runner_phase(f.r), OB_JOB_PHASE_RECEIVED);
        assert_int_equal(ob_job_runner_session_connected(f.r, T, 5000), 0);
        deliver(&f, "rep-4/update/rejected", MISMATCH);
        deliver(&f, "rep-4/get/accepted", "{\"timestamp\":6}");
        assert_false(ob_job_runner_busy(f.r));
        assert_int_equal(ob_job_runner_phase(f.r), OB_JOB_PHASE_RECEIVED);
        assert_int_equal(f.report_calls, 0);
        fake_done(&f);

        /* a rejection that does not settle stops after 3 rounds (no loop) */
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rep-3", 1, "{\"operation\":\"report\"}");
        for (int i = 0; i < 4; i++) {
                deliver(&f, "rep-3/update/rejected", MISMATCH);
                if (!ob_job_runner_busy(f.r))
                        break;
                deliver(&f, "rep-3/get/accepted",
                        "{\"execution\":{\"jobId\":\"rep-3\",\"status\":\"IN_PROGRESS\","
                        "\"versionNumber\":9,\"executionNumber\":1,\"jobDocument\":{}}}");
        }
        assert_false(ob_job_runner_busy(f.r));
        assert_int_equal(f.report_calls, 0);
        assert_int_equal(ob_job_runner_phase(f.r), OB_JOB_PHASE_RECEIVED);
        fake_done(&f);
}

static void test_timeout_and_lost(void **state)
{
        Fake f;

        (void)state;
        fake_init(&f);
        connect_idle(&f);
        assert_int_equal(ob_job_runner_deadline(f.r), 1000 + OB_JOB_RUNNER_REPLY_TIMEOUT_MS);
        ob_job_runner_tick(f.r, 1000 + OB_JOB_RUNNER_REPLY_TIMEOUT_MS - 1);
        assert_true(ob_job_runner_busy(f.r));
        ob_job_runner_tick(f.r, 1000 + OB_JOB_RUNNER_REPLY_TIMEOUT_MS);
        assert_false(ob_job_runner_busy(f.r));
        assert_int_equal(ob_job_runner_deadline(f.r), -1);
        /* notify-next asks again */
        deliver(&f, "notify-next", "{\"execution\":{\"jobId\":\"j\"},\"timestamp\":1}");
        assert_last_pub(&f, "start-next", "{\"stepTimeoutInMinutes\":10}");
        /* a session lost mid-job: IN_PROGRESS sent, no reply; the next session resends it, the
         * mismatch (the first one went through) is settled, the report runs once */
        offer(&f, "rep-1", 1, "{\"operation\":\"report\"}");
        ob_job_runner_session_lost(f.r, 2000);
        assert_false(ob_job_runner_busy(f.r));
        assert_false(ob_job_runner_message(f.r, PFX "rep-1/update/accepted", "{}", 2, 2001));
        assert_int_equal(ob_job_runner_session_connected(f.r, T, 3000), 0);
        assert_last_pub(&f, "rep-1/update", "{\"status\":\"IN_PROGRESS\",\"expectedVersion\":1}");
        deliver(&f, "rep-1/update/rejected", MISMATCH);
        deliver(&f, "rep-1/get/accepted",
                "{\"execution\":{\"jobId\":\"rep-1\",\"status\":\"IN_PROGRESS\","
                "\"versionNumber\":2,\"executionNumber\":1,"
                "\"jobDocument\":{\"operation\":\"report\"}}}");
        deliver(&f, "rep-1/update/accepted", ACCEPTED);
        assert_int_equal(f.report_calls, 1);
        assert_last_pub(&f, "rep-1/update",
                        "{\"status\":\"SUCCEEDED\",\"statusDetails\":{\"result\":\"reported\"},"
                        "\"expectedVersion\":3}");
        fake_done(&f);
}

/* A "crash": a new runner from what save() last wrote, connected again. */
static void crash(Fake *f)
{
        json_object *j = json_tokener_parse(f->saved);
        char err[200] = "";

        assert_non_null(j);
        ob_job_runner_free(f->r);
        f->r = ob_job_runner_new(&fake_ops, f, NULL);
        assert_int_equal(ob_job_runner_from_json(f->r, j, err, sizeof(err)), 0);
        json_object_put(j);
        f->trace[0] = 0;
        f->npub = 0;
        assert_int_equal(ob_job_runner_session_connected(f->r, T, 9000), 0);
}

static void test_crash_phases(void **state)
{
        Fake f;

        (void)state;
        /* report, received: not run yet -> resumed, run once */
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rep-1", 1, "{\"operation\":\"report\"}");
        crash(&f);
        assert_string_equal(f.trace, "pub(rep-1/update) ");
        deliver(&f, "rep-1/update/accepted", ACCEPTED);
        assert_int_equal(f.report_calls, 1);
        /* report, done: reported SUCCEEDED from what was saved, not run again */
        crash(&f);
        assert_string_equal(f.trace, "pub(rep-1/update) ");
        assert_last_pub(&f, "rep-1/update",
                        "{\"status\":\"SUCCEEDED\",\"statusDetails\":{\"result\":\"reported\"},"
                        "\"expectedVersion\":2}");
        assert_int_equal(f.report_calls, 1);
        fake_done(&f);

        /* set-rotation-policy, done (the policy was written by the same save) */
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "pol-1", 1, "{\"operation\":\"set-rotation-policy\",\"days_before_expiry\":30}");
        deliver(&f, "pol-1/update/accepted", ACCEPTED);
        crash(&f);
        assert_last_pub(&f, "pol-1/update",
                        "{\"status\":\"SUCCEEDED\",\"statusDetails\":{\"policy\":"
                        "\"days_before_expiry=30\"},\"expectedVersion\":2}");
        assert_int_equal(f.policy_calls, 1);
        fake_done(&f);

        /* rotate, executing, and the rotation committed before the crash: SUCCEEDED with the
         * new certificate, not rotated again */
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rot-1", 1, "{\"operation\":\"rotate\",\"force\":true}");
        deliver(&f, "rot-1/update/accepted", ACCEPTED);
        f.cert = "beef0002";
        crash(&f);
        assert_last_pub(&f, "rot-1/update",
                        "{\"status\":\"SUCCEEDED\",\"statusDetails\":{\"certificateId\":"
                        "\"beef0002\"},\"expectedVersion\":2}");
        assert_int_equal(f.rotate_calls, 1);
        fake_done(&f);

        /* rotate, executing, the machine still at it: nothing sent; its end comes later */
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rot-2", 1, "{\"operation\":\"rotate\"}");
        deliver(&f, "rot-2/update/accepted", ACCEPTED);
        f.pending = true;
        crash(&f);
        assert_int_equal(f.npub, 0);
        assert_false(ob_job_runner_busy(f.r));
        assert_int_equal(ob_job_runner_operation_done(f.r, true, "beef0003", NULL, NULL, 9500), 0);
        assert_non_null(strstr(f.body[f.npub - 1], "\"certificateId\":\"beef0003\""));
        assert_int_equal(f.rotate_calls, 1);
        fake_done(&f);

        /* reprovision, executing, not known to have completed (same certificate, the machine
         * idle): FAILED, never asked twice */
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rep-5", 1, "{\"operation\":\"reprovision\"}");
        deliver(&f, "rep-5/update/accepted", ACCEPTED);
        crash(&f);
        assert_last_pub(&f, "rep-5/update",
                        "{\"status\":\"FAILED\",\"statusDetails\":{\"errorCode\":\"interrupted\","
                        "\"reason\":\"interrupted by a restart before the operation "
                        "completed\"},\"expectedVersion\":2}");
        assert_int_equal(f.reprov_calls, 1);
        fake_done(&f);

        /* a REJECTED outcome (an invalid document) survives a crash too */
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "bad-1", 1, "{\"operation\":\"reboot\"}");
        crash(&f);
        assert_non_null(strstr(f.body[0], "\"REJECTED\""));
        fake_done(&f);

        /* a save that fails: nothing is sent before it is persisted */
        fake_init(&f);
        connect_idle(&f);
        f.save_ret = -EIO;
        offer(&f, "rep-7", 1, "{\"operation\":\"report\"}");
        assert_string_equal(f.trace, "pub(start-next) ");
        assert_false(ob_job_runner_busy(f.r));
        fake_done(&f);
}

static void test_bad_state_json(void **state)
{
        static const struct {
                const char *json, *field;
        } bad[] = {
                {"[]", "job must be an object"},
                {"{}", "job.phase"},
                {"{\"phase\":\"running\"}", "job.phase 'running'"},
                {"{\"phase\":\"idle\",\"job_id\":\"x\"}", "job.job_id"},
                {"{\"phase\":\"received\",\"job_id\":\"a/b\",\"version\":1,\"document\":{}}",
                 "job.job_id"},
                {"{\"phase\":\"received\",\"job_id\":\"j\",\"version\":\"1\","
                 "\"document\":{\"operation\":\"report\"}}",
                 "job.version"},
                {"{\"phase\":\"received\",\"job_id\":\"j\",\"version\":1,\"document\":\"x\"}",
                 "job.document"},
                {"{\"phase\":\"received\",\"job_id\":\"j\",\"version\":1,"
                 "\"document\":{\"operation\":\"reboot\"}}",
                 "job.document: unknown operation"},
                {"{\"phase\":\"executing\",\"job_id\":\"j\",\"version\":1,"
                 "\"document\":{\"operation\":\"report\"}}",
                 "job.phase executing"},
                {"{\"phase\":\"received\",\"job_id\":\"j\",\"version\":1,"
                 "\"document\":{\"operation\":\"report\"},\"from_certificate\":\"c\"}",
                 "job.from_certificate"},
                {"{\"phase\":\"done\",\"job_id\":\"j\",\"version\":1,"
                 "\"document\":{\"operation\":\"report\"}}",
                 "job.outcome"},
                {"{\"phase\":\"done\",\"job_id\":\"j\",\"version\":1,"
                 "\"document\":{\"operation\":\"report\"},"
                 "\"outcome\":{\"status\":\"DONE\",\"details\":{}}}",
                 "job.outcome.status"},
                {"{\"phase\":\"done\",\"job_id\":\"j\",\"version\":1,"
                 "\"document\":{\"operation\":\"report\"},"
                 "\"outcome\":{\"status\":\"FAILED\",\"details\":{\"a\":1}}}",
                 "job.outcome.details"},
                {"{\"phase\":\"received\",\"job_id\":\"j\",\"version\":1,"
                 "\"document\":{\"operation\":\"report\"},\"extra\":1}",
                 "job.extra"},
        };
        Fake f;

        (void)state;
        fake_init(&f);
        connect_idle(&f);
        offer(&f, "rep-1", 1, "{\"operation\":\"report\"}");
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                json_object *j = json_tokener_parse(bad[i].json);
                char err[256] = "";

                assert_non_null(j);
                assert_int_equal(ob_job_runner_from_json(f.r, j, err, sizeof(err)), -EINVAL);
                if (!strstr(err, bad[i].field))
                        fail_msg("%s: '%s' does not name %s", bad[i].json, err, bad[i].field);
                /* the runner is unchanged */
                assert_int_equal(ob_job_runner_phase(f.r), OB_JOB_PHASE_RECEIVED);
                json_object_put(j);
        }
        fake_done(&f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_report),           cmocka_unit_test(test_set_policy),
                cmocka_unit_test(test_short_op_failed),  cmocka_unit_test(test_rotate),
                cmocka_unit_test(test_reprovision),      cmocka_unit_test(test_unknown_op),
                cmocka_unit_test(test_version_mismatch), cmocka_unit_test(test_timeout_and_lost),
                cmocka_unit_test(test_crash_phases),     cmocka_unit_test(test_bad_state_json),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
