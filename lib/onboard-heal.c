/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Self-healing identity (lib/onboard-heal.h, docs/self-healing.md). A heal is a rotation
 * (lib/onboard-rotate.c: slot N+1, a new key, CreateCertificateFromCsr, RegisterThing with the
 * current thing's name, the old identity kept until the new one verifies) whose step 2 connects
 * with the claim instead of the current certificate (lib/onboard-fleet.c). That the pending
 * rotation is a heal, and why, is saved with the rotation's first stage, so a crash at any step
 * resumes the heal; the commit saves healed_at and the reason with stage onboarded.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "isotime.h"
#include "onboard-heal.h"
#include "onboard-method.h"
#include "onboard-private.h"
#include "onboard-rotate.h"
#include "onboard.h"

/* ------------------------------------------------------------------ the triggers */

/* Whether a failed connect's cause says the cloud does not take the identity: a refusal of the
 * outcome table (lib/conn-outcome.h), not a throttle, the network, a timeout or the server. */
static bool counts_as_refusal(bool refused, ObConnCause cause)
{
        if (!refused)
                return false;
        switch (cause) {
        case OB_CONN_UNKNOWN: /* nothing observed: the class says refused */
        case OB_CONN_CONNACK_REFUSED:
        case OB_CONN_CLOSED:
        case OB_CONN_TLS_ALERT: /* of the refused class: "certificate revoked", ... */
                return true;
        case OB_CONN_THROTTLED:
        case OB_CONN_SERVER_CERT:
        case OB_CONN_TLS:
        case OB_CONN_NO_CONNACK:
        case OB_CONN_NETWORK:
        case OB_CONN_TIMEOUT:
        case _OB_CONN_CAUSE_MAX:
                break;
        }
        return false;
}

/* recovery.refusals refusals, the first and the last at least the window apart. */
static bool refusals_fired(const ObOnboard *ob)
{
        return ob->heal_refusals > 0 && ob->heal_refusals >= ob->c->recovery.refusals &&
               ob->heal_last_ms - ob->heal_first_ms >=
                       (int64_t)ob->c->recovery.refusal_window_min * 60 * 1000;
}

static bool expired(const ObOnboard *ob, int64_t now)
{
        return ob->cur_gen > 0 && ob->cur_not_after_s > 0 && now / 1000 > ob->cur_not_after_s &&
               ob_onboard_clock_plausible(ob, now);
}

bool ob_onboard_healing(const ObOnboard *ob)
{
        return ob->rotating && ob->heal_reason[0];
}

/* A claim to heal with: fleet-claim's (still on disk: provisioning.delete_claim may have
 * removed it), or the trusted user's temporary one. */
static bool claim_present(const ObOnboard *ob)
{
        return ob->claim_cert && ob->claim_key &&
               ob_fs_access(ob->d.fs, ob->claim_cert, R_OK) == 0 &&
               ob_fs_access(ob->d.fs, ob->claim_key, R_OK) == 0;
}

/* No claim (or recovery.reonboard off): say so and wait on retry.refused's cap; the wait ends
 * with one more try (the cloud side may have reactivated the certificate meanwhile). */
static void wait_without_claim(ObOnboard *ob, const char *reason, int64_t now)
{
        int64_t until = now + (int64_t)ob->c->retry.refused.cap_ms;
        char text[ERR_TEXT_MAX], t[32];

        if (strcmp(reason, OB_HEAL_EXPIRED) == 0)
                snprintf(text, sizeof(text),
                         "certificate %.12s... expired at %s — needs a new certificate or a claim",
                         ob->cur_cert_id ? ob->cur_cert_id : "?",
                         ob_isotime_format(ob->cur_not_after_s, t, sizeof(t)) ? t : "?");
        else
                snprintf(text, sizeof(text), "%s", OB_HEAL_WAIT_TEXT);
        ob_onboard_disconnect(ob);
        ob_onboard_set_error(ob, OB_ERR_REFUSED, OB_HEAL_WAIT_CODE, text, now);
        if (ob->backoff.next_ms < until)
                ob->backoff.next_ms = until;
        ob_onboard_persist_or_say(ob);
        ob_onboard_notify(ob, OB_CHANGE_ERROR, "%s (%s); trying again in %llu s", text,
                          ob->method->claim_at_runtime
                                  ? "'agentctl provision' with a claim heals it"
                          : ob->c->recovery.reonboard ? "no claim to heal with"
                                                      : "recovery.reonboard is off",
                          (unsigned long long)(ob->c->retry.refused.cap_ms / 1000));
        ob_onboard_set_activity(ob, OB_ACT_WAIT_RETRY, until);
}

/* A trigger fired: heal through the claim, or wait. 1: handled. */
static int fire(ObOnboard *ob, const char *reason, int64_t now)
{
        char err[200];
        int r;

        if (ob->c->recovery.reonboard && claim_present(ob)) {
                r = ob_onboard_heal_begin(ob, reason, now, err, sizeof(err));
                if (r == 0 || r == -EIO) /* begun, or its failure recorded (the fingerprint) */
                        return 1;
        }
        wait_without_claim(ob, reason, now);
        return 1;
}

void ob_onboard_heal_note_connect(ObOnboard *ob, bool refused, ObConnCause cause, int64_t now)
{
        if (ob->cur_gen == 0 || ob_onboard_healing(ob))
                return;
        if (!refused && cause == OB_CONN_UNKNOWN) { /* a CONNACK: the identity works */
                if (ob->heal_refusals == 0)
                        return;
                ob->heal_refusals = 0;
                ob->heal_first_ms = ob->heal_last_ms = 0;
                ob_onboard_persist_or_say(ob);
                return;
        }
        if (!counts_as_refusal(refused, cause))
                return; /* a transient says nothing about the identity */
        if (ob->heal_refusals++ == 0)
                ob->heal_first_ms = now;
        ob->heal_last_ms = now;
        ob_onboard_persist_or_say(ob);
        if (refusals_fired(ob))
                (void)fire(ob, OB_HEAL_REFUSED, now);
}

int ob_onboard_heal_check(ObOnboard *ob, int64_t now)
{
        if (ob->cur_gen == 0 || ob->decommissioned || ob_onboard_healing(ob))
                return 0;
        if (expired(ob, now))
                return fire(ob, OB_HEAL_EXPIRED, now);
        /* fired before a restart, the heal not begun yet: begin it (without a claim the retry
         * goes on, on the refused schedule) */
        if (refusals_fired(ob) && ob->c->recovery.reonboard && claim_present(ob))
                return fire(ob, OB_HEAL_REFUSED, now);
        return 0;
}

/* ------------------------------------------------------------------ the heal */

int ob_onboard_heal_begin(ObOnboard *ob, const char *reason, int64_t now, char *err, size_t errsize)
{
        if (ob->cur_gen == 0) {
                snprintf(err, errsize, "not onboarded: there is no identity to heal");
                return -EAGAIN;
        }
        if (ob_onboard_healing(ob)) {
                if (strcmp(ob->heal_reason, reason) == 0)
                        return 0;
                snprintf(err, errsize, "a heal is already running (%s)", ob->heal_reason);
                return -EALREADY;
        }
        if (!claim_present(ob)) {
                snprintf(err, errsize, "no claim to heal with: %s",
                         ob->method->claim_at_runtime
                                 ? "'agentctl provision' hands one over"
                                 : "fleet-claim's provisioning.claim_cert/claim_key are needed");
                return -ENOENT;
        }
        snprintf(ob->heal_reason, sizeof(ob->heal_reason), "%s", reason);
        if (ob->rotating) {
                /* a rotation under way becomes the heal; a certificate its current identity was
                 * issued goes (the claim asks for its own) */
                if (ob->stage == OB_STAGE_CERT_ISSUED) {
                        ob_onboard_discard_pending_cert(ob);
                        if (ob_onboard_set_stage(ob,
                                                 ob->c->provisioning.create_keys
                                                         ? OB_STAGE_NEW
                                                         : OB_STAGE_KEY_READY,
                                                 now) < 0)
                                return 0; /* recorded, retried (the reason is in memory) */
                } else
                        ob_onboard_persist_or_say(ob);
        } else if (ob_onboard_rotation_open(ob, now) != 1) {
                ob->heal_reason[0] = 0;
                snprintf(err, errsize, "cannot begin: %s", ob->err_text);
                return -EIO;
        }
        ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                          "healing (%s): re-onboarding thing %s through the claim; certificate "
                          "%.12s... stays until the new one verifies",
                          reason, ob->cur_thing ? ob->cur_thing : "?",
                          ob->cur_cert_id ? ob->cur_cert_id : "?");
        ob->backoff.next_ms = 0; /* a fresh attempt; its failures back off as usual */
        if (!ob_onboard_busy(ob))
                (void)ob_onboard_resume(ob, now);
        return 0;
}

