/* SPDX-License-Identifier: Apache-2.0 */
/* The job runner: see lib/job-runner.h and docs/jobs.md. */
#include "job-runner.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"

#define CERT_ID_MAX     128
#define STATUS_MAX      16
#define TOPIC_MAX       256
#define DESCRIBE_ROUNDS 3 /* DescribeJobExecution rounds per session before giving up */

typedef enum Wait {
        WAIT_NONE,
        WAIT_START_NEXT,
        WAIT_UPDATE,
        WAIT_DESCRIBE,
} Wait;

struct ObJobRunner {
        const ObJobRunnerOps *ops;
        void *ctx;
        ObJobRunnerConfig cfg;

        /* persisted */
        ObJobPhase phase;
        char job_id[OB_JOBS_ID_MAX + 1];
        int64_t version;
        json_object *document; /* the job document (owned) */
        ObJobOp op;
        char from_cert[CERT_ID_MAX + 1]; /* executing: the certificate when the op was asked */
        char status[STATUS_MAX];         /* done: SUCCEEDED, FAILED, REJECTED */
        json_object *details;            /* done: statusDetails (owned) */

        /* this session */
        bool connected;
        char thing[OB_JOBS_THING_MAX + 1];
        Wait wait;
        int64_t deadline;
        unsigned rounds;
};

static const char *const phase_names[_OB_JOB_PHASE_MAX] = {
        [OB_JOB_PHASE_IDLE] = "idle",
        [OB_JOB_PHASE_RECEIVED] = "received",
        [OB_JOB_PHASE_EXECUTING] = "executing",
        [OB_JOB_PHASE_DONE] = "done",
};

const char *ob_job_phase_to_string(ObJobPhase p)
{
        return p >= 0 && p < _OB_JOB_PHASE_MAX ? phase_names[p] : NULL;
}

ObJobPhase ob_job_runner_phase(const ObJobRunner *r)
{
        return r->phase;
}

static bool long_op(const ObJobRunner *r)
{
        return r->op.kind == OB_JOB_OP_ROTATE || r->op.kind == OB_JOB_OP_REPROVISION;
}

static void clear_job(ObJobRunner *r)
{
        json_object_put(r->document);
        json_object_put(r->details);
        r->document = r->details = NULL;
        r->phase = OB_JOB_PHASE_IDLE;
        r->job_id[0] = r->from_cert[0] = r->status[0] = 0;
        r->version = 0;
        r->op = (ObJobOp){0};
}

ObJobRunner *ob_job_runner_new(const ObJobRunnerOps *ops, void *ctx, const ObJobRunnerConfig *cfg)
{
        ObJobRunner *r = calloc(1, sizeof(*r));

        if (!r)
                return NULL;
        r->ops = ops;
        r->ctx = ctx;
        if (cfg)
                r->cfg = *cfg;
        if (r->cfg.reply_timeout_ms <= 0)
                r->cfg.reply_timeout_ms = OB_JOB_RUNNER_REPLY_TIMEOUT_MS;
        if (r->cfg.step_long_min <= 0 || r->cfg.step_long_min > OB_JOBS_STEP_TIMEOUT_MAX)
                r->cfg.step_long_min = OB_JOB_RUNNER_STEP_LONG_MIN;
        r->deadline = -1;
        return r;
}

ObJobRunner *ob_job_runner_free(ObJobRunner *r)
{
        if (r) {
                clear_job(r);
                free(r);
        }
        return NULL;
}

/* ---- the persisted part */

