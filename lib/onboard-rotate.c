/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rotation and committing: when the current identity is due for renewal (the policy), renewing
 * it in credential slot N+1 while N stays in use, rolling back or abandoning that slot, switching
 * to a verified generation (committing), announcing it, and deleting retired generations after
 * the grace period. agentctl rotate lands here (ob_onboard_rotate_now()). The flow engine
 * (lib/onboard.c) calls in; this module calls the flow engine's steps (onboard-private.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "creds.h"
#include "health.h"
#include "onboard-checkin.h"
#include "onboard-factory.h"
#include "onboard-fleet.h"
#include "onboard-heal.h"
#include "onboard-jobs.h"
#include "onboard-key.h"
#include "onboard-method.h"
#include "onboard-private.h"
#include "onboard-rotate.h"
#include "onboard.h"
#include "retire.h"
#include "x509.h"

/* ------------------------------------------------------------------ when, and the slot */

int64_t ob_onboard_next_rotation(const ObOnboard *ob)
{
        int64_t nb = ob->cur_not_before_s, na = ob->cur_not_after_s, due;

        if (ob->cur_gen == 0 || na <= nb || !ob_onboard_can_rotate(ob->c))
                return -1;
        /* agentctl rotate (or a rotate job) rotates also with the automatic renewal off */
        if (ob->rotate_requested)
                return 0;
        if (!ob->c->rotation.enabled)
                return -1;
        /* the policy (shared with agentctl check): the earliest of a fraction of the lifetime,
         * days before notAfter (never before half the life) and the maximum age */
        if (ob_health_rotation_due(nb, na, ob_onboard_policy_fraction(ob),
                                   ob_onboard_policy_days(ob), ob_onboard_policy_age(ob), &due) < 0)
                due = nb + (na - nb) / 2;
        /* never sooner after the commit than halfway to notAfter (and at most a day): a
         * backdated notBefore, a skewed clock or an aggressive policy must not make every new
         * certificate due at once, minting certificates in a loop */
        if (ob->onboarded_ms > 0) {
                int64_t commit = ob->onboarded_ms / 1000;
                int64_t gap = na > commit ? (na - commit) / 2 : 0;

                if (gap > 86400)
                        gap = 86400;
                if (due < commit + gap)
                        due = commit + gap;
        }
        return due * 1000;
}

bool ob_onboard_rotating(const ObOnboard *ob)
{
        return ob->rotating;
}

/* The fingerprint guard: credentials/current still holds the certificate the state names. */
bool ob_onboard_current_cert_unchanged(ObOnboard *ob, char *why, size_t whysize)
{
        _cleanup_free_ char *path =
                ob_creds_slot_file(ob->c->paths.state_dir, ob->cur_gen, "device.crt");
        char fp[65];
        X509 *x = NULL;
        int r;

        if (!path || ob_x509_from_file_with(ob->d.fs, path, &x) < 0) {
                snprintf(why, whysize, "the current certificate cannot be read");
                return false;
        }
        r = ob_x509_fingerprint_hex(x, fp, sizeof(fp));
        X509_free(x);
        if (r < 0 || !ob->cur_cert_id || strcmp(fp, ob->cur_cert_id) != 0) {
                snprintf(why, whysize,
                         "the current certificate changed underneath the agent (it is not "
                         "%.12s... any more)",
                         ob->cur_cert_id ? ob->cur_cert_id : "?");
                return false;
        }
        return true;
}

/* Onboarded: idle until the next rotation is due; then renew in slot N+1, the current identity
 * stays untouched. 1: the rotation began (stage new); 0: nothing more to do now. */
int ob_onboard_rotation_begin(ObOnboard *ob, int64_t now)
{
        int64_t due = ob_onboard_next_rotation(ob);

        if (due < 0 || now < due) {
                if (ob_onboard_checkin_due(ob, now))
                        (void)ob_onboard_checkin_begin(ob, now);
                else
                        ob_onboard_idle(ob, now);
                return 0;
        }
        if (!ob_onboard_clock_plausible(ob, now)) {
                ob_onboard_wait_for_clock(ob, now);
                return 0;
        }
        return ob_onboard_rotation_open(ob, now);
}

/* Renew in slot N+1 now (a due rotation, or a heal: lib/onboard-heal.c); the current identity
 * stays untouched. 1: begun (stage new, saved); 0: it cannot (failure recorded). */
