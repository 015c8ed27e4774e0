/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <dirent.h>
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

static ssize_t posix_readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
        return readlinkat(dirfd, path, buf, size);
}

void ob_fs_list_free(char **names)
{
        if (!names)
                return;
        for (char **p = names; *p; p++)
                free(*p);
        free(names);
}

static int posix_list_dir(int fd, char ***ret)
{
        char **names = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        /* a duplicate, so that closedir() leaves the caller's fd open */
        int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return -1;
        DIR *d = fdopendir(dfd);
        if (!d) {
                r = errno;
                (void)close(dfd);
                errno = r;
                return -1;
        }
        rewinddir(d);
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        r = errno;
                        break;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n + 1 >= cap) {
                        size_t c = cap ? cap * 2 : 16;
                        char **a = reallocarray(names, c, sizeof(*a));
                        if (!a) {
                                r = ENOMEM;
                                break;
                        }
                        names = a;
                        cap = c;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = ENOMEM;
                        break;
                }
                names[++n] = NULL;
        }
        closedir(d);
        if (r == 0 && !names) {
                names = calloc(1, sizeof(*names));
                if (!names)
                        r = ENOMEM;
        }
        if (r != 0) {
                ob_fs_list_free(names);
                errno = r;
                return -1;
        }
        *ret = names;
        return 0;
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
        .faccessat = faccessat,
        .fstatat = fstatat,
        .readlinkat = posix_readlinkat,
        .list_dir = posix_list_dir,
};

int ob_fs_access(const ObFsOps *ops, const char *path, int mode)
{
        return ob_fs_ops(ops)->faccessat(AT_FDCWD, path, mode, 0);
}

int ob_fs_unlink(const ObFsOps *ops, const char *path)
{
        return ob_fs_ops(ops)->unlinkat(AT_FDCWD, path, 0);
}

int ob_fs_mkdir(const ObFsOps *ops, const char *path, mode_t mode)
{
        return ob_fs_ops(ops)->mkdirat(AT_FDCWD, path, mode);
}

int ob_fs_read_line(const ObFsOps *ops, const char *path, char *buf, size_t size)
{
        size_t n = 0;
        int r = 0;

        ops = ob_fs_ops(ops);
        if (size == 0)
                return -EINVAL;
        buf[0] = 0;
        int fd = ops->openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
                return ob_negative_errno();
        while (n + 1 < size) {
                ssize_t k = ops->read(fd, buf + n, size - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = ob_negative_errno();
                        break;
                }
                if (k == 0)
                        break;
                char *nl = memchr(buf + n, '\n', (size_t)k);
                n += (size_t)k;
                if (nl) {
                        n = (size_t)(nl - buf) + 1;
                        break;
                }
        }
        (void)ops->close(fd);
        buf[r < 0 ? 0 : n] = 0;
        return r;
}

int ob_fs_read_file(const char *path, int open_flags, size_t max, char **ret, size_t *ret_len)
{
        return ob_fs_read_file_with(NULL, path, open_flags, max, ret, ret_len);
}

int ob_fs_read_file_with(const ObFsOps *ops, const char *path, int open_flags, size_t max,
                         char **ret, size_t *ret_len)
{
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;
        ssize_t k;
        int r = 0;

        ops = ob_fs_ops(ops);
        if (max == SIZE_MAX)
                return -EINVAL;
        /* O_NONBLOCK: a FIFO planted where a file is expected must not block the caller; it is
         * refused below like any other non-regular file. */
        int fd = ops->openat(AT_FDCWD, path,
                             O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | open_flags, 0);
        if (fd < 0)
                return ob_negative_errno();
        if (ops->fstat(fd, &st) < 0)
                r = ob_negative_errno();
        else if (!S_ISREG(st.st_mode))
                r = -EINVAL;
        else if (!(buf = malloc(max + 1)))
                r = -ENOMEM;
        while (r == 0 && buf) {
                k = ops->read(fd, buf + n, max + 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        r = ob_negative_errno();
                else if (k == 0)
                        break;
                else if ((n += (size_t)k) > max)
                        r = -EFBIG;
        }
        (void)ops->close(fd);
        if (r != 0 || !buf) /* (r is 0 or a negative errno; buf is set when r is 0) */
                return r < 0 ? r : -EIO;
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

        ops = ob_fs_ops(ops);
        if (!*base)
                return -EINVAL;
        dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
        if (!dir || asprintf(&tmp, ".%s.tmp", base) < 0) {
                tmp = NULL;
                return -ENOMEM;
        }
        int dfd = ops->openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        OB_FS_CLOSE_AT_EXIT(ops, dfd);
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
