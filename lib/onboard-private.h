/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the onboarding machine's modules share (lib/onboard.h is the API): the machine's struct
 * and the flow engine's steps (lib/onboard.c: names, lifecycle, the one failure and backoff
 * path, stages, the decision, transport events, tick, retry requests). Each other module has
 * its own header: onboard-method.h (the method table), onboard-fleet.h, onboard-factory.h
 * (+ onboard-jit.c), onboard-rotate.h (rotation and committing), onboard-key.h (the key and the
 * templates), onboard-connect.h; onboard-state.c (state.json <-> struct), onboard-forget.c and
 * onboard-status.c are declared here and in onboard.h. docs/architecture.md has the module map.
 * Not an API.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "backoff.h"
#include "fleet-proto.h"
#include "onboard.h"
#include "retire.h"

#define STATE_VERSION 1
#define N_TOPICS      4   /* request accepted + rejected, register accepted + rejected */
#define ERR_TEXT_MAX  512 /* last_error.text: room for the cause and what to do */

OB_DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)

struct ObOnboard {
        ObOnboardDeps d;
        const struct ObOnboardMethod *method; /* provisioning.method's row (onboard-method.h) */
        const ObConfig *c;
        ObBackoffPolicy policy;
        ObFleetFormat fmt;

        /* persisted */
        ObOnboardStage stage;
        uint64_t gen; /* credential generation being built */
        char *cert_id;
        char *token; /* ownership token: a secret */
        int64_t token_ms;
        int64_t not_before_s, not_after_s;
        char *thing_name;
        json_object *devconf;
        uint64_t cur_gen;
        char *cur_thing, *cur_cert_id;
        int64_t cur_not_before_s, cur_not_after_s, onboarded_ms;
        ObRetireList retired; /* generations rotations retired (deleted after the grace) */
        ObBackoff backoff;
        char err_code[48];
        char err_text[ERR_TEXT_MAX];
        int err_class; /* ObErrClass or -1 */
        int64_t err_ms;

        /* volatile */
        ObOnboardActivity act;
        int64_t deadline;
        int subs_pending;
        int sub_tokens[N_TOPICS];
        bool subs_batched; /* one SUBSCRIBE for all topics: sub_tokens[0] is its token */
        char topics[N_TOPICS][160];
        char last_client_id[160];
        int64_t attempt_ms;           /* when the current CONNECT attempt began */
        int64_t prev_connect_ms;      /* the CONNECT before it, same client id (0: none known) */
        char *claim_cert, *claim_key; /* paths used to connect with the claim */
        bool claim_temporary;         /* trusted user: files in the runtime dir, ours to delete */
        bool request_unsaved;         /* agentctl rotate taken while no save succeeded since */
        unsigned ignored_messages;
        unsigned verify_refusals; /* consecutive refusals of a rotation's new certificate */
        uint32_t refusals;        /* static/jitp/jitr: refusals of the factory certificate
                                     (persisted: "refusals") */
        int save_error;           /* the last save of state.json: 0, or what made it fail */
        /* committed() switched the credentials but could not save stage onboarded: what the
         * commit still has to announce once a save works (resume()) */
        enum { POST_COMMIT_NONE, POST_COMMIT_ONBOARDED, POST_COMMIT_ROTATED } post_commit;
        char *chain_file;         /* jitp/jitr: certificate + chain for the handshake (runtime) */
        char *post_commit_old_id; /* POST_COMMIT_ROTATED: the replaced certificate's id */