int ob_onboard_rotation_open(ObOnboard *ob, int64_t now)
{
        char why[200];

        if (!ob_onboard_current_cert_unchanged(ob, why, sizeof(why))) {
                ob->rotate_requested = false;
                ob_onboard_fail_for_good(ob, "rotation-aborted", now, "%s: not rotating", why);
                ob_onboard_jobs_rotation_ended(ob, false, "rotation-aborted", now);
                return 0;
        }
        ob->rotating = true;
        ob->gen = ob->cur_gen + 1;
        if (ob_retire_contains(&ob->retired, ob->gen)) {
                /* an old slot with that number must go first */
                ObRetireSweep s = {.state_dir = ob->c->paths.state_dir,
                                   .fs = ob->d.fs,
                                   .keys = ob->d.keys,
                                   .current = ob->cur_gen};
                (void)ob_retire_delete_now(&ob->retired, &s, ob->gen);
        }
        ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                          "renewing certificate %.12s... (%s) in credential generation %llu",
                          ob->cur_cert_id,
                          ob->heal_reason[0]     ? "heal through the claim"
                          : ob->rotate_requested ? "requested"
                                                 : "due",
                          (unsigned long long)ob->gen);
        return ob_onboard_set_stage(ob, OB_STAGE_NEW, now) < 0 ? 0 : 1;
}

/* Forget a rotation's slot N+1: the current identity stays what it was. */
void ob_onboard_abandon_rotation_slot(ObOnboard *ob)
{
        ob_onboard_discard_pending_cert(ob);
        free(ob->thing_name);
        ob->thing_name = NULL;
        json_object_put(ob->devconf);
        ob->devconf = NULL;
        if (ob->gen > 0 && ob->gen != ob->cur_gen) {
                char path[512];

                if (ob_onboard_slot_file(ob, "device.key", path, sizeof(path)))
                        (void)ob->d.keys->ops->destroy(ob->d.keys, path);
                (void)ob_creds_remove_slot(ob->c->paths.state_dir, ob->gen, ob->d.fs);
        }
        ob->gen = 0;
}

/* After the grace period, the keys and certificates rotations retired are deleted: every
 * retired slot on disk, however many rotations committed within the grace (lib/retire.h). */
void ob_onboard_sweep_retired(ObOnboard *ob, int64_t now)
{
        ObRetireSweep s = {
                .state_dir = ob->c->paths.state_dir,
                .fs = ob->d.fs,
                .keys = ob->d.keys,
                .current = ob->cur_gen,
                .pending = ob->gen, /* a slot being built (0: none) */
                .grace_ms = (int64_t)ob->c->rotation.old_key_grace_days * 86400 * 1000,
        };
        ObRetireResult res;

        if (ob->cur_gen == 0 || !ob_onboard_clock_plausible(ob, now) ||
            ob_retire_sweep(&ob->retired, &s, now, &res) < 0)
                return;
        if (res.deleted > 0)
                ob_onboard_notify(
                        ob, OB_CHANGE_NOTICE,
                        "deleted the keys and certificates of %u retired generation(s) (%llu..%llu)",
                        res.deleted, (unsigned long long)res.first, (unsigned long long)res.last);
        if (res.error < 0)
                ob_onboard_notify(
                        ob, OB_CHANGE_NOTICE,
                        "cannot delete retired credential generation %llu: %s (trying again later)",
                        (unsigned long long)res.error_gen, strerror(-res.error));
        if (res.changed)
                ob_onboard_persist_or_say(ob);
}

/* Onboarded and idle: sleep until the next rotation, the next retired slot's deletion or the
 * next check-in, the earliest. */
void ob_onboard_idle(ObOnboard *ob, int64_t now)
{
        int64_t next = ob_onboard_next_rotation(ob);
        int64_t grace = (int64_t)ob->c->rotation.old_key_grace_days * 86400 * 1000, gone;
        int64_t checkin = ob_onboard_checkin_next(ob, now);

        ob_onboard_sweep_retired(ob, now);
        gone = ob_retire_next_due(&ob->retired, grace);
        if (gone >= 0 && (next < 0 || gone < next))
                next = gone;
        if (checkin >= 0 && (next < 0 || checkin < next))
                next = checkin;
        /* and at notAfter: an expired identity heals (lib/onboard-heal.h) */
        gone = (ob->cur_not_after_s + 1) * 1000;
        if (ob->cur_gen > 0 && ob->cur_not_after_s > 0 && gone > now && (next < 0 || gone < next))
                next = gone;
        ob_onboard_set_activity(ob, OB_ACT_DONE, next);
}

/* ------------------------------------------------------------------ committing */

