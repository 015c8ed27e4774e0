/* SPDX-License-Identifier: Apache-2.0 */
/* checks daemon, state and config-current (agent/check-daemon.c): asked of the running daemon. */
#pragma once

#include "check.h"

void ob_check_daemon(ObCheckContext *ctx, ObCheckOutcome *o);
void ob_check_state(ObCheckContext *ctx, ObCheckOutcome *o);
void ob_check_config_current(ObCheckContext *ctx, ObCheckOutcome *o);
