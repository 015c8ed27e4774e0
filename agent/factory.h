/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `agentctl factory csr|install-cert|status`: the manufacturing-line commands
 * (docs/manufacturing.md). They run without the daemon and refuse to change anything while it
 * runs. Each returns agentctl's exit code (agentctl(8)).
 */
#pragma once

#include <stdbool.h>

/* Exit codes of `factory status` besides 0 (ready to ship) and agentctl's own. */
#define OB_FACTORY_EXIT_NOT_READY 2

int ob_factory_csr(const char *config_path, bool json, int argc, char *argv[]);
int ob_factory_install_cert(const char *config_path, bool json, int argc, char *argv[]);
int ob_factory_status(const char *config_path, bool json, int argc, char *argv[]);