bool ob_onboard_heal_wants_claim(const ObOnboard *ob)
{
        if (ob->cur_gen == 0 || !ob->method->claim_at_runtime)
                return false;
        if (ob_onboard_healing(ob))
                return ob->act == OB_ACT_WAIT_CLAIM;
        return strcmp(ob->err_code, OB_HEAL_WAIT_CODE) == 0;
}

int ob_onboard_heal_claim_given(ObOnboard *ob, int64_t now)
{
        char err[200];

        if (ob_onboard_healing(ob))
                return ob_onboard_resume(ob, now);
        return ob_onboard_heal_begin(ob, expired(ob, now) ? OB_HEAL_EXPIRED : OB_HEAL_REFUSED, now,
                                     err, sizeof(err));
}

void ob_onboard_heal_committed(ObOnboard *ob, int64_t now)
{
        if (ob->heal_reason[0]) {
                ob->healed_ms = now;
                snprintf(ob->healed_reason, sizeof(ob->healed_reason), "%s", ob->heal_reason);
                ob->heal_just_committed = true;
        }
        ob->heal_reason[0] = 0;
        ob->heal_refusals = 0;
        ob->heal_first_ms = ob->heal_last_ms = 0;
}

void ob_onboard_heal_announce(ObOnboard *ob)
{
        if (!ob->heal_just_committed)
                return;
        ob->heal_just_committed = false;
        ob_onboard_notify(ob, OB_CHANGE_HEALED,
                          "healed (%s): thing %s has certificate %.12s... (generation %llu); the "
                          "old certificate is retired, docs/self-healing.md says how to clean "
                          "it up in the cloud",
                          ob->healed_reason, ob->cur_thing ? ob->cur_thing : "?",
                          ob->cur_cert_id ? ob->cur_cert_id : "?", (unsigned long long)ob->cur_gen);
}