json_object *ob_job_runner_to_json(const ObJobRunner *r)
{
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "phase", json_object_new_string(phase_names[r->phase]));
        if (r->phase == OB_JOB_PHASE_IDLE)
                return o;
        json_object_object_add(o, "job_id", json_object_new_string(r->job_id));
        json_object_object_add(o, "version", json_object_new_int64(r->version));
        json_object_object_add(o, "document", json_object_get(r->document));
        if (r->phase == OB_JOB_PHASE_EXECUTING && r->from_cert[0])
                json_object_object_add(o, "from_certificate", json_object_new_string(r->from_cert));
        if (r->phase == OB_JOB_PHASE_DONE) {
                json_object *out = json_object_new_object();

                json_object_object_add(out, "status", json_object_new_string(r->status));
                json_object_object_add(out, "details", json_object_get(r->details));
                json_object_object_add(o, "outcome", out);
        }
        return o;
}

static int fail(char *err, size_t errsize, const char *fmt, ...) _printf_(3, 4);
static int fail(char *err, size_t errsize, const char *fmt, ...)
{
        va_list ap;

        if (err && errsize) {
                va_start(ap, fmt);
                vsnprintf(err, errsize, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static bool outcome_status_valid(const char *s)
{
        return strcmp(s, "SUCCEEDED") == 0 || strcmp(s, "FAILED") == 0 ||
               strcmp(s, "REJECTED") == 0;
}

static int outcome_from_json(json_object *out, ObJobRunner *n, char *err, size_t errsize)
{
        json_object *v;
        int e = 0;

        if (!json_object_is_type(out, json_type_object))
                return fail(err, errsize, "job.outcome must be an object");
        json_object_object_foreach(out, key, val)
        {
                if (strcmp(key, "status") != 0 && strcmp(key, "details") != 0)
                        return fail(err, errsize, "job.outcome.%.40s is not a known field", key);
                (void)val;
        }
        if (!json_object_object_get_ex(out, "status", &v) ||
            !json_object_is_type(v, json_type_string) ||
            !outcome_status_valid(json_object_get_string(v)))
                return fail(err, errsize,
                            "job.outcome.status must be SUCCEEDED, FAILED or REJECTED");
        snprintf(n->status, sizeof(n->status), "%s", json_object_get_string(v));
        if (!json_object_object_get_ex(out, "details", &v))
                return fail(err, errsize, "job.outcome.details is missing");
        /* the same check AWS makes: the update builder refuses bad statusDetails */
        json_object_put(ob_jobs_build_update(n->status, v, -1, 0, NULL, &e));
        if (e < 0)
                return fail(err, errsize,
                            "job.outcome.details must be an object of non-empty strings");
        n->details = json_object_get(v);
        return 0;
}

int ob_job_runner_from_json(ObJobRunner *r, json_object *j, char *err, size_t errsize)
{
        ObJobRunner n = {0};
        json_object *v;
        char reason[OB_JOB_RUNNER_REASON_MAX];
        int k;

        if (!j) {
                clear_job(r);
                return 0;
        }
        if (!json_object_is_type(j, json_type_object))
                return fail(err, errsize, "job must be an object");
        if (!json_object_object_get_ex(j, "phase", &v) || !json_object_is_type(v, json_type_string))
                return fail(err, errsize, "job.phase is missing or not a string");
        for (k = 0; k < _OB_JOB_PHASE_MAX; k++)
                if (strcmp(json_object_get_string(v), phase_names[k]) == 0)
                        break;
        if (k == _OB_JOB_PHASE_MAX)
                return fail(err, errsize,
                            "job.phase '%.40s' is not idle, received, executing or done",
                            json_object_get_string(v));
        n.phase = (ObJobPhase)k;
        json_object_object_foreach(j, key, val)
        {
                static const char *const known[] = {"phase",    "job_id",           "version",
                                                    "document", "from_certificate", "outcome"};
                bool ok = false;

                for (size_t i = 0; i < OB_ELEMENTSOF(known); i++)
                        ok = ok || strcmp(key, known[i]) == 0;
                if (!ok || (n.phase == OB_JOB_PHASE_IDLE && strcmp(key, "phase") != 0))
                        return fail(err, errsize, "job.%.40s is not a known field%s", key,
                                    ok ? " of an idle runner" : "");
                (void)val;
        }
        if (n.phase == OB_JOB_PHASE_IDLE) {
                clear_job(r);
                return 0;
        }
        if (!json_object_object_get_ex(j, "job_id", &v) ||
            !json_object_is_type(v, json_type_string) ||
            !ob_jobs_id_valid(json_object_get_string(v)))
                return fail(err, errsize, "job.job_id is missing or not 1-%d of [a-zA-Z0-9_-]",
                            OB_JOBS_ID_MAX);
        snprintf(n.job_id, sizeof(n.job_id), "%s", json_object_get_string(v));
        if (!json_object_object_get_ex(j, "version", &v) ||
            !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                return fail(err, errsize, "job.version is missing or not a versionNumber");
        n.version = json_object_get_int64(v);
        if (!json_object_object_get_ex(j, "document", &v) ||
            !json_object_is_type(v, json_type_object))
                return fail(err, errsize, "job.document is missing or not an object");
        /* an invalid document is kept only to report its REJECTED */
        if (ob_jobs_parse_operation(v, &n.op, reason, sizeof(reason)) < 0 &&
            n.phase != OB_JOB_PHASE_DONE)
                return fail(err, errsize, "job.document: %s", reason);
        if (n.phase == OB_JOB_PHASE_EXECUTING && n.op.kind != OB_JOB_OP_ROTATE &&
            n.op.kind != OB_JOB_OP_REPROVISION)
                return fail(err, errsize,
                            "job.phase executing is only for rotate and reprovision, not %s",
                            ob_job_op_to_string(n.op.kind));
        if (json_object_object_get_ex(j, "from_certificate", &v)) {
                if (n.phase != OB_JOB_PHASE_EXECUTING ||
                    !json_object_is_type(v, json_type_string) ||
                    json_object_get_string_len(v) > CERT_ID_MAX)
                        return fail(err, errsize,
                                    "job.from_certificate must be a certificate id, and only "
                                    "when executing");
                snprintf(n.from_cert, sizeof(n.from_cert), "%s", json_object_get_string(v));
        }
        if (json_object_object_get_ex(j, "outcome", &v) != (n.phase == OB_JOB_PHASE_DONE))
                return fail(err, errsize, "job.outcome must be there exactly when done");
        if (n.phase == OB_JOB_PHASE_DONE && outcome_from_json(v, &n, err, errsize) < 0)
                return -EINVAL;
        json_object_object_get_ex(j, "document", &v);
        clear_job(r);
        r->phase = n.phase;
        memcpy(r->job_id, n.job_id, sizeof(r->job_id));
        r->version = n.version;
        r->document = json_object_get(v);
        r->op = n.op;
        memcpy(r->from_cert, n.from_cert, sizeof(r->from_cert));
        memcpy(r->status, n.status, sizeof(r->status));
        r->details = n.details;
        return 0;
}

/* ---- the session */

static void stop_waiting(ObJobRunner *r)
{
        r->wait = WAIT_NONE;
        r->deadline = -1;
}

static int persist(ObJobRunner *r)
{
        int e = r->ops->save(r->ctx);

        if (e < 0) {
                ob_log_debug("jobs: state not saved (%d): stopping for this session", e);
                stop_waiting(r);
        }
        return e;
}

static int send_json(ObJobRunner *r, const char *job_id, const char *op, json_object *req,
                     Wait wait, int64_t now_ms)
{
        char topic[TOPIC_MAX];
        int e;

        if (!req) {
                stop_waiting(r);
                return -ENOMEM;
        }
        e = ob_jobs_topic(topic, sizeof(topic), r->thing, job_id, op);
        if (e == 0)
                e = r->ops->publish(r->ctx, topic,
                                    json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
        json_object_put(req);
        if (e < 0) {
                stop_waiting(r);
                return e;
        }
        r->wait = wait;
        r->deadline = now_ms + r->cfg.reply_timeout_ms;
        return 0;
}

static int send_start_next(ObJobRunner *r, int64_t now_ms)
{
        return send_json(r, NULL, "start-next",
                         ob_jobs_build_start_next(OB_JOB_RUNNER_STEP_SHORT_MIN, NULL),
                         WAIT_START_NEXT, now_ms);
}

/* The job's update: IN_PROGRESS (received) or its outcome (done). */
static int send_update(ObJobRunner *r, int64_t now_ms)
{
        bool done = r->phase == OB_JOB_PHASE_DONE;
        json_object *req;
        int e;

        req = ob_jobs_build_update(done ? r->status : "IN_PROGRESS", done ? r->details : NULL,
                                   r->version, !done && long_op(r) ? r->cfg.step_long_min : 0, NULL,
                                   &e);
        if (!req)
                return e;
        return send_json(r, r->job_id, "update", req, WAIT_UPDATE, now_ms);
}

/* DescribeJobExecution: the cloud's current state of our job. */
static int send_describe(ObJobRunner *r, int64_t now_ms)
{
        if (++r->rounds > DESCRIBE_ROUNDS) {
                ob_log_debug("jobs: %s: still not settled after %u rounds: stopping for this "
                             "session",
                             r->job_id, DESCRIBE_ROUNDS);
                stop_waiting(r);
                return -EPROTO;
        }
        return send_json(r, r->job_id, "get", ob_jobs_build_describe(), WAIT_DESCRIBE, now_ms);
}

/* Persist the outcome, then send it when connected. */
static int finish(ObJobRunner *r, const char *status, json_object *details, int64_t now_ms)
{
        int e;

        json_object_put(r->details);
        r->details = details;
        snprintf(r->status, sizeof(r->status), "%s", status);
        r->from_cert[0] = 0;
        r->phase = OB_JOB_PHASE_DONE;
        e = persist(r);
        if (e < 0)
                return e;
        return r->connected ? send_update(r, now_ms) : 0;
}

static json_object *details1(const char *k, const char *v)
{
        json_object *d = json_object_new_object();

        if (d)
                json_object_object_add(d, k, json_object_new_string(v && *v ? v : "unknown"));
        return d;
}

static json_object *failed_details(const char *code, const char *class, const char *reason)
{
        json_object *d = details1("errorCode", code);

        if (d && class && *class)
                json_object_object_add(d, "errorClass", json_object_new_string(class));
        if (d && reason && *reason)
                json_object_object_add(d, "reason", json_object_new_string(reason));
        return d;
}

/* The job is over in the cloud, or acknowledged: forget it and ask for the next. */
static int drop_job(ObJobRunner *r, int64_t now_ms)
{
        int e;

        clear_job(r);
        e = persist(r);
        if (e < 0)
                return e;
        return r->connected ? send_start_next(r, now_ms) : 0;
}

static void policy_text(const ObJobOp *op, char *buf, size_t size)
{
        size_t n = 0;

        buf[0] = 0;
        if (op->has_fraction)
                n += (size_t)snprintf(buf + n, size - n, "lifetime_fraction=%g,",
                                      op->lifetime_fraction);
        if (op->has_days && n < size)
                n += (size_t)snprintf(buf + n, size - n, "days_before_expiry=%u,",
                                      op->days_before_expiry);
        if (op->has_age && n < size)
                n += (size_t)snprintf(buf + n, size - n, "max_age_days=%u,", op->max_age_days);
        if (n > 0 && n <= size)
                buf[n - 1] = 0; /* the last comma */
}

/* IN_PROGRESS accepted: run the operation. */
static int run_op(ObJobRunner *r, int64_t now_ms)
{
        char reason[OB_JOB_RUNNER_REASON_MAX] = "";
        const char *cert;
        int e;

        switch (r->op.kind) {
        case OB_JOB_OP_REPORT:
                e = r->ops->report(r->ctx, reason, sizeof(reason));
                return e < 0 ? finish(r, "FAILED", failed_details("report-failed", NULL, reason),
                                      now_ms)
                             : finish(r, "SUCCEEDED", details1("result", "reported"), now_ms);
        case OB_JOB_OP_SET_ROTATION_POLICY:
                e = r->ops->set_rotation_policy(r->ctx, &r->op, reason, sizeof(reason));
                if (e < 0)
                        return finish(r, "FAILED", failed_details("policy-refused", NULL, reason),
                                      now_ms);
                policy_text(&r->op, reason, sizeof(reason));
                return finish(r, "SUCCEEDED", details1("policy", reason), now_ms);
        case OB_JOB_OP_ROTATE:
        case OB_JOB_OP_REPROVISION:
                /* executing is persisted BEFORE the machine is asked: a restart from here on
                 * never asks again (docs/jobs.md) */
                cert = r->ops->certificate_id(r->ctx);
                snprintf(r->from_cert, sizeof(r->from_cert), "%s", cert ? cert : "");
                r->phase = OB_JOB_PHASE_EXECUTING;
                e = persist(r);
                if (e < 0)
                        return e;
                stop_waiting(r);
                e = r->op.kind == OB_JOB_OP_ROTATE
                            ? r->ops->rotate(r->ctx, r->op.force, reason, sizeof(reason))
                            : r->ops->reprovision(r->ctx, reason, sizeof(reason));
                if (e > 0)
                        return finish(r, "SUCCEEDED", details1("result", "not-due"), now_ms);
                if (e < 0)
                        return finish(r, "FAILED", failed_details("refused", NULL, reason), now_ms);
                return 0;
        case _OB_JOB_OP_MAX:
        default:
                return -EINVAL;
        }
}

/* Executing at a session's start: the machine is still at it, or it ended without telling us
 * (a restart): the certificate says whether it committed. Never asked again. */
static int settle_executing(ObJobRunner *r, int64_t now_ms)
{
        const char *cert;

        if (r->ops->operation_pending(r->ctx))
                return 0;
        cert = r->ops->certificate_id(r->ctx);
        if (cert && *cert && strcmp(cert, r->from_cert) != 0)
                return finish(r, "SUCCEEDED", details1("certificateId", cert), now_ms);
        return finish(r, "FAILED",
                      failed_details("interrupted", NULL,
                                     "interrupted by a restart before the operation completed"),
                      now_ms);
}

static int resume(ObJobRunner *r, int64_t now_ms)
{
        switch (r->phase) {
        case OB_JOB_PHASE_IDLE:
                return send_start_next(r, now_ms);
        case OB_JOB_PHASE_RECEIVED:
        case OB_JOB_PHASE_DONE:
                return send_update(r, now_ms);
        case OB_JOB_PHASE_EXECUTING:
                return settle_executing(r, now_ms);
        case _OB_JOB_PHASE_MAX:
        default:
                return -EINVAL;
        }
}

int ob_job_runner_session_connected(ObJobRunner *r, const char *thing, int64_t now_ms)
{
        static const char *const subs[] = {
                "start-next/accepted", "start-next/rejected", "notify-next",    "+/update/accepted",
                "+/update/rejected",   "+/get/accepted",      "+/get/rejected",
        };
        char topic[OB_ELEMENTSOF(subs)][TOPIC_MAX];
        const char *filters[OB_ELEMENTSOF(subs)];
        int e = 0;

        if (!ob_jobs_thing_valid(thing))
                return -EINVAL;
        snprintf(r->thing, sizeof(r->thing), "%s", thing);
        r->connected = true;
        stop_waiting(r);
        r->rounds = 0;
        for (size_t i = 0; i < OB_ELEMENTSOF(subs) && e == 0; i++) {
                /* ob_jobs_topic() refuses wildcards: the job level is built here */
                if (subs[i][0] == '+')
                        e = snprintf(topic[i], sizeof(topic[i]), "$aws/things/%s/jobs/%s", thing,
                                     subs[i]) >= (int)sizeof(topic[i])
                                    ? -ENOBUFS
                                    : 0;
                else
                        e = ob_jobs_topic(topic[i], sizeof(topic[i]), thing, NULL, subs[i]);
                filters[i] = topic[i];
        }
        /* all seven in one call: one SUBSCRIBE where the transport can (AWS takes <= 8) */
        if (e == 0)
                e = r->ops->subscribe(r->ctx, filters, OB_ELEMENTSOF(subs));
        if (e < 0)
                return e;
        return resume(r, now_ms);
}

void ob_job_runner_session_lost(ObJobRunner *r, int64_t now_ms)
{
        (void)now_ms;
        r->connected = false;
        stop_waiting(r);
}

void ob_job_runner_tick(ObJobRunner *r, int64_t now_ms)
{
        if (r->wait != WAIT_NONE && now_ms >= r->deadline) {
                ob_log_debug("jobs: no reply in %lld ms: resuming at the next session",
                             (long long)r->cfg.reply_timeout_ms);
                stop_waiting(r);
        }
}

int64_t ob_job_runner_deadline(const ObJobRunner *r)
{
        return r->wait != WAIT_NONE ? r->deadline : -1;
}

bool ob_job_runner_busy(const ObJobRunner *r)
{
        return r->connected && r->wait != WAIT_NONE;
}

int ob_job_runner_operation_done(ObJobRunner *r, bool ok, const char *new_cert_id,
                                 const char *error_code, const char *error_class, int64_t now_ms)
{
        if (r->phase != OB_JOB_PHASE_EXECUTING)
                return -ESTALE;
        if (ok)
                return finish(r, "SUCCEEDED", details1("certificateId", new_cert_id), now_ms);
        return finish(r, "FAILED", failed_details(error_code, error_class, NULL), now_ms);
}

/* ---- replies */

static void on_start_next(ObJobRunner *r, const char *payload, size_t len, int64_t now_ms)
{
        _cleanup_(ob_job_execution_clear) ObJobExecution x = {0};
        char reason[OB_JOB_RUNNER_REASON_MAX] = "";

        if (r->wait != WAIT_START_NEXT || r->phase != OB_JOB_PHASE_IDLE)
                return;
        stop_waiting(r);
        if (ob_jobs_parse_start_next(payload, len, &x, reason, sizeof(reason)) < 0) {
                ob_log_debug("jobs: start-next reply: %s", reason);
                return;
        }
        if (!x.present)
                return; /* nothing pending */
        snprintf(r->job_id, sizeof(r->job_id), "%s", x.job_id);
        r->version = x.version;
        r->document = json_object_get(x.document);
        r->phase = OB_JOB_PHASE_RECEIVED;
        if (ob_jobs_parse_operation(x.document, &r->op, reason, sizeof(reason)) < 0) {
                (void)finish(r, "REJECTED", details1("reason", reason), now_ms);
                return;
        }
        if (persist(r) < 0)
                return;
        (void)send_update(r, now_ms);
}

static bool terminal(const char *status)
{
        return strcmp(status, "QUEUED") != 0 && strcmp(status, "IN_PROGRESS") != 0;
}

static void on_describe(ObJobRunner *r, const char *payload, size_t len, bool accepted,
                        int64_t now_ms)
{
        _cleanup_(ob_job_execution_clear) ObJobExecution x = {0};
        char err[OB_JOB_RUNNER_REASON_MAX] = "", code[48] = "";
        int64_t v;

        stop_waiting(r);
        if (!accepted) {
                /* ResourceNotFound: the execution is gone (removed): nothing more to tell.
                 * Anything else (Throttling, ...): resumed at the next session. */
                (void)ob_jobs_parse_update_reply(payload, len, false, &v, code, sizeof(code), err,
                                                 sizeof(err));
                ob_log_debug("jobs: %s: describe rejected: %s %s", r->job_id, code, err);
                if (strcmp(code, "ResourceNotFound") == 0)
                        (void)drop_job(r, now_ms);
                return;
        }
        if (ob_jobs_parse_describe(payload, len, &x, err, sizeof(err)) < 0 ||
            strcmp(x.job_id, r->job_id) != 0) {
                ob_log_debug("jobs: %s: describe reply: %s", r->job_id, err);
                return; /* resumed at the next session */
        }
        if (terminal(x.status)) {
                /* SUCCEEDED/FAILED/REJECTED/CANCELED/REMOVED/TIMED_OUT: nothing more to do */
                (void)drop_job(r, now_ms);
                return;
        }
        r->version = x.version;
        if (r->phase == OB_JOB_PHASE_RECEIVED || r->phase == OB_JOB_PHASE_DONE)
                (void)send_update(r, now_ms); /* the op has not run, or only its report is due */
        else if (r->phase == OB_JOB_PHASE_EXECUTING)
                (void)persist(r);
}

static void on_update(ObJobRunner *r, const char *payload, size_t len, bool accepted,
                      int64_t now_ms)
{
        char code[48], err[OB_JOB_RUNNER_REASON_MAX] = "";
        int64_t v;
        int e;

        stop_waiting(r);
        e = ob_jobs_parse_update_reply(payload, len, accepted, &v, code, sizeof(code), err,
                                       sizeof(err));
        if (e == -EPROTO || e == -EBADMSG) {
                /* VersionMismatch, TerminalStateReached, ...: what is the job's state now? */
                ob_log_debug("jobs: %s: update rejected: %s %s", r->job_id, code, err);
                (void)send_describe(r, now_ms);
                return;
        }
        if (r->phase == OB_JOB_PHASE_DONE) {
                (void)drop_job(r, now_ms);
                return;
        }
        r->version = v >= 0 ? v : r->version + 1;
        if (r->phase == OB_JOB_PHASE_RECEIVED)
                (void)run_op(r, now_ms);
}

bool ob_job_runner_message(ObJobRunner *r, const char *topic, const char *payload, size_t len,
                           int64_t now_ms)
{
        char prefix[TOPIC_MAX];
        const char *rest, *slash;
        size_t n;

        if (!r->connected || snprintf(prefix, sizeof(prefix), "$aws/things/%s/jobs/", r->thing) >=
                                     (int)sizeof(prefix))
                return false;
        n = strlen(prefix);
        if (!topic || strncmp(topic, prefix, n) != 0)
                return false;
        rest = topic + n;
        if (strcmp(rest, "start-next/accepted") == 0)
                on_start_next(r, payload, len, now_ms);
        else if (strcmp(rest, "start-next/rejected") == 0) {
                if (r->wait == WAIT_START_NEXT)
                        stop_waiting(r);
        } else if (strcmp(rest, "notify-next") == 0) {
                if (r->phase == OB_JOB_PHASE_IDLE && r->wait == WAIT_NONE)
                        (void)send_start_next(r, now_ms);
        } else if ((slash = strchr(rest, '/')) && r->phase != OB_JOB_PHASE_IDLE &&
                   (size_t)(slash - rest) == strlen(r->job_id) &&
                   strncmp(rest, r->job_id, strlen(r->job_id)) == 0) {
                if (r->wait == WAIT_UPDATE && strcmp(slash, "/update/accepted") == 0)
                        on_update(r, payload, len, true, now_ms);
                else if (r->wait == WAIT_UPDATE && strcmp(slash, "/update/rejected") == 0)
                        on_update(r, payload, len, false, now_ms);
                else if (r->wait == WAIT_DESCRIBE && strcmp(slash, "/get/accepted") == 0)
                        on_describe(r, payload, len, true, now_ms);
                else if (r->wait == WAIT_DESCRIBE && strcmp(slash, "/get/rejected") == 0)
                        on_describe(r, payload, len, false, now_ms);
        }
        return true;
}
