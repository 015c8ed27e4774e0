/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agentctl's commands that talk to the daemon (agent/agentctl-daemon.c). Each takes the
 * configuration file, --json, and the command's own argv (argv[0]: its last word), and returns
 * agentctl's exit code (agentctl(8)) after saying what went wrong (agent/cli.h).
 */
#pragma once

#include <stdbool.h>

int ob_agentctl_status(const char *config_path, bool json, int argc, char *argv[]);
int ob_agentctl_rotate(const char *config_path, bool json, int argc, char *argv[]);
int ob_agentctl_retry(const char *config_path, bool json, int argc, char *argv[]);
int ob_agentctl_reprovision(const char *config_path, bool json, int argc, char *argv[]);
int ob_agentctl_decommission(const char *config_path, bool json, int argc, char *argv[]);
int ob_agentctl_provision(const char *config_path, bool json, int argc, char *argv[]);
