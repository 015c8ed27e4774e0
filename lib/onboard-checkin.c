/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The check-in session (lib/onboard-checkin.h): while onboarded and idle, connect with the
 * current identity every jobs.poll_interval_minutes (+ up to 10 % of jitter from deps->random),
 * do the session's work, disconnect. Its work today: the named shadow onboard-agent's report
 * (lib/shadow-report.h, docs/shadow.md), published only when it differs from what the shadow
 * last accepted (persisted), never in a session that verifies a new certificate. A refused or
 * failed check-in goes through the one failure path (lib/onboard.c) with the connection's
 * outcome class, then back to idle with the next check-in at the backoff's time.
 * A rotation waiting for its retry (the current identity intact) checks in meanwhile: soon after
 * a failure the fleet should see, periodically otherwise; the rotation's retry time, error and
 * backoff stay its own (retry_ms, retry_backoff; docs/shadow.md "A rotation that fails").
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "onboard-checkin.h"
#include "onboard-connect.h"
#include "onboard-heal.h"
#include "onboard-jobs.h"
#include "job-runner.h"
#include "onboard-private.h"
#include "onboard-rotate.h"
#include "onboard.h"
#include "shadow-report.h"

enum {
        STEP_CONNECT,   /* the CONNECT is out */
        STEP_SUBSCRIBE, /* waiting for the SUBACKs of update/accepted and update/rejected */
        STEP_REPORT,    /* the update is out: waiting for accepted or rejected */
        STEP_JOBS,      /* the jobs' part (lib/onboard-jobs.c): the runner's exchange */
};

#define JITTER_PERMILLE 100 /* up to +10 % */

static int64_t interval_ms(const ObOnboard *ob)
{
        return (int64_t)(ob->c->jobs.poll_interval_minutes * 60.0 * 1000.0);
}

/* A rotation (not a heal: the current identity is refused then) waits for its retry, the
 * current identity intact: ob_onboard_checkin_rotation_failed() set retry_ms. */
static bool retry_wait(const ObOnboard *ob)
{
        return ob->retry_ms > 0 && ob->rotating && !ob_onboard_healing(ob) && ob->cur_gen > 0 &&
               !ob->decommissioned && ob->cur_cert_id;
}

static bool onboarded_idle_ok(const ObOnboard *ob)
{
        return (ob->cur_gen > 0 && ob->stage == OB_STAGE_ONBOARDED && !ob->rotating &&
                !ob->decommissioned && ob->cur_cert_id) ||
               retry_wait(ob);
}

static void wait_retry_or_checkin(ObOnboard *ob, int64_t now);

/* One period after from, plus up to 10 % of it: drawn once per schedule. */
static int64_t schedule_after(const ObOnboard *ob, int64_t from)
{
        int64_t iv = interval_ms(ob);
        uint64_t r = ob->d.random->next(ob->d.random->userdata);

        return from + iv + (int64_t)((double)iv * (double)(r % (JITTER_PERMILLE + 1)) / 1000.0);
}

int64_t ob_onboard_checkin_next(ObOnboard *ob, int64_t now)
{
        if (!onboarded_idle_ok(ob))
                return -1;
        if (ob->checkin_next_ms > 0)
                return ob->checkin_next_ms;
        /* never checked in (stopped before the check-in that follows onboarding, or a
         * state.json from before check-ins): the shadow has never shown this gateway */
        if (ob->checkin_ms <= 0 && ob->c->shadow.report) {
                ob_onboard_checkin_soon(ob, now);
                return ob->checkin_next_ms;
        }
        if (interval_ms(ob) <= 0)
                return -1;
        /* none scheduled: one period after the last check-in (persisted), so a restart does
         * not reconnect at once; none yet, or a clock that went back: from now */
        ob->checkin_next_ms = schedule_after(
                ob, ob->checkin_ms > 0 && ob->checkin_ms <= now ? ob->checkin_ms : now);
        return ob->checkin_next_ms;
}

bool ob_onboard_checkin_due(ObOnboard *ob, int64_t now)
{
        int64_t next = ob_onboard_checkin_next(ob, now);

        return next >= 0 && now >= next && ob_onboard_clock_plausible(ob, now);
}

