/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The onboarding state machine's flow engine (see onboard.h and docs/provisioning.md for the
 * flow; docs/architecture.md for the modules): names, the method table, lifecycle, the one
 * failure and backoff path, stages, the decision, transport events, the timer. What a method
 * does is its row's (lib/onboard-method.h); rotation and committing are lib/onboard-rotate.c.
 *
 * Invariants:
 *   - the stage only moves forward after what it records is on disk (credentials first, then
 *     state.json), and moves back only when the thing it records became useless (an expired
 *     ownership token, a key the TPM no longer accepts);
 *   - every change of activity goes through set_activity(), every failure through fail();
 *   - at most one request is in flight, and a reply is accepted only on the topics of the
 *     request in flight (anything else is counted and ignored).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cert-accept.h"
#include "creds.h"
#include "csr.h"
#include "factory-paths.h"
#include "fleet-proto.h"
#include "health.h"
#include "isotime.h"
#include "log.h"
#include "onboard-checkin.h"
#include "onboard-factory.h"
#include "onboard-fleet.h"
#include "onboard-heal.h"
#include "onboard-jobs.h"
#include "onboard-method.h"
#include "onboard-private.h"
#include "onboard-rotate.h"
#include "onboard.h"
#include "retire.h"
#include "x509.h"

/* ------------------------------------------------------------------ names */

const char *const ob_onboard_stage_names[_OB_STAGE_MAX] = {
        [OB_STAGE_NEW] = "new",
        [OB_STAGE_KEY_READY] = "key-ready",
        [OB_STAGE_CERT_ISSUED] = "certificate-issued",
        [OB_STAGE_THING_REGISTERED] = "thing-registered",
        [OB_STAGE_ONBOARDED] = "onboarded",
};

const char *const ob_onboard_activity_names[_OB_ACT_MAX] = {
        [OB_ACT_IDLE] = "starting",
        [OB_ACT_WAIT_CLOCK] = "waiting-for-clock",
        [OB_ACT_WAIT_CLAIM] = "waiting-for-claim",
        [OB_ACT_WAIT_RETRY] = "waiting-to-retry",
        [OB_ACT_CREATE_KEY] = "creating-key",
        [OB_ACT_CONNECT_CLAIM] = "connecting",
        [OB_ACT_SUBSCRIBE] = "subscribing",
        [OB_ACT_REQUEST_CERT] = "requesting-certificate",
        [OB_ACT_REGISTER] = "registering-thing",
        [OB_ACT_VERIFY] = "verifying",
        [OB_ACT_ANNOUNCE] = "announcing",
        [OB_ACT_WAIT_CERT] = "waiting-for-certificate",
        [OB_ACT_WAIT_ACTIVATION] = "waiting-for-activation",
        [OB_ACT_DONE] = "onboarded",
        [OB_ACT_FAILED] = "failed",
        [OB_ACT_CHECKIN] = "checking-in",
};

const char *ob_onboard_stage_to_string(ObOnboardStage s)
{
        return (unsigned)s < _OB_STAGE_MAX ? ob_onboard_stage_names[s] : NULL;
}

int ob_onboard_stage_from_string(const char *s, ObOnboardStage *ret)
{
        for (int i = 0; i < _OB_STAGE_MAX; i++)
                if (s && strcmp(s, ob_onboard_stage_names[i]) == 0) {
                        *ret = (ObOnboardStage)i;
                        return 0;
                }
        return -EINVAL;
}

const char *ob_onboard_activity_to_string(ObOnboardActivity a)
{
        return (unsigned)a < _OB_ACT_MAX ? ob_onboard_activity_names[a] : NULL;
}

/* ------------------------------------------------------------------ the methods */

/* One row per provisioning.method, each defined in its family's module (lib/onboard-method.h). */
static const ObOnboardMethod *const methods[_OB_METHOD_MAX] = {
        [OB_METHOD_STATIC] = &ob_onboard_method_static,
        [OB_METHOD_JITP] = &ob_onboard_method_jitp,
        [OB_METHOD_JITR] = &ob_onboard_method_jitr,
        [OB_METHOD_FLEET_CLAIM] = &ob_onboard_method_fleet_claim,
        [OB_METHOD_FLEET_TRUSTED_USER] = &ob_onboard_method_fleet_trusted_user,
};

