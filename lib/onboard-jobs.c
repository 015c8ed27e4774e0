/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS IoT Jobs on the onboarding machine (lib/onboard-jobs.h, docs/jobs.md): the job runner's
 * ops done by this machine, its part of the check-in session, state.json and the status.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "job-runner.h"
#include "onboard-checkin.h"
#include "onboard-heal.h"
#include "onboard-jobs.h"
#include "onboard-private.h"
#include "onboard.h"

/* ------------------------------------------------------------------ the runner's ops */

static int op_subscribe(void *ctx, const char *const *topics, size_t n)
{
        int tokens[8];
        int r;

        if (n > OB_ELEMENTSOF(tokens))
                return -E2BIG;
        /* the SUBACKs are not awaited: AWS answers a refused filter by closing (the session's
         * end names the policy), and the requests that follow go after the SUBSCRIBE */
        r = ob_onboard_checkin_subscribe_all(ctx, topics, n, tokens);
        return r < 0 ? r : 0;
}

static int op_publish(void *ctx, const char *topic, const char *json)
{
        int token;

        return ob_onboard_checkin_publish(ctx, topic, json, &token);
}

/* The rotation begins when the session ends (the check-in's end resumes the machine). */
static int op_rotate(void *ctx, bool force, char *reason, size_t reasonsize)
{
        ObOnboard *ob = ctx;
        int64_t due;

        if (!force) {
                due = ob_onboard_next_rotation(ob);
                if (due < 0 || due > ob->jobs_now)
                        return 1; /* not due by the policy: nothing to do */
        }
        return ob_onboard_rotate_now(ob, ob->jobs_now, reason, reasonsize) < 0 ? -EINVAL : 0;
}

static int op_reprovision(void *ctx, char *reason, size_t reasonsize)
{
        ObOnboard *ob = ctx;
        int r = ob_onboard_heal_begin(ob, OB_HEAL_JOB, ob->jobs_now, reason, reasonsize);

        return r == -EALREADY ? 0 : r;
}

static int op_report(void *ctx, char *reason, size_t reasonsize)
{
        ObOnboard *ob = ctx;
        int r = ob_onboard_checkin_report_now(ob, ob->jobs_now);

        if (r < 0)
                snprintf(reason, reasonsize, "the shadow report could not be published: %s",
                         strerror(-r));
        return r;
}

static int op_set_rotation_policy(void *ctx, const ObJobOp *op, char *reason, size_t reasonsize)
{
        ObOnboard *ob = ctx;

        (void)reason;
        (void)reasonsize;
        /* from the policy in force, what the job names changed; saved with the job's outcome */
        ob->pol_fraction =
                op->has_fraction ? op->lifetime_fraction : ob_onboard_policy_fraction(ob);
        ob->pol_days = op->has_days ? op->days_before_expiry : ob_onboard_policy_days(ob);
        ob->pol_age = op->has_age ? op->max_age_days : ob_onboard_policy_age(ob);
        ob->has_policy = true;
        ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                          "rotation policy set by a job: lifetime_fraction %g, days_before_expiry "
                          "%u, max_age_days %u",
                          ob->pol_fraction, ob->pol_days, ob->pol_age);
        return 0;
}

static int op_save(void *ctx)
{
        return ob_onboard_persist(ctx);
}

static const char *op_certificate_id(void *ctx)
{
        return ((ObOnboard *)ctx)->cur_cert_id;
}

static bool op_operation_pending(void *ctx)
{
        const ObOnboard *ob = ctx;

        return ob->rotating || ob->rotate_requested;
}

static const ObJobRunnerOps runner_ops = {
        .subscribe = op_subscribe,
        .publish = op_publish,
        .rotate = op_rotate,
        .reprovision = op_reprovision,
        .report = op_report,
        .set_rotation_policy = op_set_rotation_policy,
        .save = op_save,
        .certificate_id = op_certificate_id,
        .operation_pending = op_operation_pending,
};

int ob_onboard_jobs_init(ObOnboard *ob)
{
        ObJobRunnerConfig cfg = {.reply_timeout_ms = (int64_t)ob->c->endpoint.step_timeout_ms};

        ob->jobs = ob_job_runner_new(&runner_ops, ob, &cfg);
        return ob->jobs ? 0 : -ENOMEM;
}

void ob_onboard_jobs_done(ObOnboard *ob)
{
        ob->jobs = ob_job_runner_free(ob->jobs);
}

/* ------------------------------------------------------------------ the session's part */

bool ob_onboard_jobs_session(ObOnboard *ob, int64_t now)
{
        const char *thing = ob->cur_thing ? ob->cur_thing : ob->d.serial;

        if (!ob->jobs || !ob->connected)
                return false;
        if (ob->c->jobs.poll_interval_minutes <= 0 &&
            ob_job_runner_phase(ob->jobs) == OB_JOB_PHASE_IDLE)
                return false;
        ob->jobs_now = now;
        if (ob_job_runner_session_connected(ob->jobs, thing, now) < 0)
                return false;
        return ob_job_runner_busy(ob->jobs);
}

bool ob_onboard_jobs_message(ObOnboard *ob, const ObTransportEvent *ev, int64_t now)
{
        if (!ob->jobs || !ev->topic)
                return false;
        ob->jobs_now = now;
        return ob_job_runner_message(ob->jobs, ev->topic, (const char *)ev->payload,
                                     ev->payload_len, now);
}

void ob_onboard_jobs_lost(ObOnboard *ob, int64_t now)
{
        if (ob->jobs)
                ob_job_runner_session_lost(ob->jobs, now);
}

void ob_onboard_jobs_tick(ObOnboard *ob, int64_t now)
{
        ob->jobs_now = now;
        if (ob->jobs)
                ob_job_runner_tick(ob->jobs, now);
}