void ob_onboard_checkin_soon(ObOnboard *ob, int64_t now)
{
        int64_t soon = now + OB_CHECKIN_SOON_MS;

        if (!ob->c->shadow.report)
                return;
        if (ob->checkin_next_ms <= 0 || ob->checkin_next_ms > soon)
                ob->checkin_next_ms = soon;
}

int ob_onboard_checkin_begin(ObOnboard *ob, int64_t now)
{
        if (retry_wait(ob)) {
                /* between a rotation's attempts: the rotation's backoff is kept for its retry
                 * (restore_retry_backoff()); the check-in waits only for the 1 s floor */
                ob->retry_backoff = ob->backoff;
                ob->backoff.next_ms = 0;
        }
        ob->checkin_step = STEP_CONNECT;
        ob->checkin_subs = 0;
        ob->jobs_part = false;
        /* the current identity as a rotation connects with it (a factory identity may use the
         * vendor's key at a handle) */
        return ob_onboard_connect_current_as(ob, OB_ACT_CHECKIN, now);
}

/* Back from a check-in between a rotation's attempts: the rotation's backoff as it was (its
 * failure count, its retry), the one-CONNECT-per-second floor counting the check-in's. */
static void restore_retry_backoff(ObOnboard *ob)
{
        int64_t last = ob->backoff.last_connect_ms;

        if (!retry_wait(ob))
                return;
        ob->backoff = ob->retry_backoff;
        if (last > ob->backoff.last_connect_ms)
                ob->backoff.last_connect_ms = last;
}