const ObOnboardMethod *ob_onboard_method_find(int m)
{
        return m >= 0 && m < _OB_METHOD_MAX ? methods[m] : NULL;
}

/* ------------------------------------------------------------------ small helpers */

void ob_onboard_secret_free(char **p)
{
        *p = ob_secret_free(*p);
}

int ob_onboard_set_str(char **dst, const char *src)
{
        char *n = NULL;

        if (src) {
                n = strdup(src);
                if (!n)
                        return -ENOMEM;
        }
        free(*dst);
        *dst = n;
        return 0;
}

void ob_onboard_notify(ObOnboard *ob, ObOnboardChangeKind kind, const char *fmt, ...)
{
        char text[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        ob_log_debug("onboard: %s", text);
        if (ob->d.changed)
                ob->d.changed(ob, &(ObOnboardChange){.kind = kind, .text = text}, ob->d.userdata);
}

static const char *act_name(ObOnboardActivity a)
{
        const char *n = ob_onboard_activity_to_string(a);
        return n ? n : "?";
}

void ob_onboard_set_activity(ObOnboard *ob, ObOnboardActivity a, int64_t deadline)
{
        ObOnboardActivity from = ob->act;

        if ((unsigned)a >= _OB_ACT_MAX)
                return;
        ob->act = a;
        ob->deadline = deadline;
        if (from != a)
                ob_onboard_notify(ob, OB_CHANGE_ACTIVITY, "%s -> %s", act_name(from), act_name(a));
}

const char *ob_onboard_slot_file(ObOnboard *ob, const char *name, char *buf, size_t size)
{
        _cleanup_free_ char *p = ob_creds_slot_file(ob->c->paths.state_dir, ob->gen, name);

        if (!p || strlen(p) >= size)
                return NULL;
        memcpy(buf, p, strlen(p) + 1);
        return buf;
}

/* The pending generation's credential slot exists (a failure is recorded: storage-error). */
int ob_onboard_slot_create(ObOnboard *ob, int64_t now)
{
        int r = ob_creds_slot_create(ob->c->paths.state_dir, ob->gen, ob->d.fs);

        if (r < 0)
                ob_onboard_fail_local(ob, "storage-error", r, now,
                                      "cannot create credential slot %llu",
                                      (unsigned long long)ob->gen);
        return r;
}

/* ------------------------------------------------------------------ lifecycle */

int ob_onboard_new(const ObOnboardDeps *deps, ObOnboard **ret)
{
        ObOnboard *ob;

        if (!deps || !deps->config || !deps->keys || !deps->transport || !deps->store ||
            !deps->random || !deps->serial ||
            !ob_onboard_method_find(deps->config->provisioning.method))
                return -EINVAL;
        ob = calloc(1, sizeof(*ob));
        if (!ob)
                return -ENOMEM;
        ob->d = *deps;
        ob->c = deps->config;
        ob->method = ob_onboard_method_find(ob->c->provisioning.method);
        ob_backoff_policy_from_config(ob->c, &ob->policy);
        ob_backoff_init(&ob->backoff);
        ob->fmt = ob->c->provisioning.payload_format == OB_PAYLOAD_CBOR ? OB_FLEET_CBOR
                                                                        : OB_FLEET_JSON;
        ob->err_class = -1;
        ob->deadline = -1;
        if (ob_onboard_jobs_init(ob) < 0) {
                free(ob);
                return -ENOMEM;
        }
        *ret = ob;
        return 0;
}

ObOnboard *ob_onboard_free(ObOnboard *ob)
{
        if (!ob)
                return NULL;
        if (ob->connected)
                (void)ob->d.transport->ops->disconnect(ob->d.transport->impl);
        /* a temporary claim is not deleted here: a restart may still need it */
        free(ob->claim_cert);
        free(ob->claim_key);
        free(ob->chain_file);
        free(ob->cert_id);
        ob_onboard_secret_free(&ob->token);
        free(ob->thing_name);
        json_object_put(ob->devconf);
        free(ob->cur_thing);
        free(ob->cur_cert_id);
        free(ob->post_commit_old_id);
        json_object_put(ob->shadow_sent);
        json_object_put(ob->shadow_reported);
        ob_onboard_jobs_done(ob);
        ob_retire_clear(&ob->retired);
        free(ob);
        return NULL;
}

ObOnboardStage ob_onboard_stage(const ObOnboard *ob)
{
        return ob->stage;
}

ObOnboardActivity ob_onboard_activity(const ObOnboard *ob)
{
        return ob->act;
}

int64_t ob_onboard_deadline(const ObOnboard *ob)
{
        return ob->deadline;
}

bool ob_onboard_busy(const ObOnboard *ob)
{
        switch (ob->act) {
        case OB_ACT_CONNECT_CLAIM:
        case OB_ACT_SUBSCRIBE:
        case OB_ACT_REQUEST_CERT:
        case OB_ACT_REGISTER:
        case OB_ACT_VERIFY:
        case OB_ACT_ANNOUNCE:
        case OB_ACT_CHECKIN:
                return true;
        case OB_ACT_IDLE:
        case OB_ACT_WAIT_CLOCK:
        case OB_ACT_WAIT_CLAIM:
        case OB_ACT_WAIT_RETRY:
        case OB_ACT_WAIT_CERT:
        case OB_ACT_WAIT_ACTIVATION:
        case OB_ACT_CREATE_KEY:
        case OB_ACT_DONE:
        case OB_ACT_FAILED:
        case _OB_ACT_MAX:
                break;
        }
        return false;
}

int ob_onboard_retry_now(ObOnboard *ob, int64_t now_ms, char *err, size_t errsize)
{
        switch (ob->act) {
        case OB_ACT_WAIT_RETRY:
        case OB_ACT_WAIT_ACTIVATION:
        case OB_ACT_WAIT_CERT:
        case OB_ACT_WAIT_CLOCK:
        case OB_ACT_FAILED:
                break;
        case OB_ACT_WAIT_CLAIM:
                snprintf(err, errsize,
                         "waiting for a claim: nothing to retry until one is given (agentctl "
                         "provision, or a file in provisioning.claim_drop_dir)");
                return -EAGAIN;
        case OB_ACT_DONE:
                snprintf(err, errsize, "onboarded: nothing to retry (agentctl rotate renews)");
                return -EALREADY;
        case OB_ACT_IDLE:
        case OB_ACT_CREATE_KEY:
        case OB_ACT_CONNECT_CLAIM:
        case OB_ACT_SUBSCRIBE:
        case OB_ACT_REQUEST_CERT:
        case OB_ACT_REGISTER:
        case OB_ACT_VERIFY:
        case OB_ACT_ANNOUNCE:
        case OB_ACT_CHECKIN:
        case _OB_ACT_MAX:
                snprintf(err, errsize, "already trying (%s)", act_name(ob->act));
                return -EALREADY;
        }
        ob_onboard_notify(ob, OB_CHANGE_NOTICE, "retry requested while %s: trying now",
                          act_name(ob->act));
        /* the wait ends, the failure count stays (the next failure backs off further); the
         * one-CONNECT-per-second floor still holds (ob_backoff_next_connect_ms) */
        ob->backoff.next_ms = 0;
        ob->retry_ms = 0; /* a rotation's retry, too: now */
        return ob_onboard_resume(ob, now_ms);
}

/* ------------------------------------------------------------------ failures */

void ob_onboard_disconnect(ObOnboard *ob)
{
        if (ob->connected || ob_onboard_busy(ob))
                (void)ob->d.transport->ops->disconnect(ob->d.transport->impl);
        ob->connected = false;
        ob->subs_pending = 0;
        memset(ob->topics, 0, sizeof(ob->topics));
}

void ob_onboard_set_error(ObOnboard *ob, int cls, const char *code, const char *text, int64_t now)
{
        snprintf(ob->err_code, sizeof(ob->err_code), "%s", code);
        snprintf(ob->err_text, sizeof(ob->err_text), "%s", text);
        ob->err_class = cls;
        ob->err_ms = now;
}

/* A failed attempt talking to the cloud: record it, back off (persisted), wait in act until the
 * next attempt. soon_ms > 0: retry after soon_ms plus up to as much again of jitter instead of
 * the class's backoff (never sooner than the one-CONNECT-per-second floor). */
void ob_onboard_fail_text(ObOnboard *ob, ObErrClass cls, const char *code, int64_t now,
                          int64_t soon_ms, ObOnboardActivity act, const char *text)
{
        uint64_t delay;
        int64_t next;

        ob_onboard_disconnect(ob);
        ob_onboard_set_error(ob, (int)cls, code, text, now);
        (void)ob_backoff_failure(&ob->backoff, &ob->policy, cls, now, ob->d.random);
        if (soon_ms > 0)
                ob->backoff.next_ms = now + soon_ms +
                                      (int64_t)(ob->d.random->next(ob->d.random->userdata) %
                                                (uint64_t)(soon_ms + 1));
        /* never sooner than the one-CONNECT-per-second floor */
        next = ob_backoff_next_connect_ms(&ob->backoff);
        delay = next > now ? (uint64_t)(next - now) : 0;
        ob_onboard_persist_or_say(ob); /* best effort: the retry timing is advisory after a crash */
        ob_onboard_notify(ob, OB_CHANGE_ERROR, "%s (%s, %s); attempt %u, retrying in %llu.%03llu s",
                          text, code, ob_err_class_to_string(cls), ob->backoff.attempts,
                          (unsigned long long)(delay / 1000), (unsigned long long)(delay % 1000));
        ob_onboard_set_activity(ob, act, next);
        /* a rotation waiting for its retry: check-ins go on meanwhile (the shadow shows it) */
        ob_onboard_checkin_rotation_failed(ob, now);
}

/* A failed attempt talking to the cloud: record it, back off (persisted), retry later. */
void ob_onboard_fail(ObOnboard *ob, ObErrClass cls, const char *code, int64_t now, const char *fmt,
                     ...)
{
        char text[ERR_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        ob_onboard_fail_text(ob, cls, code, now, 0, OB_ACT_WAIT_RETRY, text);
}

/* Local trouble (TPM busy or locked out, disk full): retry at a fixed pace, no backoff class. */
void ob_onboard_fail_local(ObOnboard *ob, const char *code, int error, int64_t now, const char *fmt,
                           ...)
{
        char text[ERR_TEXT_MAX];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (error && n >= 0 && (size_t)n < sizeof(text))
                snprintf(text + n, sizeof(text) - (size_t)n, ": %s", strerror(-error));

        ob_onboard_disconnect(ob);
        ob_onboard_set_error(ob, -1, code, text, now);
        ob_onboard_persist_or_say(ob);
        ob_onboard_notify(ob, OB_CHANGE_ERROR, "%s (%s); retrying in %llu s", text, code,
                          (unsigned long long)(ob->c->retry.local_ms / 1000));
        ob_onboard_set_activity(ob, OB_ACT_WAIT_RETRY, now + (int64_t)ob->c->retry.local_ms);
}

/* Nothing can change without an operator (a configuration that cannot work). */
void ob_onboard_fail_for_good(ObOnboard *ob, const char *code, int64_t now, const char *fmt, ...)
{
        char text[ERR_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        ob_onboard_disconnect(ob);
        ob_onboard_set_error(ob, -1, code, text, now);
        ob_onboard_persist_or_say(ob);
        ob_onboard_notify(ob, OB_CHANGE_ERROR, "%s (%s); waiting for an operator", text, code);
        ob->retry_ms = 0;
        ob_onboard_set_activity(ob, OB_ACT_FAILED, -1);
}

/* ------------------------------------------------------------------ stage changes */

/*
 * A failed save keeps the new stage in memory: the callers changed other fields for it first
 * (committed() has moved the pending generation to current), and the old stage with them is a
 * mix that fail_local() would save and the next start refuse. Memory stays one coherent state,
 * the disk keeps the old one until a save succeeds; a restart resumes from either.
 */
int ob_onboard_set_stage(ObOnboard *ob, ObOnboardStage s, int64_t now)
{
        ObOnboardStage from = ob->stage;
        int r;

        ob->stage = s;
        r = ob_onboard_persist(ob);
        if (r < 0) {
                ob_onboard_fail_local(ob, "storage-error", r, now, "cannot save %s", "state.json");
                return r;
        }
        ob_onboard_notify(ob, OB_CHANGE_STAGE, "stage %s -> %s", ob_onboard_stage_names[from],
                          ob_onboard_stage_names[s]);
        return 0;
}

/* Forget the certificate we were given (its token expired, or its key is gone). */
void ob_onboard_discard_pending_cert(ObOnboard *ob)
{
        char path[512];

        if (ob_onboard_slot_file(ob, "device.crt", path, sizeof(path)))
                (void)ob_fs_unlink(ob->d.fs, path);
        if (ob->c->provisioning.create_keys &&
            ob_onboard_slot_file(ob, "device.key", path, sizeof(path)))
                (void)ob_fs_unlink(ob->d.fs, path);
        free(ob->cert_id);
        ob->cert_id = NULL;
        ob_onboard_secret_free(&ob->token);
        ob->token_ms = 0;
        ob->not_before_s = ob->not_after_s = 0;
}

/* ------------------------------------------------------------------ the decision */

/* The template RegisterThing uses: rotation.template during a rotation, if set. */
const char *ob_onboard_template_name(const ObOnboard *ob)
{
        if (ob->rotating && !ob_onboard_healing(ob) && ob->c->rotation.template_name)
                return ob->c->rotation.template_name; /* a heal registers as the first time */
        return ob->c->provisioning.template_name;
}

bool ob_onboard_clock_plausible(const ObOnboard *ob, int64_t now)
{
        return now >= ob->d.build_epoch_ms;
}

/* No certificate decision on a clock that is not set (a board without RTC boots in 1970). */
void ob_onboard_wait_for_clock(ObOnboard *ob, int64_t now)
{
        if (ob->act != OB_ACT_WAIT_CLOCK)
                ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                                  "the wall clock is before the build date: waiting for time "
                                  "synchronization before any certificate decision");
        ob_onboard_set_activity(ob, OB_ACT_WAIT_CLOCK, now + OB_ONBOARD_CLOCK_RETRY_MS);
}

bool ob_onboard_token_fresh(const ObOnboard *ob, int64_t now)
{
        return ob->token && now - ob->token_ms < OB_ONBOARD_TOKEN_LIFETIME_MS &&
               now >= ob->token_ms;
}

/* Do the next thing the stage calls for: announce a commit whose save failed, begin a due
 * rotation, wait for a plausible clock; then the method's flow (its table row) for the first
 * identity, fleet provisioning's for a rotation. */
int ob_onboard_resume(ObOnboard *ob, int64_t now)
{
        if (ob->post_commit != POST_COMMIT_NONE) {
                /* the commit's save failed: save it now, then announce what it did */
                if (ob_onboard_set_stage(ob, OB_STAGE_ONBOARDED, now) == 0)
                        ob_onboard_after_commit(ob, now);
                return 0;
        }
        if (ob_onboard_heal_check(ob, now)) /* refused for good, or expired */
                return 0;
        if (ob_onboard_checkin_while_retrying(ob, now)) /* a rotation's retry not due yet */
                return 0;
        if (ob->stage == OB_STAGE_ONBOARDED && ob_onboard_rotation_begin(ob, now) == 0)
                return 0;
        if (!ob_onboard_clock_plausible(ob, now)) {
                ob_onboard_wait_for_clock(ob, now);
                return 0;
        }
        return ob->rotating ? ob_onboard_fleet_resume(ob, now) : ob->method->resume(ob, now);
}

int ob_onboard_start(ObOnboard *ob, int64_t now_ms)
{
        int r;

        if (ob->decommissioned) {
                ob_onboard_set_error(
                        ob, -1, "decommissioned",
                        "decommissioned: no identity; 'agentctl reprovision' onboards again",
                        now_ms);
                ob_onboard_set_activity(ob, OB_ACT_FAILED, -1);
                return 0;
        }
        r = ob->method->start ? ob->method->start(ob, now_ms) : 0;
        if (r < 0)
                return r;
        ob_onboard_sweep_retired(ob, now_ms); /* also when a rotation resumes rather than idles */
        return ob_onboard_resume(ob, now_ms);
}

/* ------------------------------------------------------------------ transport events */

static int topic_index(const ObOnboard *ob, const char *topic)
{
        for (int i = 0; i < N_TOPICS; i++)
                if (ob->topics[i][0] && strcmp(ob->topics[i], topic) == 0)
                        return i;
        return -1;
}

/* A request is in flight: its reply (or its loss) is what the machine waits for. */
static bool awaiting_reply(const ObOnboard *ob)
{
        return ob->act == OB_ACT_REQUEST_CERT || ob->act == OB_ACT_REGISTER;
}

/* Which reply topic a SUBACK's token was for (N_TOPICS: none of ours). */
static int sub_index(const ObOnboard *ob, int token)
{
        int i;

        for (i = 0; i < N_TOPICS; i++)
                if (ob->sub_tokens[i] == token)
                        break;
        return i;
}

/* Whose policy refused the provisioning topics: a rotation subscribes with the device's own
 * certificate, so the device policy must allow them (docs/rotation.md), not the claim policy. */
static const char *subscribe_blame(const ObOnboard *ob)
{
        return ob->rotating && !ob_onboard_healing(ob)
                       ? "the device's policy does not allow the provisioning topics "
                         "(a rotation connects with the current certificate: "
                         "docs/rotation.md), or rotation.template is wrong"
                       : "the claim policy does not allow it, or provisioning.template is "
                         "wrong";
}

/* What a failed connection was (lib/conn-outcome.h): the transport's observation, and for a
 * close before CONNACK the timing only the engine knows (how long the attempt took, how soon
 * after the previous CONNECT of the same client id it began). */
static ObConnCause connect_outcome(const ObOnboard *ob, const ObTransportEvent *ev, int64_t now,
                                   ObErrClass *cls, char *detail, size_t size)
{
        ObConnCause cause = ev->cause;

        *cls = ev->err_class;
        snprintf(detail, size, "%s", ev->detail);
        if (cause != OB_CONN_CLOSED || ob->attempt_ms <= 0)
                return cause;
        cause = ob_conn_classify_close(
                now - ob->attempt_ms, (int64_t)ob->c->endpoint.connect_timeout_ms,
                ob->prev_connect_ms > 0 ? ob->attempt_ms - ob->prev_connect_ms : -1);
        *cls = ob_conn_cause_class(cause);
        if (cause == OB_CONN_NO_CONNACK)
                snprintf(detail, size,
                         "no CONNACK within %llu ms: the server took TLS and never "
                         "answered the CONNECT (%.150s)",
                         (unsigned long long)ob->c->endpoint.connect_timeout_ms, ev->detail);
        else if (cause == OB_CONN_THROTTLED)
                snprintf(detail, size,
                         "closed before CONNACK %lld ms after the previous CONNECT "
                         "of this client id: throttled (AWS allows one per second)",
                         (long long)(ob->attempt_ms - ob->prev_connect_ms));
        return cause;
}

int ob_onboard_handle_event(ObOnboard *ob, const ObTransportEvent *ev, int64_t now_ms)
{
        char detail[sizeof(ev->detail)];
        ObConnCause cause;
        ObErrClass cls;
        int i;

        if (ob->act == OB_ACT_CHECKIN && ob_onboard_checkin_event(ob, ev, now_ms))
                return 0;
        switch (ev->type) {
        case OB_TEV_CONNECTED:
                ob->connected = true;
                ob_backoff_success(&ob->backoff, now_ms);
                /* the 1 s floor counts from when the broker saw the CONNECT, which is after
                 * the TLS handshake: count from the CONNACK, so the next CONNECT is surely
                 * more than a second later (AWS refuses the second one otherwise) */
                ob_backoff_connect_attempt(&ob->backoff, now_ms);
                if (ob->act == OB_ACT_CONNECT_CLAIM && ob->rotating)
                        ob_onboard_heal_note_connect(ob, false, OB_CONN_UNKNOWN, now_ms);
                if (ob->act == OB_ACT_CONNECT_CLAIM)
                        return ob_onboard_subscribe_all(ob, now_ms);
                if (ob->act == OB_ACT_CHECKIN) {
                        /* the current identity works: the refusals counted for a heal are over */
                        ob_onboard_heal_note_connect(ob, false, OB_CONN_UNKNOWN, now_ms);
                        return ob_onboard_checkin_connected(ob, now_ms);
                }
                if (ob->act == OB_ACT_VERIFY) {
                        ob_onboard_committed(ob, now_ms);
                        return 0;
                }
                break;
        case OB_TEV_CONNECT_FAILED:
                cause = connect_outcome(ob, ev, now_ms, &cls, detail, sizeof(detail));
                /* a refused or throttled CONNECT reached the broker: the 1 s floor counts from
                 * its answer, like a CONNACK (the broker's clock started no earlier) */
                if (cls == OB_ERR_REFUSED || cls == OB_ERR_THROTTLED)
                        ob_backoff_connect_attempt(&ob->backoff, now_ms);
                if (ob->act == OB_ACT_CHECKIN) {
                        ob_onboard_checkin_refused(ob, cls, detail, now_ms);
                        /* the current identity refused: may fire the heal (lib/onboard-heal.h) */
                        ob_onboard_heal_note_connect(ob, cls == OB_ERR_REFUSED, cause, now_ms);
                } else if (ob->act == OB_ACT_VERIFY && ob->method->refused && !ob->rotating &&
                           cls == OB_ERR_REFUSED && ob_conn_cause_may_be_pending(cause))
                        ob->method->refused(ob, detail, now_ms);
                else if (ob->act == OB_ACT_VERIFY && ob_onboard_factory_method(ob) && !ob->rotating)
                        /* an alert, a throttle, a timeout: not a registration in progress */
                        ob_onboard_fail(ob, cls,
                                        cls == OB_ERR_REFUSED ? "certificate-refused"
                                                              : "connect-failed",
                                        now_ms, "connecting with the device certificate failed: %s",
                                        detail);
                else if (ob->act == OB_ACT_CONNECT_CLAIM) {
                        bool current = ob->rotating && !ob_onboard_healing(ob);

                        ob_onboard_fail(ob, cls, "connect-failed", now_ms,
                                        "connecting with the %s certificate failed: %s",
                                        current ? "current" : "claim", detail);
                        if (current) /* may fire the heal (lib/onboard-heal.h) */
                                ob_onboard_heal_note_connect(ob, cls == OB_ERR_REFUSED, cause,
                                                             now_ms);
                } else if (ob->act == OB_ACT_VERIFY && ob->rotating && cls == OB_ERR_REFUSED &&
                           ++ob->verify_refusals >= OB_ONBOARD_ROLLBACK_REFUSALS) {
                        /* the cloud will not take the new certificate: roll back, the current
                         * identity never stopped working; try again later from a new key */
                        ob->verify_refusals = 0;
                        ob_onboard_abandon_rotation_slot(ob);
                        if (ob_onboard_set_stage(ob, OB_STAGE_NEW, now_ms) < 0)
                                break;
                        ob_onboard_fail(
                                ob, cls, "rotation-rolled-back", now_ms,
                                "the new certificate was refused (%s): rolled back, the current "
                                "one stays in use",
                                detail);
                        ob_onboard_jobs_rotation_ended(ob, false, "rotation-rolled-back", now_ms);
                } else if (ob->act == OB_ACT_VERIFY)
                        ob_onboard_fail(ob, cls, "verify-failed", now_ms,
                                        "connecting with the new certificate failed: %s", detail);
                break;
        case OB_TEV_SUBSCRIBED:
                if (ob->act != OB_ACT_SUBSCRIBE)
                        break;
                i = sub_index(ob, ev->token);
                if (i < N_TOPICS && --ob->subs_pending == 0)
                        return ob_onboard_send_request(ob, now_ms);
                break;
        case OB_TEV_SUBSCRIBE_FAILED:
                if (ob->act != OB_ACT_SUBSCRIBE)
                        break;
                i = sub_index(ob, ev->token);
                if (ob->subs_batched && !ev->detail[0]) {
                        /* AWS IoT answers a SUBSCRIBE its policy forbids on MQTT 3.1.1 by
                         * closing the connection, with no SUBACK (docs/emulator.md) */
                        ob_onboard_fail(
                                ob, OB_ERR_REFUSED, "subscribe-refused", now_ms,
                                "the connection closed on the SUBSCRIBE to %s and %s (AWS IoT closes "
                                "it when the policy does not allow a topic): %s",
                                ob->topics[0], ob->topics[2], subscribe_blame(ob));
                        break;
                }
                ob_onboard_fail(ob, OB_ERR_REFUSED, "subscribe-refused", now_ms,
                                "subscription to %s refused: %s",
                                ob->subs_batched ? (ev->detail[0] ? ev->detail : "a reply topic")
                                : i < N_TOPICS   ? ob->topics[i]
                                                 : "a reply topic",
                                subscribe_blame(ob));
                break;
        case OB_TEV_PUBLISHED:
                if (ob->act == OB_ACT_ANNOUNCE) {
                        ob_onboard_notify(ob, OB_CHANGE_NOTICE, "published the old certificate id");
                        ob_onboard_announce_done(ob, now_ms);
                }
                break;
        case OB_TEV_PUBLISH_FAILED:
                if (awaiting_reply(ob))
                        ob_onboard_fail(ob, OB_ERR_NETWORK, "publish-failed", now_ms,
                                        "publish failed: %s", ev->detail);
                break;
        case OB_TEV_MESSAGE:
                i = ev->topic ? topic_index(ob, ev->topic) : -1;
                if (i < 0 || (ob->act == OB_ACT_REQUEST_CERT && i > 1) ||
                    (ob->act == OB_ACT_REGISTER && i < 2) || !awaiting_reply(ob)) {
                        ob->ignored_messages++;
                        ob_log_debug("onboard: ignoring a message on %s",
                                     ev->topic ? ev->topic : "?");
                        break;
                }
                if (i == 0)
                        ob_onboard_on_cert_reply(ob, ev, now_ms);
                else if (i == 1)
                        ob_onboard_rejected(ob,
                                            ob->c->provisioning.create_keys
                                                    ? "CreateKeysAndCertificate"
                                                    : "CreateCertificateFromCsr",
                                            ev, now_ms);
                else if (i == 2)
                        ob_onboard_on_register_reply(ob, ev, now_ms);
                else
                        ob_onboard_rejected(ob, "RegisterThing", ev, now_ms);
                break;
        case OB_TEV_MESSAGE_DROPPED:
                if (awaiting_reply(ob))
                        ob_onboard_fail(ob, OB_ERR_REJECTED, "bad-reply", now_ms,
                                        "a reply was dropped: %s", ev->detail);
                break;
        case OB_TEV_CONNECTION_LOST:
                ob->connected = false;
                if (ob->act == OB_ACT_ANNOUNCE) /* committed already: nothing to retry */
                        ob_onboard_announce_done(ob, now_ms);
                else if (ob_onboard_busy(ob))
                        ob_onboard_fail(ob, OB_ERR_NETWORK, "connection-lost", now_ms,
                                        "the connection was lost while %s: %s",
                                        ob_onboard_activity_names[ob->act], ev->detail);
                break;
        }
        return 0;
}

int ob_onboard_tick(ObOnboard *ob, int64_t now_ms)
{
        if (ob->deadline < 0 || now_ms < ob->deadline)
                return 0;
        switch (ob->act) {
        case OB_ACT_CONNECT_CLAIM:
        case OB_ACT_SUBSCRIBE:
        case OB_ACT_REQUEST_CERT:
        case OB_ACT_REGISTER:
        case OB_ACT_VERIFY:
                ob_onboard_fail(ob, OB_ERR_TIMEOUT, "timeout", now_ms,
                                "no answer while %s within %llu s",
                                ob_onboard_activity_names[ob->act],
                                (unsigned long long)((ob->act == OB_ACT_CONNECT_CLAIM ||
                                                                      ob->act == OB_ACT_VERIFY
                                                              ? ob->c->endpoint.connect_timeout_ms
                                                              : ob->c->endpoint.step_timeout_ms) /
                                                     1000));
                return 0;
        case OB_ACT_CHECKIN:
                return ob_onboard_checkin_timeout(ob, now_ms);
        case OB_ACT_ANNOUNCE:
                ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                                  "the old certificate id was not acknowledged in time");
                ob_onboard_announce_done(ob, now_ms);
                return 0;
        case OB_ACT_WAIT_CLOCK:
        case OB_ACT_WAIT_RETRY:
        case OB_ACT_WAIT_CERT:
        case OB_ACT_WAIT_ACTIVATION:
        case OB_ACT_IDLE:
        case OB_ACT_DONE:
                return ob_onboard_resume(ob, now_ms);
        case OB_ACT_WAIT_CLAIM:
        case OB_ACT_CREATE_KEY:
        case OB_ACT_FAILED:
        case _OB_ACT_MAX:
                break;
        }
        return 0;
}
