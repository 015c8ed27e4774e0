/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which configuration runs: a SHA-256 over the files ob_config_load() reads (the main file, then
 * the *.json drop-ins of config.d in lexical order), each as its path, its length and its bytes.
 * ob_config_load() takes it (ObConfig.sha256), so the daemon has it of the configuration it
 * loaded or reloaded last and reports it in status ("config"); agentctl check config-current
 * loads the files on disk the same way and compares.
 */
#pragma once

#include <stdint.h>

#include <json-c/json.h>

#define OB_CONFIG_DIGEST_HEX (64 + 1)

/* The digest of main_path and its drop-ins (dropin_dir NULL: config.d beside it) as 64 lower-case
 * hex digits. 0, or negative errno: the main file cannot be read (a missing or unreadable
 * drop-in directory counts as none, as a drop-in that vanishes while it is listed). */
int ob_config_digest(const char *main_path, const char *dropin_dir,
                     char ret_hex[OB_CONFIG_DIGEST_HEX]);

/* {"file": main_path, "sha256": hex}: what the daemon's status says; NULL on OOM. */
json_object *ob_config_digest_to_json(const char *main_path, const char *hex);