/* The session is over (whatever its outcome): disconnect, schedule the next one, idle. */
static void end_session(ObOnboard *ob, int64_t now, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void end_session(ObOnboard *ob, int64_t now, const char *fmt, ...)
{
        char text[600];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        json_object_put(ob->shadow_sent);
        ob->shadow_sent = NULL;
        ob->jobs_part = false;
        ob_onboard_disconnect(ob);
        restore_retry_backoff(ob);
        ob->checkin_next_ms = interval_ms(ob) > 0 ? schedule_after(ob, ob->checkin_ms) : 0;
        ob_onboard_persist_or_say(ob);
        ob_onboard_notify(ob, OB_CHANGE_CHECKIN, "%s", text);
        /* a rotation requested or due meanwhile begins now, one waiting for its retry waits
         * on (ob_onboard_checkin_while_retrying()); else idle */
        (void)ob_onboard_resume(ob, now);
}

/* The jobs' part waits for the runner's replies, or the session ends. */
static void jobs_wait(ObOnboard *ob, int64_t now)
{
        int64_t deadline = ob_onboard_jobs_deadline(ob);

        if (!ob_onboard_jobs_busy(ob)) {
                end_session(ob, now, "%s; jobs: %s", ob->jobs_said,
                            ob_job_phase_to_string(ob_job_runner_phase(ob->jobs)));
                return;
        }
        ob_onboard_set_activity(ob, OB_ACT_CHECKIN,
                                deadline > 0 ? deadline
                                             : now + (int64_t)ob->c->endpoint.step_timeout_ms);
}

/* The shadow's part is over: the jobs' part follows (lib/onboard-jobs.h), or the session ends. */
static void finish(ObOnboard *ob, int64_t now, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void finish(ObOnboard *ob, int64_t now, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(ob->jobs_said, sizeof(ob->jobs_said), fmt, ap);
        va_end(ap);
        json_object_put(ob->shadow_sent);
        ob->shadow_sent = NULL;
        if (!ob->jobs_part && ob->connected && ob_onboard_jobs_session(ob, now)) {
                ob->jobs_part = true;
                ob->checkin_step = STEP_JOBS;
                jobs_wait(ob, now);
                return;
        }
        end_session(ob, now, "%s", ob->jobs_said);
}

/* The report as the shadow will hold it: the state it describes is the idle one. */
static json_object *build_report(ObOnboard *ob, int64_t now)
{
        _cleanup_(json_object_putp) json_object *st = ob_onboard_status(ob, now);
        ObShadowReportInfo info = {
                .agent_version = PACKAGE_VERSION,
                .tpm_manufacturer = ob->tpm_manufacturer[0] ? ob->tpm_manufacturer : NULL,
                .tpm_firmware = ob->tpm_firmware[0] ? ob->tpm_firmware : NULL,
        };
        json_object *r;

        if (!st)
                return NULL;
        r = ob_shadow_report_reported(st, &info);
        if (r)
                json_object_object_add(
                        r, "state", json_object_new_string(ob_onboard_activity_names[OB_ACT_DONE]));
        return r;
}

int ob_onboard_checkin_subscribe_all(ObOnboard *ob, const char *const *topics, size_t n,
                                     int *tokens)
{
        const ObTransportOps *ops = ob->d.transport->ops;
        int r;

        if (!ob->connected || ob->act != OB_ACT_CHECKIN)
                return -ENOTCONN;
        if (ops->subscribe_many && n > 1 && n <= 8) {
                r = ops->subscribe_many(ob->d.transport->impl, topics, n, 1, &tokens[0]);
                return r < 0 ? r : 1;
        }
        for (size_t i = 0; i < n; i++) {
                r = ops->subscribe(ob->d.transport->impl, topics[i], 1, &tokens[i]);
                if (r < 0)
                        return r;
        }
        return (int)n;
}

int ob_onboard_checkin_publish(ObOnboard *ob, const char *topic, const char *payload, int *token)
{
        if (!ob->connected || ob->act != OB_ACT_CHECKIN)
                return -ENOTCONN;
        return ob->d.transport->ops->publish(ob->d.transport->impl, topic, payload, strlen(payload),
                                             1, token);
}

/* Connected with the current identity: the one place it happens in a check-in. */
int ob_onboard_checkin_connected(ObOnboard *ob, int64_t now)
{
        const char *thing = ob->cur_thing ? ob->cur_thing : ob->d.serial;
        int r;

        ob->checkin_ms = now;
        ob->checkin_next_ms = 0;
        if (strncmp(ob->err_code, "checkin-", 8) == 0) { /* what it said is over */
                ob->err_code[0] = 0;
                ob->err_text[0] = 0;
                ob->err_class = -1;
                ob->err_ms = 0;
        }
        if (!ob->c->shadow.report) {
                finish(ob, now, "checked in (shadow.report is off)");
                return 0;
        }
        json_object_put(ob->shadow_sent);
        ob->shadow_sent = build_report(ob, now);
        if (!ob->shadow_sent) {
                finish(ob, now, "checked in; the shadow report could not be built (no memory)");
                return 0;
        }
        if (!ob_shadow_report_changed(ob->shadow_sent, ob->shadow_reported)) {
                finish(ob, now, "checked in; the shadow is up to date");
                return 0;
        }
        if (ob_shadow_topic(ob->checkin_topics[0], sizeof(ob->checkin_topics[0]), thing,
                            "update/accepted") < 0 ||
            ob_shadow_topic(ob->checkin_topics[1], sizeof(ob->checkin_topics[1]), thing,
                            "update/rejected") < 0) {
                finish(ob, now, "checked in; thing name %s cannot name a shadow topic", thing);
                return 0;
        }
        ob->checkin_step = STEP_SUBSCRIBE;
        {
                const char *const filters[2] = {ob->checkin_topics[0], ob->checkin_topics[1]};

                /* one SUBSCRIBE for both when the transport can: one SUBACK, tokens[0] */
                ob->checkin_tokens[0] = ob->checkin_tokens[1] = -1;
                r = ob_onboard_checkin_subscribe_all(ob, filters, 2, ob->checkin_tokens);
        }
        if (r < 0) {
                finish(ob, now, "checked in; cannot subscribe to %s: %s", ob->checkin_topics[0],
                       strerror(-r));
                return 0;
        }
        ob->checkin_subs = r;
        ob_onboard_set_activity(ob, OB_ACT_CHECKIN, now + (int64_t)ob->c->endpoint.step_timeout_ms);
        return 0;
}

/* A CONNECT with the current identity failed (refused, throttled, network): the one place. */
void ob_onboard_checkin_refused(ObOnboard *ob, int cls, const char *detail, int64_t now)
{
        if (retry_wait(ob)) {
                /* between a rotation's attempts: its error and its backoff stay what status
                 * shows (the rotation's next attempt connects with the same identity and meets
                 * the same trouble); the next check-in one period on */
                ob_onboard_disconnect(ob);
                restore_retry_backoff(ob);
                ob->checkin_next_ms = interval_ms(ob) > 0 ? schedule_after(ob, now) : 0;
                ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                                  "check-in while the rotation waits for its retry failed (%s): %s",
                                  ob_err_class_to_string((ObErrClass)cls), detail);
                /* waiting, not connecting: the refusal may still fire a heal (the caller's
                 * next step), which must not meet a rotation's CONNECT in flight */
                wait_retry_or_checkin(ob, now);
                return;
        }
        ob_onboard_fail(ob, (ObErrClass)cls,
                        cls == OB_ERR_REFUSED ? "checkin-refused" : "checkin-failed", now,
                        "checking in with the current certificate failed: %s", detail);
        /* the identity stays; the next check-in when the backoff says, a due rotation first */
        ob->checkin_next_ms = ob_onboard_deadline(ob);
        ob_onboard_idle(ob, now);
}

/* ------------------------------------------------------------------ a rotation's retry wait */

/* The error the shadow last accepted is this one (by code). */
static bool error_reported(const ObOnboard *ob)
{
        json_object *e = NULL, *c = NULL;

        return json_object_object_get_ex(ob->shadow_reported, "last_error", &e) &&
               json_object_object_get_ex(e, "code", &c) &&
               strcmp(json_object_get_string(c), ob->err_code) == 0;
}

/* The one-CONNECT-per-second floor alone (the backoff's next_ms is the rotation's retry). */
static int64_t connect_floor(const ObOnboard *ob)
{
        return ob->backoff.last_connect_ms > 0
                       ? ob->backoff.last_connect_ms + OB_BACKOFF_CONNECT_FLOOR_MS
                       : 0;
}

/* When the next check-in may connect (the one-CONNECT-per-second floor kept), or -1: none. */
static int64_t checkin_at(ObOnboard *ob, int64_t now)
{
        int64_t next = ob_onboard_checkin_next(ob, now);

        if (next < 0)
                return -1;
        return next > connect_floor(ob) ? next : connect_floor(ob);
}

/* Wait until the earlier of the check-in and the rotation's retry; the tick's resume() begins
 * it (ob_onboard_checkin_while_retrying()), never a failure path. */
static void wait_retry_or_checkin(ObOnboard *ob, int64_t now)
{
        int64_t at = checkin_at(ob, now);

        if (at < 0 || at > ob->retry_ms)
                at = ob->retry_ms;
        ob_onboard_set_activity(ob, OB_ACT_WAIT_RETRY, at > now ? at : now);
}

void ob_onboard_checkin_rotation_failed(ObOnboard *ob, int64_t now)
{
        bool worth, rolled_back = strcmp(ob->err_code, "rotation-rolled-back") == 0;

        ob->retry_ms = 0;
        if (ob->act != OB_ACT_WAIT_RETRY || ob->deadline <= 0)
                return;
        ob->retry_ms = ob->deadline;
        if (!retry_wait(ob)) {
                ob->retry_ms = 0;
                return;
        }
        /* a failure the fleet should see: the new certificate refused (rolled back), the
         * cloud's answer to the request (rejected: 400/403/404, the long backoff) or its
         * policy's (a subscription refused); a rotate job's rollback, whose FAILED goes out
         * in the check-in. Transients wait for the periodic check-in. Due at once: it goes
         * before the retry (ob_onboard_checkin_while_retrying()), at the 1 s floor. */
        worth = rolled_back || strcmp(ob->err_code, "subscribe-refused") == 0 ||
                ob->err_class == OB_ERR_REJECTED;
        if (worth &&
            ((ob->c->shadow.report && !error_reported(ob)) ||
             (rolled_back && ob->jobs && ob_job_runner_phase(ob->jobs) == OB_JOB_PHASE_EXECUTING)))
                ob->checkin_next_ms = now;
        wait_retry_or_checkin(ob, now);
}

int ob_onboard_checkin_while_retrying(ObOnboard *ob, int64_t now)
{
        int64_t at;

        if (!retry_wait(ob)) {
                ob->retry_ms = 0;
                return 0;
        }
        /* a check-in due no later than the retry goes first (it connects once, then the retry
         * waits for its time again: the next check-in is a period away) */
        at = checkin_at(ob, now);
        if (at >= 0 && at <= ob->retry_ms) {
                if (now < at) {
                        ob_onboard_set_activity(ob, OB_ACT_WAIT_RETRY, at);
                        return 1;
                }
                if (ob_onboard_checkin_due(ob, now)) {
                        (void)ob_onboard_checkin_begin(ob, now);
                        return 1;
                }
        }
        if (now >= ob->retry_ms) {
                ob->retry_ms = 0; /* the rotation goes on */
                return 0;
        }
        ob_onboard_set_activity(ob, OB_ACT_WAIT_RETRY, ob->retry_ms);
        return 1;
}

int64_t ob_onboard_checkin_retry_at(const ObOnboard *ob)
{
        return retry_wait(ob) ? ob->retry_ms : -1;
}

/* Publish the update request around reported to the named shadow's update topic. */
static int send_report(ObOnboard *ob, json_object *reported, char *topic, size_t topicsize)
{
        _cleanup_(json_object_putp) json_object *req = ob_shadow_report_request(reported);
        int token, r;

        if (!req)
                return -ENOMEM;
        r = ob_shadow_topic(topic, topicsize, ob->cur_thing ? ob->cur_thing : ob->d.serial,
                            "update");
        if (r < 0)
                return r;
        return ob_onboard_checkin_publish(
                ob, topic, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), &token);
}