void ob_onboard_announce_done(ObOnboard *ob, int64_t now)
{
        ob_onboard_disconnect(ob);
        ob_onboard_idle(ob, now);
}

/* Rotation: tell the cloud side which certificate may be deactivated (best effort). */
bool ob_onboard_announce(ObOnboard *ob, const char *old_id, int64_t now)
{
        _cleanup_free_ char *topic = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *text;
        int token, r;

        if (!ob->c->rotation.old_cert_topic ||
            ob_onboard_expand(ob, ob->c->rotation.old_cert_topic, &topic) < 0)
                return false;
        o = json_object_new_object();
        if (!o)
                return false;
        json_object_object_add(o, "oldCertificateId", json_object_new_string(old_id));
        json_object_object_add(o, "newCertificateId", json_object_new_string(ob->cur_cert_id));
        if (ob->cur_thing)
                json_object_object_add(o, "thingName", json_object_new_string(ob->cur_thing));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        r = ob->d.transport->ops->publish(ob->d.transport->impl, topic, text, strlen(text), 1,
                                          &token);
        if (r < 0) {
                ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                                  "cannot publish the old certificate id to %s: %s", topic,
                                  strerror(-r));
                return false;
        }
        ob_onboard_set_activity(ob, OB_ACT_ANNOUNCE,
                                now + (int64_t)ob->c->endpoint.step_timeout_ms);
        return true;
}

void ob_onboard_committed(ObOnboard *ob, int64_t now)
{
        _cleanup_free_ char *old_id = NULL;
        bool rotation = ob->rotating;
        uint64_t old_gen = ob->cur_gen;
        char why[200];
        int r;

        if (rotation && !ob_onboard_current_cert_unchanged(ob, why, sizeof(why))) {
                /* someone replaced the credentials: do not overwrite what they did */
                ob_onboard_abandon_rotation_slot(ob);
                ob->rotating = false;
                ob->rotate_requested = false;
                ob->heal_reason[0] = 0;
                if (ob_onboard_set_stage(ob, OB_STAGE_ONBOARDED, now) < 0)
                        return;
                ob_onboard_fail_for_good(ob, "rotation-aborted", now, "%s: rotation abandoned",
                                         why);
                ob_onboard_jobs_rotation_ended(ob, false, "rotation-aborted", now);
                return;
        }
        r = ob_creds_commit(ob->c->paths.state_dir, ob->gen, ob->d.fs);
        if (r < 0) {
                ob_onboard_fail_local(ob, "storage-error", r, now,
                                      "cannot switch credentials/current to %llu",
                                      (unsigned long long)ob->gen);
                return;
        }
        old_id = ob->cur_cert_id ? strdup(ob->cur_cert_id) : NULL;
        ob->cur_gen = ob->gen;
        if (ob->thing_name) {
                free(ob->cur_thing);
                ob->cur_thing = TAKE_PTR(ob->thing_name);
        }
        free(ob->cur_cert_id);
        ob->cur_cert_id = TAKE_PTR(ob->cert_id);
        ob->cur_not_before_s = ob->not_before_s;
        ob->cur_not_after_s = ob->not_after_s;
        ob->onboarded_ms = now;
        ob->gen = 0;
        ob->not_before_s = ob->not_after_s = 0;
        json_object_put(ob->devconf);
        ob->devconf = NULL;
        ob->err_code[0] = 0;
        ob->err_text[0] = 0;
        ob->err_class = -1;
        ob->err_ms = 0;
        ob->refusals = 0;
        if (!rotation)
                ob_onboard_drop_chain_file(ob); /* from now on the certificate goes alone */
        if (rotation) {
                (void)ob_retire_add(&ob->retired, old_gen, now); /* else found on disk later */
                ob->rotating = false;
                ob->rotate_requested = false;
                ob_backoff_init(&ob->backoff);
        }
        ob_onboard_heal_committed(ob, now);
        ob->post_commit = rotation ? POST_COMMIT_ROTATED : POST_COMMIT_ONBOARDED;
        free(ob->post_commit_old_id);
        ob->post_commit_old_id = TAKE_PTR(old_id);
        r = ob_onboard_set_stage(ob, OB_STAGE_ONBOARDED, now);
        if (r < 0)
                return; /* the retry saves it, then announces (resume()) */
        ob_onboard_after_commit(ob, now);
}

/* What a saved commit announces: the rotation (to the cloud on the verifying session, if it is
 * still there, and to the daemon's hook), or the onboarding. Once. */
