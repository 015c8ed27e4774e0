/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The filesystem calls the store and the credential slots make, behind a table so tests can
 * fail any one of them (STYLE.md: fault injection through a pluggable OS layer, as SQLite does).
 */
#pragma once

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

typedef struct ObFsOps {
        int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
        ssize_t (*read)(int fd, void *buf, size_t n);
        ssize_t (*write)(int fd, const void *buf, size_t n);
        int (*fsync)(int fd);
        int (*close)(int fd);
        int (*renameat)(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
        int (*linkat)(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
                      int flags);
        int (*unlinkat)(int dirfd, const char *path, int flags);
        int (*fstat)(int fd, struct stat *st);
        /* Used by lib/creds.c only; a table for the store alone may leave them NULL. */
        int (*mkdirat)(int dirfd, const char *path, mode_t mode);
        int (*symlinkat)(const char *target, int newdirfd, const char *linkpath);
} ObFsOps;

/* The real calls. */
extern const ObFsOps ob_fsops_posix;

/* Write all of buf, retrying short writes and EINTR. Returns 0 or negative errno. */
int ob_fs_write_all(const ObFsOps *ops, int fd, const void *buf, size_t n);

/*
 * Read a whole regular file of at most max bytes into a NUL-terminated buffer (*ret, free()), its
 * length in *ret_len (may be NULL). open_flags are added to O_RDONLY|O_CLOEXEC|O_NOCTTY|
 * O_NONBLOCK (e.g. O_NOFOLLOW for a hand-over directory); a FIFO or device is never read.
 * 0, -EFBIG (larger than max), -EINVAL (not a regular file), -ENOMEM, or the errno of open/read.
 */
int ob_fs_read_file(const char *path, int open_flags, size_t max, char **ret, size_t *ret_len);

/*
 * Replace the file at path atomically with data: temp file in the same directory (O_EXCL,
 * mode), write, fsync, rename over path, fsync the directory. On failure the old file (if
 * any) is untouched and no temp file is left. ops NULL: the real filesystem.
 */
int ob_fs_write_file_atomic(const ObFsOps *ops, const char *path, const void *data, size_t len,
                            mode_t mode);