static void publish_report(ObOnboard *ob, int64_t now)
{
        char topic[200] = "the shadow's update topic";
        int r = send_report(ob, ob->shadow_sent, topic, sizeof(topic));

        if (r < 0) {
                finish(ob, now, "checked in; cannot publish to %s: %s", topic, strerror(-r));
                return;
        }
        ob->checkin_step = STEP_REPORT;
        ob_onboard_set_activity(ob, OB_ACT_CHECKIN, now + (int64_t)ob->c->endpoint.step_timeout_ms);
}

static void on_reply(ObOnboard *ob, int i, const ObTransportEvent *ev, int64_t now)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *code = NULL, *msg = NULL;
        char *text = strndup((const char *)ev->payload, ev->payload_len);

        ob->shadow_ms = now;
        if (i == 0) {
                json_object_put(ob->shadow_reported);
                ob->shadow_reported = TAKE_PTR(ob->shadow_sent);
                snprintf(ob->shadow_result, sizeof(ob->shadow_result), "accepted");
                free(text);
                finish(ob, now, "checked in; the shadow %s accepted the report", OB_SHADOW_NAME);
                return;
        }
        o = text ? json_tokener_parse(text) : NULL;
        free(text);
        if (o) {
                json_object_object_get_ex(o, "code", &code);
                json_object_object_get_ex(o, "message", &msg);
        }
        snprintf(ob->shadow_result, sizeof(ob->shadow_result), "rejected: %d %.120s",
                 code ? json_object_get_int(code) : 0, msg ? json_object_get_string(msg) : "?");
        /* not a failure of the identity: a notice, the next check-in tries again */
        ob_onboard_notify(ob, OB_CHANGE_NOTICE, "the shadow %s rejected the report: %s",
                          OB_SHADOW_NAME, ob->shadow_result + 10);
        finish(ob, now, "checked in; the shadow rejected the report (%s)", ob->shadow_result + 10);
}

