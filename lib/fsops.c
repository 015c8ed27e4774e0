/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsops.h"
#include "macro.h"

static int posix_openat(int dirfd, const char *path, int flags, mode_t mode)
{
        return openat(dirfd, path, flags, mode);
}

const ObFsOps ob_fsops_posix = {
        .openat = posix_openat,
        .read = read,
        .write = write,
        .fsync = fsync,
        .close = close,
        .renameat = renameat,
        .linkat = linkat,
        .unlinkat = unlinkat,
        .fstat = fstat,
        .mkdirat = mkdirat,
        .symlinkat = symlinkat,
};

int ob_fs_read_file(const char *path, int open_flags, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        size_t n = 0;
        ssize_t k;

        if (max == SIZE_MAX)
                return -EINVAL;
        /* O_NONBLOCK: a FIFO planted where a file is expected must not block the caller; it is
         * refused below like any other non-regular file. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | open_flags);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                k = read(fd, buf + n, max + 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                n += (size_t)k;
                if (n > max)
                        return -EFBIG;
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = n;
        return 0;
}

int ob_fs_write_all(const ObFsOps *ops, int fd, const void *buf, size_t n)
{
        const char *p = buf;

        while (n > 0) {
                ssize_t k = ops->write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return ob_negative_errno();
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

int ob_fs_write_file_atomic(const ObFsOps *ops, const char *path, const void *data, size_t len,
                            mode_t mode)
{
        _cleanup_free_ char *dir = NULL, *tmp = NULL;
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        int r;

        if (!ops)
                ops = &ob_fsops_posix;
        if (!*base)
                return -EINVAL;
        dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
        if (!dir || asprintf(&tmp, ".%s.tmp", base) < 0) {
                tmp = NULL;
                return -ENOMEM;
        }
        _cleanup_close_ int dfd = ops->openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (dfd < 0)
                return ob_negative_errno();
        if (ops->unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
                return ob_negative_errno();
        int fd = ops->openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return ob_negative_errno();
        r = ob_fs_write_all(ops, fd, data, len);
        if (r == 0 && ops->fsync(fd) < 0)
                r = ob_negative_errno();
        if (ops->close(fd) < 0 && r == 0)
                r = ob_negative_errno();
        if (r == 0 && ops->renameat(dfd, tmp, dfd, base) < 0)
                r = ob_negative_errno();
        if (r < 0) {
                (void)ops->unlinkat(dfd, tmp, 0);
                return r;
        }
        return ops->fsync(dfd) < 0 ? ob_negative_errno() : 0;
}
