/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The onboarding state machine (fleet provisioning by claim and by trusted user; a factory
 * certificate used as it is (static), or registered on first connect (jitp, jitr)), persisted in
 * state.json so that a crash at any point resumes where it was (docs/state.md,
 * docs/provisioning.md).
 *
 * Two layers of state:
 *   - the *stage* is persisted and only moves after an outside effect is safely on disk:
 *     new -> key-ready -> certificate-issued -> thing-registered -> onboarded (fleet);
 *     new -> certificate-issued -> onboarded (static, jitp, jitr: the factory certificate and
 *     key copied into a credential slot, then proved by a connect);
 *   - the *activity* is what the machine is doing right now (connecting, waiting for a reply,
 *     waiting to retry...). It is not persisted: after a restart the stage decides.
 *
 * The machine is driven from outside (the daemon's event loop, or a unit test): start(), every
 * transport event, tick() when the deadline is reached, provide_claim() for a trusted user's
 * claim. Time is passed in (wall clock, milliseconds). It talks to the cloud only through
 * ObTransport and to keys only through ObKeyProvider; it never logs above debug, it reports
 * transitions and errors through the `changed` callback and the status.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "backoff.h"
#include "config-file.h"
#include "errclass.h"
#include "fsops.h"
#include "key-provider.h"
#include "macro.h"
#include "store.h"
#include "transport.h"

/* An ownership token is valid for one hour; the machine re-registers only while it is younger
 * than this (leaving a margin for the request itself). */
#define OB_ONBOARD_TOKEN_LIFETIME_MS (55 * 60 * 1000)
#define OB_ONBOARD_CLOCK_RETRY_MS    (10 * 1000)
/* A rotation's new certificate refused this many times in a row is given up (rolled back):
 * one refusal may be a throttled CONNECT, three are the cloud's answer. */
#define OB_ONBOARD_ROLLBACK_REFUSALS 3
/* static/jitp/jitr without a certificate yet: look again this often (and on SIGHUP). */
#define OB_ONBOARD_CERT_POLL_MS 5000
/* jitp/jitr: the first refusal is expected (it registered the certificate): retry after
 * this, plus up to as much again of jitter, then back off on retry.refused. */
#define OB_ONBOARD_FIRST_REFUSAL_RETRY_MS 1000

typedef enum ObOnboardStage {
        OB_STAGE_NEW,
        OB_STAGE_KEY_READY,
        OB_STAGE_CERT_ISSUED,
        OB_STAGE_THING_REGISTERED,
        OB_STAGE_ONBOARDED,
        _OB_STAGE_MAX,
} ObOnboardStage;

typedef enum ObOnboardActivity {
        OB_ACT_IDLE,            /* not started */
        OB_ACT_WAIT_CLOCK,      /* wall clock before the build date: no certificate decisions */
        OB_ACT_WAIT_CLAIM,      /* trusted user: waiting for a temporary claim */
        OB_ACT_WAIT_RETRY,      /* after a failure, until the backoff deadline */
        OB_ACT_CREATE_KEY,      /* creating or loading the device key */
        OB_ACT_CONNECT_CLAIM,   /* connecting with the claim certificate */
        OB_ACT_SUBSCRIBE,       /* subscribing to the reply topics */
        OB_ACT_REQUEST_CERT,    /* CreateCertificateFromCsr / CreateKeysAndCertificate */
        OB_ACT_REGISTER,        /* RegisterThing */
        OB_ACT_VERIFY,          /* connecting with the new certificate */
        OB_ACT_ANNOUNCE,        /* rotation: publishing the old certificate id */
        OB_ACT_WAIT_CERT,       /* static/jitp/jitr: no device certificate installed yet */
        OB_ACT_WAIT_ACTIVATION, /* jitr: refused until a cloud function activates the cert */
        OB_ACT_DONE,            /* onboarded, nothing to do */
        OB_ACT_FAILED,          /* cannot go on without an operator (reason in last_error) */
        OB_ACT_CHECKIN,         /* the check-in session with the current identity */
        _OB_ACT_MAX,
} ObOnboardActivity;

const char *ob_onboard_stage_to_string(ObOnboardStage s);
int ob_onboard_stage_from_string(const char *s, ObOnboardStage *ret);
/* The documented status state names ("waiting-for-claim", "registering-thing", "onboarded"...). */
const char *ob_onboard_activity_to_string(ObOnboardActivity a);

typedef struct ObOnboard ObOnboard;

/* static, jitp, jitr: the device's certificate comes from the factory (lib/factory-paths.h),
 * not from fleet provisioning. */
bool ob_onboard_method_uses_factory_cert(const ObConfig *c);
/* Can the current certificate be renewed? Fleet methods always; static/jitp/jitr only with a
 * fleet provisioning template (rotation.template or provisioning.template). */
bool ob_onboard_can_rotate(const ObConfig *c);

typedef enum ObOnboardChangeKind {
        OB_CHANGE_ACTIVITY,  /* activity changed (text: "from -> to") */
        OB_CHANGE_STAGE,     /* stage persisted */
        OB_CHANGE_ERROR,     /* an attempt failed; code/text in the status */
        OB_CHANGE_ONBOARDED, /* onboarding completed */
        OB_CHANGE_ROTATED,   /* a rotation committed new credentials: run the hook */
        OB_CHANGE_NOTICE,    /* something an operator should read (text) */
        OB_CHANGE_CHECKIN,   /* a check-in session ended (text: its outcome) */
        OB_CHANGE_HEALED,    /* a heal committed (OB_CHANGE_ROTATED follows for the hook) */
} ObOnboardChangeKind;

typedef struct ObOnboardChange {
        ObOnboardChangeKind kind;
        const char *text; /* human text, never secrets */
} ObOnboardChange;

typedef struct ObOnboardDeps {
        const ObConfig *config;
        ObKeyProvider *keys; /* device key backend */
        ObTransport *transport;
        ObStore *store; /* state.json */
        const ObRandom *random;
        const ObFsOps *fs;      /* NULL: the real filesystem */
        const char *serial;     /* required */
        const char *machine_id; /* may be NULL */
        /* The TPM-bound token (hex), asked for only when it is used: RegisterThing's parameters
         * and a template with {hardware_token}. Reading it costs a TPM primary key, so an
         * onboarded daemon does not pay for it at every start. NULL, or NULL returned: none.
         * Gets userdata. */
        const char *(*hardware_token)(void *userdata);
        int64_t build_epoch_ms; /* the wall clock is implausible before this */
        void (*changed)(ObOnboard *ob, const ObOnboardChange *c, void *userdata);
        void *userdata;
} ObOnboardDeps;

/* Copies nothing from deps but pointers: they must outlive the machine. 0, -EINVAL, -ENOMEM. */
int ob_onboard_new(const ObOnboardDeps *deps, ObOnboard **ret);
ObOnboard *ob_onboard_free(ObOnboard *ob);
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(ObOnboard *, ob_onboard_free)

/*
 * Load state.json (a fresh device has none). -EBADMSG: both copies corrupt, or the content is
 * not a valid state (err names the field); the caller decides (the daemon refuses to start:
 * an operator must look, nothing is overwritten). info may be NULL.
 */
int ob_onboard_load(ObOnboard *ob, ObStoreLoadInfo *info, char *err, size_t errsize);

/* Begin or resume. Returns 0, or a negative errno for a failure that stops the machine (it is
 * then in OB_ACT_FAILED with last_error set). */
int ob_onboard_start(ObOnboard *ob, int64_t now_ms);
/* Feed one transport event (ownership of its buffers stays with the caller). */
int ob_onboard_handle_event(ObOnboard *ob, const ObTransportEvent *ev, int64_t now_ms);
/* Call when the deadline has passed (calling early is harmless). */
int ob_onboard_tick(ObOnboard *ob, int64_t now_ms);
/* Wall-clock ms of the next deadline, or -1 when nothing is scheduled. */
int64_t ob_onboard_deadline(const ObOnboard *ob);
/* While waiting to retry: when the failed step is tried again (a rotation waiting for its retry
 * may check in before, so this is not always the deadline). */
int64_t ob_onboard_next_retry(const ObOnboard *ob);

/*
 * Something outside the flow that the operator must see in status.last_error (code, text, no
 * class), and in the journal: a claim refused in the drop directory, a refused reload. The flow
 * goes on as it was; the next failure or success replaces it. text NULL: what code said is over
 * (a reload that worked): last_error is cleared if code is still its code.
 */
void ob_onboard_report(ObOnboard *ob, const char *code, const char *text, int64_t now_ms);

/*
 * A trusted user's temporary claim (PEM certificate and key). Refused with -EINVAL (not a
 * matching certificate/key pair), -EKEYEXPIRED (already expired), -EALREADY (not waiting for
 * one: onboarded or another claim in use), -EOPNOTSUPP (method is not fleet-trusted-user). The
 * key is kept in the runtime directory only until the flow ends. err names the reason.
 */
int ob_onboard_provide_claim(ObOnboard *ob, const char *cert_pem, const char *key_pem,
                             int64_t now_ms, char *err, size_t errsize);

/*
 * Rotation (docs/rotation.md): once onboarded, the machine's deadline is the next rotation
 * (rotation.lifetime_fraction / days_before_expiry / max_age_days, the earliest wins), and the
 * same flow runs again in credential slot N+1 while slot N stays current and working. The stage
 * then describes the rotation (ob_onboard_rotating() is true); the committed identity is
 * untouched until the new certificate has proved itself.
 */
bool ob_onboard_rotating(const ObOnboard *ob);
/* Wall-clock ms when the current certificate is due for renewal; -1 when not onboarded or
 * rotation.enabled is false. */
int64_t ob_onboard_next_rotation(const ObOnboard *ob);
/*
 * At shutdown: make sure the state is saved (written again only when the last save failed).
 * 0 saved; otherwise the error, with lost set to what an operator asked for that is lost with
 * it ("" when nothing: the retry schedule starts again).
 */
int ob_onboard_save(ObOnboard *ob, char *lost, size_t lostsize);

/* Start a rotation now (agentctl rotate). -EAGAIN not onboarded yet, -EALREADY one is running,
 * -EOPNOTSUPP static/jitp/jitr without a fleet provisioning template to renew with. On 0, err
 * holds a warning when the request could not be saved (it is taken, in memory), else "". */
int ob_onboard_rotate_now(ObOnboard *ob, int64_t now_ms, char *err, size_t errsize);

/* End the current wait and try now (agentctl retry): waiting-to-retry, -for-activation,
 * -for-certificate, -for-clock, or failed. The failure count stays; the one-CONNECT-per-second
 * floor holds. -EAGAIN waiting for a claim (give one), -EALREADY onboarded or already trying;
 * err says which. */
int ob_onboard_retry_now(ObOnboard *ob, int64_t now_ms, char *err, size_t errsize);

/*
 * Forget the identity (agentctl reprovision / decommission): disconnect, delete every credential
 * slot (TPM key blobs and certificates) and the current link, reset the state. reprovision
 * (decommission false) then onboards again; decommission stays stopped, across restarts, until
 * a reprovision. dry_run deletes nothing. *ret_deleted (may be NULL) lists the paths deleted
 * (or that would be). Keys at vendor handles and the SRK are never touched.
 */
int ob_onboard_forget(ObOnboard *ob, bool decommission, bool dry_run, int64_t now_ms,
                      json_object **ret_deleted);

ObOnboardStage ob_onboard_stage(const ObOnboard *ob);
ObOnboardActivity ob_onboard_activity(const ObOnboard *ob);
/* Is a connection open or being opened (the daemon must keep the transport's fd watched)? */
bool ob_onboard_busy(const ObOnboard *ob);

/* What the named shadow reports of the TPM (docs/shadow.md); NULL: not known. Copied. */
void ob_onboard_set_tpm_info(ObOnboard *ob, const char *manufacturer, const char *firmware);

/*
 * Status for agentctl (docs/state.md, "Status"): state, stage, method, thing_name,
 * certificate_id, certificate_not_before/after, last_error {code, class, text, time},
 * next_retry, attempts. New reference or NULL on OOM.
 */
json_object *ob_onboard_status(const ObOnboard *ob, int64_t now_ms);
/* The same from a state.json payload alone (the daemon is not running). */
json_object *ob_onboard_status_from_state(json_object *state);