/* An event of the jobs' part. */
static bool jobs_event(ObOnboard *ob, const ObTransportEvent *ev, int64_t now)
{
        switch (ev->type) {
        case OB_TEV_CONNECTED:
        case OB_TEV_CONNECT_FAILED:
                return false;
        case OB_TEV_SUBSCRIBED:
        case OB_TEV_PUBLISHED:
        case OB_TEV_MESSAGE_DROPPED:
                return true;
        case OB_TEV_SUBSCRIBE_FAILED:
        case OB_TEV_PUBLISH_FAILED:
        case OB_TEV_CONNECTION_LOST:
                if (ev->type == OB_TEV_CONNECTION_LOST)
                        ob->connected = false;
                ob_onboard_jobs_lost(ob, now);
                /* AWS refuses a SUBSCRIBE and closes on a PUBLISH its policy forbids */
                end_session(
                        ob, now,
                        "%s; jobs: %s (the device policy must allow $aws/things/THING/jobs/*)%s%s",
                        ob->jobs_said,
                        ev->type == OB_TEV_SUBSCRIBE_FAILED ? "subscription refused"
                        : ev->type == OB_TEV_PUBLISH_FAILED ? "a request could not be published"
                                                            : "the connection closed",
                        ev->detail[0] ? ": " : "", ev->detail);
                return true;
        case OB_TEV_MESSAGE:
                if (!ob_onboard_jobs_message(ob, ev, now))
                        ob->ignored_messages++;
                jobs_wait(ob, now);
                return true;
        }
        return false;
}

