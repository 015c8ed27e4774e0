/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whom a configuration file or folder may belong to (docs/security.md, "Configuration files"):
 * OpenSSH's StrictModes rule. The configuration says where the state goes and which program
 * the daemon runs after a rotation (rotation.hook), so a file anyone else can write is a way to
 * run code as the agent. Pure: the caller fstat()s what it reads.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * What is wrong with a configuration file (is_dir false) or folder (true) of this owner and
 * mode, read by a process running as uid self: NULL when it may be trusted, else a sentence
 * ("owned by uid 1000, not root", "writable by group and others (mode 0666)") in buf.
 * Trusted: owned by root or by self (the agent's own user; a developer's own files), and not
 * writable by group or others — except a folder with the sticky bit (like /tmp), where others
 * cannot replace what they do not own.
 */
const char *ob_config_trust_problem(uid_t owner, mode_t mode, bool is_dir, uid_t self, char *buf,
                                    size_t size);
