/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agentctl's entry point. With the daemon built (libsystemd), agentctl is not a program of its
 * own: it is a symbolic link to onboard-agent, whose main() calls this when the name it was
 * started as is "agentctl" (one copy of lib/ instead of two; docs/performance.md, P4). A
 * --without-systemd build has no daemon and links agentctl on its own (agent/agentctl-main.c).
 */
#pragma once

#include <stdbool.h>

int ob_agentctl_main(int argc, char *argv[]);

/* True if ARGV0 (a path or a name) names agentctl. */
bool ob_agentctl_invoked_as(const char *argv0);