        /* the check-in session and the named shadow (lib/onboard-checkin.c) */
        int64_t checkin_ms;      /* persisted: when the last check-in began */
        int64_t checkin_next_ms; /* the next one (0: not scheduled yet) */
        /* a rotation waiting for its retry, check-ins going on meanwhile (onboard-checkin.c):
         * the retry's time (0: none) and the rotation's backoff, kept across a check-in */
        int64_t retry_ms;
        ObBackoff retry_backoff;
        int checkin_step;             /* what the session waits for (onboard-checkin.c) */
        int checkin_subs;             /* SUBACKs still awaited */
        int checkin_tokens[2];        /* update/accepted, update/rejected */
        char checkin_topics[2][200];  /* the same topics */
        json_object *shadow_sent;     /* the report in flight */
        json_object *shadow_reported; /* persisted: what the shadow last accepted */
        int64_t shadow_ms;            /* persisted: when */
        char shadow_result[160];      /* persisted: "accepted", "rejected: ...", "no answer" */
        /* self-healing (lib/onboard-heal.c; persisted: "heal"), AWS IoT Jobs (lib/onboard-jobs.c;
         * the runner's part persisted: "job") and a set-rotation-policy job's policy (persisted:
         * "rotation_policy"; has_policy false: the configuration's); grouped by size (the
         * padding check of make analyze) */
        int64_t heal_first_ms; /* the first refusal of the current identity counted */
        int64_t heal_last_ms;  /* the last of them */
        int64_t healed_ms;     /* the last heal's commit (0: never healed) */
        struct ObJobRunner *jobs;
        int64_t jobs_now; /* the time of the event the runner is handling (its ops') */
        double pol_fraction;
        uint32_t heal_refusals; /* refusals of the current identity since its last success */
        uint32_t pol_days, pol_age;
        bool heal_just_committed; /* volatile: after_commit() says "healed" once */
        bool jobs_part;           /* the check-in session is in its jobs' part */
        bool has_policy;
        /* persisted flags of the machine (and the volatile connected), kept with the other bools
         * (the padding check) */
        bool rotating;         /* the pending flow is a rotation of the current identity */
        bool decommissioned;   /* agentctl decommission: stay stopped until a reprovision */
        bool rotate_requested; /* agentctl rotate: due now, whatever the policy says */
        bool connected;
        char heal_reason[16];   /* the pending rotation is a heal, and why ("": it is not) */
        char healed_reason[16]; /* the last heal's reason */
        char jobs_said[400];    /* what the session's shadow part said, for its one line */
        char tpm_manufacturer[33], tpm_firmware[33]; /* ob_onboard_set_tpm_info() */
};

/* Names (lib/onboard.c) */
extern const char *const ob_onboard_activity_names[_OB_ACT_MAX];
extern const char *const ob_onboard_stage_names[_OB_STAGE_MAX];
int ob_onboard_set_str(char **dst, const char *src);

/* Changes and failures: every step reports through notify(); a failure records last_error, backs
 * off (persisted) and waits (lib/onboard.c) */
void ob_onboard_notify(ObOnboard *ob, ObOnboardChangeKind kind, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void ob_onboard_set_activity(ObOnboard *ob, ObOnboardActivity a, int64_t deadline);
int ob_onboard_set_stage(ObOnboard *ob, ObOnboardStage s, int64_t now);
void ob_onboard_set_error(ObOnboard *ob, int cls, const char *code, const char *text, int64_t now);
void ob_onboard_fail_text(ObOnboard *ob, ObErrClass cls, const char *code, int64_t now,
                          int64_t soon_ms, ObOnboardActivity act, const char *text);
void ob_onboard_fail_local(ObOnboard *ob, const char *code, int error, int64_t now, const char *fmt,
                           ...) __attribute__((format(printf, 5, 6)));
void ob_onboard_fail_for_good(ObOnboard *ob, const char *code, int64_t now, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
void ob_onboard_wait_for_clock(ObOnboard *ob, int64_t now);
bool ob_onboard_clock_plausible(const ObOnboard *ob, int64_t now);

/* Persistence (lib/onboard-state.c) */
json_object *ob_onboard_state_to_json(const ObOnboard *ob);
int ob_onboard_persist(ObOnboard *ob);
void ob_onboard_persist_or_say(ObOnboard *ob);

/* Connections and tokens (lib/onboard.c); the key and templates are lib/onboard-key.h, connecting
 * lib/onboard-connect.h */
void ob_onboard_disconnect(ObOnboard *ob);
bool ob_onboard_token_fresh(const ObOnboard *ob, int64_t now);

/* The decision (lib/onboard.c); rotation and committing are lib/onboard-rotate.h */
int ob_onboard_resume(ObOnboard *ob, int64_t now);
void ob_onboard_discard_pending_cert(ObOnboard *ob);

/* More shared steps (lib/onboard.c): the error path, credential slots */
void ob_onboard_fail(ObOnboard *ob, ObErrClass cls, const char *code, int64_t now, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
void ob_onboard_secret_free(char **p);
const char *ob_onboard_slot_file(ObOnboard *ob, const char *name, char *buf, size_t size);
int ob_onboard_slot_create(ObOnboard *ob, int64_t now);
const char *ob_onboard_template_name(const ObOnboard *ob);
