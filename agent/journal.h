/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The journald log sink and the stable MESSAGE_IDs operators alert on (docs/operations.md,
 * "The journal"). Under systemd (JOURNAL_STREAM names our stderr) messages go to journald
 * with structured fields; otherwise to stderr.
 */
#pragma once

#include <stdbool.h>

/* Stable, never reused: `journalctl MESSAGE_ID=...` */
#define OB_MESSAGE_ONBOARDED           "6f8d5c2a1b3e4f7a9c0d1e2f3a4b5c6d"
#define OB_MESSAGE_ROTATED             "0b1c2d3e4f5a4b6c8d7e9f0a1b2c3d4e"
#define OB_MESSAGE_CREDENTIALS_REFUSED "a3c1e5f7092b4d6e8f0a1c3e5b7d9f12"
#define OB_MESSAGE_CLOCK_NOT_SET       "4e2a9d7c5b3f41e6a8c0b2d4f6e8a0c2"
#define OB_MESSAGE_ONBOARDING_FAILED   "d94b7e3a1f5c4e2b8a6d0c9e7f3b1a5d"
#define OB_MESSAGE_HEALED              "5c7e9a1b3d2f4a6c8e0b2d4f6a8c1e3b"

/* Install the journald sink when stderr is connected to the journal (returns true), else a
 * stderr sink whose lines start with the UTC time (returns false). */
bool ob_journal_setup(void);