bool ob_onboard_checkin_event(ObOnboard *ob, const ObTransportEvent *ev, int64_t now)
{
        int i;

        if (ob->checkin_step == STEP_JOBS)
                return jobs_event(ob, ev, now);

        switch (ev->type) {
        case OB_TEV_CONNECTED:
        case OB_TEV_CONNECT_FAILED:
                return false; /* the flow engine's: it knows the connection's outcome */
        case OB_TEV_SUBSCRIBED:
                if (ob->checkin_step == STEP_SUBSCRIBE &&
                    (ev->token == ob->checkin_tokens[0] || ev->token == ob->checkin_tokens[1]) &&
                    --ob->checkin_subs == 0)
                        publish_report(ob, now);
                return true;
        case OB_TEV_SUBSCRIBE_FAILED:
                snprintf(ob->shadow_result, sizeof(ob->shadow_result),
                         "not sent: subscription refused (the device policy must allow "
                         "$aws/things/THING/shadow/name/%s/*)",
                         OB_SHADOW_NAME);
                finish(ob, now, "checked in; %s", ob->shadow_result);
                return true;
        case OB_TEV_PUBLISHED:
                return true; /* the reply says more */
        case OB_TEV_PUBLISH_FAILED:
                finish(ob, now, "checked in; the shadow update could not be published: %s",
                       ev->detail);
                return true;
        case OB_TEV_MESSAGE:
                i = !ev->topic                                      ? -1
                    : strcmp(ev->topic, ob->checkin_topics[0]) == 0 ? 0
                    : strcmp(ev->topic, ob->checkin_topics[1]) == 0 ? 1
                                                                    : -1;
                if (i < 0 || ob->checkin_step != STEP_REPORT) {
                        ob->ignored_messages++;
                        return true;
                }
                on_reply(ob, i, ev, now);
                return true;
        case OB_TEV_MESSAGE_DROPPED:
                return true;
        case OB_TEV_CONNECTION_LOST:
                ob->connected = false;
                if (ob->checkin_step == STEP_CONNECT)
                        return false; /* the flow engine's failure path */
                /* AWS closes the connection on a SUBSCRIBE or PUBLISH its policy forbids */
                snprintf(ob->shadow_result, sizeof(ob->shadow_result),
                         "not sent: the connection closed (the device policy must allow "
                         "$aws/things/THING/shadow/name/%s/*)",
                         OB_SHADOW_NAME);
                end_session(ob, now, "checked in; %s: %s", ob->shadow_result, ev->detail);
                return true;
        }
        return false;
}

int ob_onboard_checkin_timeout(ObOnboard *ob, int64_t now)
{
        if (ob->checkin_step == STEP_JOBS) {
                ob_onboard_jobs_tick(ob, now);
                jobs_wait(ob, now);
                return 0;
        }
        if (ob->checkin_step == STEP_CONNECT) {
                ob_onboard_checkin_refused(ob, OB_ERR_TIMEOUT, "no CONNACK in time", now);
                return 0;
        }
        ob->shadow_ms = now;
        snprintf(ob->shadow_result, sizeof(ob->shadow_result), "no answer within %llu s",
                 (unsigned long long)(ob->c->endpoint.step_timeout_ms / 1000));
        finish(ob, now, "checked in; the shadow update got %s", ob->shadow_result);
        return 0;
}

/* A report job: the shadow's report now, whether or not it changed (its accepted or rejected
 * reply comes in the jobs' part and is not waited for). */