bool ob_onboard_jobs_busy(const ObOnboard *ob)
{
        return ob->jobs && ob_job_runner_busy(ob->jobs);
}

int64_t ob_onboard_jobs_deadline(const ObOnboard *ob)
{
        return ob->jobs ? ob_job_runner_deadline(ob->jobs) : -1;
}

void ob_onboard_jobs_rotation_ended(ObOnboard *ob, bool ok, const char *code, int64_t now)
{
        if (!ob->jobs || ob_job_runner_phase(ob->jobs) != OB_JOB_PHASE_EXECUTING)
                return;
        ob->jobs_now = now;
        (void)ob_job_runner_operation_done(
                ob->jobs, ok, ok ? ob->cur_cert_id : NULL, ok ? NULL : code,
                ok || ob->err_class < 0 ? NULL : ob_err_class_to_string((ObErrClass)ob->err_class),
                now);
        /* the outcome goes out in a session soon, whatever shadow.report says */
        if (ob->checkin_next_ms <= 0 || ob->checkin_next_ms > now + OB_CHECKIN_SOON_MS)
                ob->checkin_next_ms = now + OB_CHECKIN_SOON_MS;
}

/* ------------------------------------------------------------------ the policy */

double ob_onboard_policy_fraction(const ObOnboard *ob)
{
        return ob->has_policy ? ob->pol_fraction : ob->c->rotation.lifetime_fraction;
}

uint32_t ob_onboard_policy_days(const ObOnboard *ob)
{
        return ob->has_policy ? ob->pol_days : ob->c->rotation.days_before_expiry;
}

uint32_t ob_onboard_policy_age(const ObOnboard *ob)
{
        return ob->has_policy ? ob->pol_age : ob->c->rotation.max_age_days;
}

/* ------------------------------------------------------------------ state and status */

void ob_onboard_jobs_to_json(const ObOnboard *ob, json_object *state)
{
        json_object *p;

        if (ob->jobs && ob_job_runner_phase(ob->jobs) != OB_JOB_PHASE_IDLE)
                json_object_object_add(state, "job", ob_job_runner_to_json(ob->jobs));
        if (!ob->has_policy)
                return;
        p = json_object_new_object();
        json_object_object_add(p, "lifetime_fraction", json_object_new_double(ob->pol_fraction));
        json_object_object_add(p, "days_before_expiry", json_object_new_int64(ob->pol_days));
        json_object_object_add(p, "max_age_days", json_object_new_int64(ob->pol_age));
        json_object_object_add(state, "rotation_policy", p);
}

static int policy_from_json(ObOnboard *ob, json_object *p, char *err, size_t errsize)
{
        static const char *const names[] = {"lifetime_fraction", "days_before_expiry",
                                            "max_age_days"};
        json_object *v[3];

        for (size_t i = 0; i < 3; i++)
                if (!json_object_object_get_ex(p, names[i], &v[i]) ||
                    !(json_object_is_type(v[i], json_type_int) ||
                      (i == 0 && json_object_is_type(v[i], json_type_double)))) {
                        snprintf(err, errsize,
                                 "state: \"rotation_policy.%s\" is missing or "
                                 "has the wrong type",
                                 names[i]);
                        return -EINVAL;
                }
        ob->pol_fraction = json_object_get_double(v[0]);
        if (ob->pol_fraction < OB_JOBS_POLICY_FRACTION_MIN ||
            ob->pol_fraction > OB_JOBS_POLICY_FRACTION_MAX || json_object_get_int64(v[1]) < 0 ||
            json_object_get_int64(v[1]) > OB_JOBS_POLICY_DAYS_MAX ||
            json_object_get_int64(v[2]) < 0 ||
            json_object_get_int64(v[2]) > OB_JOBS_POLICY_AGE_MAX) {
                snprintf(err, errsize, "state: \"rotation_policy\" is out of its bounds");
                return -EINVAL;
        }
        ob->pol_days = (uint32_t)json_object_get_int64(v[1]);
        ob->pol_age = (uint32_t)json_object_get_int64(v[2]);
        ob->has_policy = true;
        return 0;
}

int ob_onboard_jobs_from_json(ObOnboard *ob, json_object *state, char *err, size_t errsize)
{
        json_object *j = NULL, *p = NULL;
        int r;

        if (json_object_object_get_ex(state, "rotation_policy", &p) && p) {
                if (!json_object_is_type(p, json_type_object)) {
                        snprintf(err, errsize, "state: \"rotation_policy\" is not an object");
                        return -EINVAL;
                }
                r = policy_from_json(ob, p, err, errsize);
                if (r < 0)
                        return r;
        }
        if (!ob->jobs || !json_object_object_get_ex(state, "job", &j))
                return 0;
        r = ob_job_runner_from_json(ob->jobs, j, err, errsize);
        return r < 0 ? r : 0;
}

void ob_onboard_jobs_status(json_object *state, json_object *status)
{
        json_object *j, *p, *v;
        json_object *o;

        if (json_object_object_get_ex(state, "rotation_policy", &p) && p)
                json_object_object_add(status, "rotation_policy", json_object_get(p));
        if (!json_object_object_get_ex(state, "job", &j) || !j)
                return;
        o = json_object_new_object();
        if (json_object_object_get_ex(j, "job_id", &v))
                json_object_object_add(o, "id", json_object_get(v));
        if (json_object_object_get_ex(j, "phase", &v))
                json_object_object_add(o, "phase", json_object_get(v));
        if (json_object_object_get_ex(j, "document", &v) && v &&
            json_object_object_get_ex(v, "operation", &v))
                json_object_object_add(o, "operation", json_object_get(v));
        json_object_object_add(status, "job", o);
}