/* ------------------------------------------------------------------ state.json and status */

void ob_onboard_heal_to_json(const ObOnboard *ob, json_object *state)
{
        json_object *h;

        if (!ob->heal_reason[0] && ob->heal_refusals == 0 && ob->healed_ms == 0)
                return;
        h = json_object_new_object();
        json_object_object_add(state, "heal", h);
        if (ob->heal_reason[0])
                json_object_object_add(h, "reason", json_object_new_string(ob->heal_reason));
        if (ob->heal_refusals > 0) {
                json_object_object_add(h, "refusals", json_object_new_int64(ob->heal_refusals));
                json_object_object_add(h, "first_refusal_ms",
                                       json_object_new_int64(ob->heal_first_ms));
                json_object_object_add(h, "last_refusal_ms",
                                       json_object_new_int64(ob->heal_last_ms));
        }
        if (ob->healed_ms > 0) {
                json_object_object_add(h, "healed_ms", json_object_new_int64(ob->healed_ms));
                json_object_object_add(h, "healed_reason",
                                       json_object_new_string(ob->healed_reason));
        }
}

static int64_t get_int(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
                       ? json_object_get_int64(v)
                       : 0;
}

static void get_str(json_object *o, const char *key, char *buf, size_t size)
{
        json_object *v;

        buf[0] = 0;
        if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                snprintf(buf, size, "%s", json_object_get_string(v));
}

/* An older state.json has no "heal": nothing counted, never healed. */
void ob_onboard_heal_from_json(ObOnboard *ob, json_object *state)
{
        json_object *h;
        int64_t n;

        if (!json_object_object_get_ex(state, "heal", &h) ||
            !json_object_is_type(h, json_type_object))
                return;
        get_str(h, "reason", ob->heal_reason, sizeof(ob->heal_reason));
        n = get_int(h, "refusals");
        ob->heal_refusals = n > 0 && n < UINT32_MAX ? (uint32_t)n : 0;
        ob->heal_first_ms = get_int(h, "first_refusal_ms");
        ob->heal_last_ms = get_int(h, "last_refusal_ms");
        ob->healed_ms = get_int(h, "healed_ms");
        get_str(h, "healed_reason", ob->healed_reason, sizeof(ob->healed_reason));
}

void ob_onboard_heal_status(json_object *state, json_object *status)
{
        json_object *h = NULL, *v;
        bool rotating = state && json_object_object_get_ex(state, "rotating", &v) &&
                        json_object_get_boolean(v);

        if (state)
                json_object_object_get_ex(state, "heal", &h);
        json_object_object_add(status, "healed_at",
                               get_int(h, "healed_ms") > 0
                                       ? ob_isotime_json(get_int(h, "healed_ms") / 1000)
                                       : NULL);
        json_object_object_add(
                status, "heal_reason",
                h && json_object_object_get_ex(h, "healed_reason", &v) ? json_object_get(v) : NULL);
        if (rotating && h && json_object_object_get_ex(h, "reason", &v))
                json_object_object_add(status, "healing", json_object_get(v));
        if (get_int(h, "refusals") > 0)
                json_object_object_add(status, "identity_refusals",
                                       json_object_new_int64(get_int(h, "refusals")));
}
