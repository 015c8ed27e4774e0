/* SPDX-License-Identifier: Apache-2.0 */
#include "config-trust.h"

#include <stdio.h>
#include <sys/stat.h>

const char *ob_config_trust_problem(uid_t owner, mode_t mode, bool is_dir, uid_t self, char *buf,
                                    size_t size)
{
        mode_t w = mode & (S_IWGRP | S_IWOTH);

        if (owner != 0 && owner != self) {
                snprintf(buf, size, "owned by uid %u, not root%s", (unsigned)owner,
                         self != 0 ? " or this user" : "");
                return buf;
        }
        if (w && !(is_dir && (mode & S_ISVTX))) {
                snprintf(buf, size, "writable by %s (mode %04o)",
                         w == (S_IWGRP | S_IWOTH) ? "group and others"
                         : w == S_IWGRP           ? "group"
                                                  : "others",
                         (unsigned)(mode & 07777));
                return buf;
        }
        return NULL;
}
