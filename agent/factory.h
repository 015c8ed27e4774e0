/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `agentctl factory csr|install-cert|status`: the manufacturing-line commands
 * (docs/manufacturing.md). They run without the daemon and refuse to change anything while it
 * runs. Each returns agentctl's exit code (agentctl(8)).
 */
#pragma once

#include <stdbool.h>

/* Exit code of `factory status` when the box is not ready to ship (0: ready); not 2, which
 * shells use for misuse, nor 3, check's "warn". */
#define OB_FACTORY_EXIT_NOT_READY 4

int ob_factory_csr(const char *config_path, bool json, int argc, char *argv[]);
int ob_factory_install_cert(const char *config_path, bool json, int argc, char *argv[]);
int ob_factory_status(const char *config_path, bool json, int argc, char *argv[]);
