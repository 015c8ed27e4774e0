/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
};

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