void ob_onboard_after_commit(ObOnboard *ob, int64_t now)
{
        _cleanup_free_ char *old_id = TAKE_PTR(ob->post_commit_old_id);
        bool rotation = ob->post_commit == POST_COMMIT_ROTATED;

        ob->post_commit = POST_COMMIT_NONE;
        ob_onboard_checkin_soon(ob, now); /* the shadow shows the new identity */
        if (rotation) {
                ob_onboard_heal_announce(ob);
                ob_onboard_jobs_rotation_ended(ob, true, NULL, now); /* a job's: SUCCEEDED */
                ob_onboard_notify(
                        ob, OB_CHANGE_ROTATED,
                        "rotated: certificate %.12s... (generation %llu) replaces %.12s...",
                        ob->cur_cert_id, (unsigned long long)ob->cur_gen, old_id ? old_id : "?");
                if (old_id && ob->connected && ob_onboard_announce(ob, old_id, now))
                        return; /* disconnects when the cloud acknowledged */
                if (old_id && !ob->connected && ob->c->rotation.old_cert_topic)
                        ob_onboard_notify(
                                ob, OB_CHANGE_NOTICE,
                                "certificate %.12s... was not announced on rotation.old_cert_topic: "
                                "the commit was saved only on a retry, without the connection",
                                old_id);
                ob_onboard_announce_done(ob, now);
                return;
        }

        ob_onboard_disconnect(ob);
        ob_onboard_idle(ob, now);
        if (ob->claim_temporary) {
                ob_onboard_drop_claim(ob);
        } else if (ob->c->provisioning.delete_claim && ob->claim_cert) {
                if (ob_fs_unlink(ob->d.fs, ob->claim_key) < 0 ||
                    ob_fs_unlink(ob->d.fs, ob->claim_cert) < 0)
                        ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                                          "cannot delete the claim credentials: %s",
                                          strerror(errno));
                else
                        ob_onboard_notify(ob, OB_CHANGE_NOTICE, "deleted the claim credentials");
        }
        ob_onboard_notify(ob, OB_CHANGE_ONBOARDED, "onboarded as %s (certificate %.12s...)",
                          ob->cur_thing ? ob->cur_thing : ob->d.serial, ob->cur_cert_id);
}

/* ------------------------------------------------------------------ agentctl rotate */

/* Why a device without an identity cannot rotate, and what the operator does about it. */
static void not_onboarded_text(const ObOnboard *ob, char *err, size_t errsize)
{
        if (ob->decommissioned) {
                snprintf(err, errsize,
                         "decommissioned: there is no identity to renew; 'agentctl reprovision' "
                         "onboards again");
                return;
        }
        snprintf(err, errsize,
                 "not onboarded yet, nothing to rotate: %s; 'agentctl status' says what it waits "
                 "for. Rotate once it says onboarded%s",
                 ob->method->first_identity,
                 ob_onboard_can_rotate(ob->c) ? "" : "; renewal also needs rotation.template");
}

int ob_onboard_rotate_now(ObOnboard *ob, int64_t now_ms, char *err, size_t errsize)
{
        if (ob->cur_gen == 0) {
                not_onboarded_text(ob, err, errsize);
                return -EAGAIN;
        }
        if (ob->rotating) {
                snprintf(err, errsize, "a rotation is already running (stage %s)",
                         ob_onboard_stage_names[ob->stage]);
                return -EALREADY;
        }
        if (!ob_onboard_can_rotate(ob->c)) {
                snprintf(err, errsize,
                         "provisioning.method %s renews certificates through fleet provisioning "
                         "only: set rotation.template (or provisioning.template)",
                         ob_provisioning_method_to_string(ob->c->provisioning.method));
                return -EOPNOTSUPP;
        }
        ob->rotate_requested = true;
        ob->backoff.next_ms = 0;
        ob_onboard_persist_or_say(ob);
        ob->request_unsaved = ob->save_error < 0;
        if (ob->save_error < 0) /* taken, but only in memory: the operator must know */
                snprintf(err, errsize,
                         "the request could not be saved to %s/state.json (%s): it is lost if "
                         "the daemon stops before the rotation starts",
                         ob->c->paths.state_dir, strerror(-ob->save_error));
        /* the request is taken: what its first step meets (a failed connect, scheduled for a
         * retry) is the rotation's, reported by status, not a refusal of the request */
        if (ob->act == OB_ACT_DONE || ob->act == OB_ACT_FAILED)
                (void)ob_onboard_resume(ob, now_ms);
        return 0;
}
