/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An in-memory filesystem behind ObFsOps (lib/fsops.h) for unit tests of the flows (lib/): no
 * temp dir, nothing on disk. Directories, regular files and symlinks (followed in the middle of
 * a path and, unless O_NOFOLLOW/AT_SYMLINK_NOFOLLOW, at its end), rename/link/unlink with the
 * POSIX errors lib/ relies on (EEXIST, ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, ELOOP), fsync a
 * no-op that is counted. Permission bits are kept but not enforced. Relative paths with
 * AT_FDCWD are relative to "/". ObFsOps carries no userdata, so there is one fake per process.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fsops.h"

/* Start with an empty root ("/"), dropping any earlier content; the ops to pass to lib/. */
const ObFsOps *ob_fake_fs_reset(void);

/* Drop everything (open files included). */
void ob_fake_fs_free(void);

/* Create path's missing parent directories (0755) and write a regular file there. 0 or -errno. */
int ob_fake_fs_put(const char *path, const char *data, mode_t mode);

/* The content of the regular file at path (symlinks followed), owned by the fake, NUL-terminated
 * (ret_len may be NULL); NULL when it does not exist or is not a regular file. */
const char *ob_fake_fs_get(const char *path, size_t *ret_len);

/* The file type (S_IFREG, S_IFDIR, S_IFLNK; the last component not followed) and permission
 * bits at path, or 0 when nothing is there. */
mode_t ob_fake_fs_mode(const char *path);

/* The target of the symlink at path, NULL when it is not one. */
const char *ob_fake_fs_link(const char *path);

/* How many files are open now, and how many fsync calls were made since the reset. */
unsigned ob_fake_fs_open_fds(void);
unsigned ob_fake_fs_fsyncs(void);
