/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Self-healing identity (docs/self-healing.md): the triggers (the cloud refuses the current
 * identity recovery.refusals times over at least recovery.refusal_window_minutes, or its
 * certificate expired), the heal itself (a rotation whose step 2 connects with the claim instead
 * of the current certificate), and the wait without a claim. The flow engine, the rotation and
 * the fleet flow call in; so do the check-in session (ob_onboard_heal_note_connect()) and the
 * reprovision job (ob_onboard_heal_begin()).
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn-outcome.h"
#include "onboard.h"

/* Reasons, as persisted and shown (heal_reason). */
#define OB_HEAL_REFUSED  "refused"
#define OB_HEAL_EXPIRED  "expired"
#define OB_HEAL_JOB      "job"
#define OB_HEAL_OPERATOR "operator"

/* The code and text of last_error while the identity is refused and no claim can heal it. */
#define OB_HEAL_WAIT_CODE "identity-refused"
#define OB_HEAL_WAIT_TEXT                                                                          \
        "identity refused by AWS IoT Core: revoked or inactive certificate — needs a new "       \
        "certificate or a claim"

/*
 * A connect with the current identity ended: refused (its error class is refused) with cause,
 * or succeeded (refused false). Counts the refusals that say the cloud does not accept the
 * identity (a CONNACK refusal, a close before CONNACK, a TLS alert of the refused class), never
 * a throttle, a network error, a timeout or a server certificate; a success resets the count.
 * When the count fires the trigger, heals (a claim is available and recovery.reonboard is on)
 * or waits with a clear status on the long backoff.
 */
void ob_onboard_heal_note_connect(ObOnboard *ob, bool refused, ObConnCause cause, int64_t now);

/*
 * Heal now (reason: OB_HEAL_JOB, OB_HEAL_OPERATOR, or a trigger's): re-onboard through the claim
 * as a rotation of the current identity. 0: begun (or already under way for that reason); < 0
 * with err: not onboarded (-EAGAIN), no claim (-ENOENT), a heal already running (-EALREADY).
 */
int ob_onboard_heal_begin(ObOnboard *ob, const char *reason, int64_t now, char *err,
                          size_t errsize);

/* The flow engine's decision, before a rotation: a trigger fired (1: handled, the caller stops),
 * or nothing to do (0). */
int ob_onboard_heal_check(ObOnboard *ob, int64_t now);

/* The pending rotation is a heal: its step 2 connects with the claim. */
bool ob_onboard_healing(const ObOnboard *ob);

/* fleet-trusted-user: an onboarded device whose identity is refused takes a claim
 * (agentctl provision) and heals with it. */
bool ob_onboard_heal_wants_claim(const ObOnboard *ob);
int ob_onboard_heal_claim_given(ObOnboard *ob, int64_t now);

/* Committing a heal (before the save of stage onboarded): healed_at and the reason. */
void ob_onboard_heal_committed(ObOnboard *ob, int64_t now);
/* After the saved commit: the journal's "healed" message, once. */
void ob_onboard_heal_announce(ObOnboard *ob);

/* state.json's "heal" object (absent: nothing to remember) and the status fields from it. */
void ob_onboard_heal_to_json(const ObOnboard *ob, json_object *state);
void ob_onboard_heal_from_json(ObOnboard *ob, json_object *state);
void ob_onboard_heal_status(json_object *state, json_object *status);
