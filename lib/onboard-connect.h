/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connecting (lib/onboard-connect.c), for the onboarding machine's other modules. Not an API.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "onboard.h"

/* "tpm2" for a key at a TPM handle or in a TSS2 PEM file, else "default" */
const char *ob_onboard_key_file_provider(const ObFsOps *fs, const char *path);
/* Connect with cert and key (act: what the connection is for), keeping the one-CONNECT-per-second
 * floor per client id; a failure to start is recorded (0 when it is retried at the local pace). */
int ob_onboard_connect_to(ObOnboard *ob, const char *cert, const char *key, const char *provider,
                          ObOnboardActivity act, int64_t now);
/* With the pending slot's new certificate (verifying it) */
int ob_onboard_connect_device(ObOnboard *ob, int64_t now);
/* With the current certificate (a rotation's requests) */
int ob_onboard_connect_current(ObOnboard *ob, int64_t now);
/* The same, for act (the check-in session: OB_ACT_CHECKIN) */
int ob_onboard_connect_current_as(ObOnboard *ob, ObOnboardActivity act, int64_t now);
const char *ob_onboard_iso_text(int64_t s, char *buf, size_t size);
