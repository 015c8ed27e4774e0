/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `agentctl check`: the field engineer's checks (docs/operations.md, "agentctl check"). One
 * table {id, title, run}; each check judges one thing and says pass/warn/fail/skip with a
 * one-line detail and a hint naming what to do. They run inside agentctl, not in the daemon,
 * so they work when the daemon is down; they never change anything (no SRK is created, no key
 * is made). Only check cloud sends an MQTT CONNECT, under a client id of its own
 * (agent/check-cloud.h), so that it never takes over the running daemon's session.
 * A check that lacks access (not root, not in the tss group) says so with a warning.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "health.h"
#include "macro.h"

#define OB_CHECK_DETAIL_MAX 400
#define OB_CHECK_HINT_MAX   300

typedef struct ObCheckOutcome {
        ObHealthResult result;
        char detail[OB_CHECK_DETAIL_MAX];
        char hint[OB_CHECK_HINT_MAX]; /* "" when there is nothing to do */
} ObCheckOutcome;

typedef struct ObCheckContext ObCheckContext;

typedef struct ObCheck {
        const char *id; /* stable: scripts and --skip use it */
        const char *title;
        void (*run)(ObCheckContext *ctx, ObCheckOutcome *o);
} ObCheck;

/* The checks in the order they run. */
const ObCheck *ob_check_table(size_t *ret_n);
/* The check with this id, or NULL. */
const ObCheck *ob_check_find(const char *id);

/*
 * A context for one run over the configuration at config_path (it is loaded by the config
 * check; an invalid one makes the others skip), judged at now_s (Unix seconds). Sets up
 * OpenSSL's providers, so call it before anything else uses libcrypto. 0 or -ENOMEM.
 */
int ob_check_context_new(const char *config_path, int64_t now_s, ObCheckContext **ret);
ObCheckContext *ob_check_context_free(ObCheckContext *ctx);
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(ObCheckContext *, ob_check_context_free)
