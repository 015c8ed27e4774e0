/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every filesystem call lib/ makes, behind a table so tests can fail any one of them (STYLE.md:
 * fault injection through a pluggable OS layer, as SQLite does) or run a whole onboarding flow
 * on an in-memory filesystem (tests/unit/fake-fs.h). lib/fsops.c is the only file in lib/ that
 * calls the system (ob_fsops_posix); `make check-layering` fails on a direct call elsewhere.
 */
#pragma once

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "macro.h"

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
        /* The rest are not used by lib/store.c: a table for the store alone may leave them NULL. */
        int (*mkdirat)(int dirfd, const char *path, mode_t mode);
        int (*symlinkat)(const char *target, int newdirfd, const char *linkpath);
        int (*faccessat)(int dirfd, const char *path, int mode, int flags);
        int (*fstatat)(int dirfd, const char *path, struct stat *st, int flags);
        ssize_t (*readlinkat)(int dirfd, const char *path, char *buf, size_t size);
        /* The names in the open directory fd, "." and ".." left out, as a NULL-terminated array
         * (*ret and each name: free()); fd stays open and the caller's. 0, or -1 and errno. */
        int (*list_dir)(int fd, char ***ret);
} ObFsOps;

/* The real calls. */
extern const ObFsOps ob_fsops_posix;

/* ops NULL: the real filesystem. */
static inline const ObFsOps *ob_fs_ops(const ObFsOps *ops)
{
        return ops ? ops : &ob_fsops_posix;
}

/*
 * Close var (an int fd opened through ops) through ops when the scope ends, as
 * _cleanup_close_ does with close(): the real close() must never see a descriptor of another
 * table (tests/unit/fake-fs.h). Put it right after the declaration of var.
 */
typedef struct ObFsCloser {
        const ObFsOps *ops;
        const int *fd;
} ObFsCloser;
static inline void ob_fs_closerp(ObFsCloser *c)
{
        if (*c->fd >= 0)
                (void)c->ops->close(*c->fd);
}
/* (_unused_: clang's -Wunused-variable counts a variable only its cleanup reads as unused) */
#define OB_FS_CLOSE_AT_EXIT(o, var)                                                                \
        _cleanup_(ob_fs_closerp) _unused_ ObFsCloser var##_closer = {.ops = (o), .fd = &(var)}

/* One-call shorthands for the path-based calls (relative paths: to the working directory); they
 * set errno and return -1 like the calls they stand for. */
int ob_fs_access(const ObFsOps *ops, const char *path, int mode);
int ob_fs_unlink(const ObFsOps *ops, const char *path);
int ob_fs_mkdir(const ObFsOps *ops, const char *path, mode_t mode);

/* Free what list_dir returned. */
void ob_fs_list_free(char **names);

/*
 * The first line of the file at path, as fgets() reads it into buf (size bytes, newline kept,
 * NUL-terminated; "" for an empty file). 0, or negative errno (open or read failed).
 */
int ob_fs_read_line(const ObFsOps *ops, const char *path, char *buf, size_t size);

/* Write all of buf, retrying short writes and EINTR. Returns 0 or negative errno. */
int ob_fs_write_all(const ObFsOps *ops, int fd, const void *buf, size_t n);

/*
 * Read a whole regular file of at most max bytes into a NUL-terminated buffer (*ret, free()), its
 * length in *ret_len (may be NULL). open_flags are added to O_RDONLY|O_CLOEXEC|O_NOCTTY|
 * O_NONBLOCK (e.g. O_NOFOLLOW for a hand-over directory); a FIFO or device is never read.
 * 0, -EFBIG (larger than max), -EINVAL (not a regular file), -ENOMEM, or the errno of open/read.
 */
int ob_fs_read_file(const char *path, int open_flags, size_t max, char **ret, size_t *ret_len);
/* The same through ops (NULL: the real filesystem). */
int ob_fs_read_file_with(const ObFsOps *ops, const char *path, int open_flags, size_t max,
                         char **ret, size_t *ret_len);

/*
 * Replace the file at path atomically with data: temp file in the same directory (O_EXCL,
 * mode), write, fsync, rename over path, fsync the directory. On failure the old file (if
 * any) is untouched and no temp file is left. ops NULL: the real filesystem.
 */
int ob_fs_write_file_atomic(const ObFsOps *ops, const char *path, const void *data, size_t len,
                            mode_t mode);
