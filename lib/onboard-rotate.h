/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rotation and committing (lib/onboard-rotate.c), for the onboarding machine's other modules.
 * The public part (ob_onboard_next_rotation(), ob_onboard_rotate_now(), ob_onboard_rotating())
 * is in lib/onboard.h. Not an API.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "onboard.h"

/* Onboarded: idle until the next rotation is due, or begin it in slot N+1 (stage new).
 * 1: a rotation began, go on with the flow; 0: nothing more to do now (idle, waiting or failed). */
int ob_onboard_rotation_begin(ObOnboard *ob, int64_t now);
int ob_onboard_rotation_open(ObOnboard *ob, int64_t now);
/* Forget a rotation's slot N+1: the current identity stays what it was. */
void ob_onboard_abandon_rotation_slot(ObOnboard *ob);
/* The fingerprint guard: credentials/current still holds the certificate the state names. */
bool ob_onboard_current_cert_unchanged(ObOnboard *ob, char *why, size_t whysize);
void ob_onboard_sweep_retired(ObOnboard *ob, int64_t now);
/* Onboarded and idle: sleep until the next rotation (or the next retired slot's deletion). */
void ob_onboard_idle(ObOnboard *ob, int64_t now);

/* Committing: the verified generation becomes current; then announced once it is saved. */
void ob_onboard_committed(ObOnboard *ob, int64_t now);
void ob_onboard_after_commit(ObOnboard *ob, int64_t now);
bool ob_onboard_announce(ObOnboard *ob, const char *old_id, int64_t now);
/* The announcement is over (acknowledged, timed out, or the connection went): disconnect, idle. */
void ob_onboard_announce_done(ObOnboard *ob, int64_t now);
