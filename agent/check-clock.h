/* SPDX-License-Identifier: Apache-2.0 */
/* check clock (agent/check-clock.c): the wall clock against the build date and the server. */
#pragma once

#include "check.h"

void ob_check_clock(ObCheckContext *ctx, ObCheckOutcome *o);