int ob_onboard_checkin_report_now(ObOnboard *ob, int64_t now)
{
        _cleanup_(json_object_putp) json_object *rep = build_report(ob, now);
        char topic[200];
        int r;

        if (!rep)
                return -ENOMEM;
        r = send_report(ob, rep, topic, sizeof(topic));
        if (r < 0)
                return r;
        json_object_put(ob->shadow_reported);
        ob->shadow_reported = json_object_get(rep);
        ob->shadow_ms = now;
        snprintf(ob->shadow_result, sizeof(ob->shadow_result), "published (a report job)");
        return 0;
}

/* ------------------------------------------------------------------ state and status */

void ob_onboard_set_tpm_info(ObOnboard *ob, const char *manufacturer, const char *firmware)
{
        snprintf(ob->tpm_manufacturer, sizeof(ob->tpm_manufacturer), "%s",
                 manufacturer ? manufacturer : "");
        snprintf(ob->tpm_firmware, sizeof(ob->tpm_firmware), "%s", firmware ? firmware : "");
}

void ob_onboard_checkin_to_json(const ObOnboard *ob, json_object *state)
{
        json_object *c, *s;

        if (ob->checkin_ms > 0) {
                c = json_object_new_object();
                json_object_object_add(c, "last_ms", json_object_new_int64(ob->checkin_ms));
                json_object_object_add(state, "checkin", c);
        }
        if (ob->shadow_ms > 0) {
                s = json_object_new_object();
                json_object_object_add(s, "reported", json_object_get(ob->shadow_reported));
                json_object_object_add(s, "time_ms", json_object_new_int64(ob->shadow_ms));
                json_object_object_add(s, "result", json_object_new_string(ob->shadow_result));
                json_object_object_add(state, "shadow", s);
        }
}

int ob_onboard_checkin_from_json(ObOnboard *ob, json_object *state, char *err, size_t errsize)
{
        json_object *c, *s, *v;

        /* both optional: a state.json from before check-ins loads */
        if (json_object_object_get_ex(state, "checkin", &c)) {
                if (!json_object_is_type(c, json_type_object) ||
                    !json_object_object_get_ex(c, "last_ms", &v) ||
                    !json_object_is_type(v, json_type_int)) {
                        snprintf(err, errsize, "checkin.last_ms: missing or not a number");
                        return -EBADMSG;
                }
                ob->checkin_ms = json_object_get_int64(v);
        }
        if (json_object_object_get_ex(state, "shadow", &s)) {
                if (!json_object_is_type(s, json_type_object) ||
                    !json_object_object_get_ex(s, "time_ms", &v) ||
                    !json_object_is_type(v, json_type_int)) {
                        snprintf(err, errsize, "shadow.time_ms: missing or not a number");
                        return -EBADMSG;
                }
                ob->shadow_ms = json_object_get_int64(v);
                if (json_object_object_get_ex(s, "result", &v) &&
                    json_object_is_type(v, json_type_string))
                        snprintf(ob->shadow_result, sizeof(ob->shadow_result), "%s",
                                 json_object_get_string(v));
                json_object_put(ob->shadow_reported);
                ob->shadow_reported = NULL;
                if (json_object_object_get_ex(s, "reported", &v) &&
                    json_object_is_type(v, json_type_object))
                        ob->shadow_reported = json_object_get(v);
        }
        return 0;
}

void ob_onboard_checkin_status(json_object *status, json_object *state, int64_t next_ms)
{
        json_object *c = json_object_new_object(), *s = json_object_new_object(), *sc = NULL,
                    *ss = NULL, *v;

        if (state) {
                json_object_object_get_ex(state, "checkin", &sc);
                json_object_object_get_ex(state, "shadow", &ss);
        }
        json_object_object_add(c, "last",
                               sc && json_object_object_get_ex(sc, "last_ms", &v)
                                       ? ob_isotime_json(json_object_get_int64(v) / 1000)
                                       : NULL);
        json_object_object_add(c, "next", next_ms > 0 ? ob_isotime_json(next_ms / 1000) : NULL);
        json_object_object_add(status, "checkin", c);
        json_object_object_add(s, "reported_at",
                               ss && json_object_object_get_ex(ss, "time_ms", &v)
                                       ? ob_isotime_json(json_object_get_int64(v) / 1000)
                                       : NULL);
        json_object_object_add(
                s, "result",
                ss && json_object_object_get_ex(ss, "result", &v) ? json_object_get(v) : NULL);
        json_object_object_add(status, "shadow", s);
}
