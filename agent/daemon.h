/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon: one sd-event loop that owns the onboarding state machine (lib/onboard.c), the
 * transport, the key provider, the control socket, signals and the systemd watchdog.
 */
#pragma once

#include "config-file.h"

/* Exit codes of onboard-agent (docs/operations.md). */
#define OB_EXIT_FAILURE 1
#define OB_EXIT_USAGE   64
#define OB_EXIT_CONFIG  78

/* Run until SIGTERM/SIGINT. Takes over config (freed or replaced on reload). Returns an exit
 * code. */
int ob_daemon_run(const char *config_path, ObConfig *config);
