/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds.h"
#include "macro.h"

#define CURRENT_TMP OB_CREDS_CURRENT ".tmp"

/* Room for "18446744073709551615" and a NUL. */
#define GEN_NAME_MAX 21

static void gen_name(uint64_t gen, char buf[static GEN_NAME_MAX])
{
        snprintf(buf, GEN_NAME_MAX, "%" PRIu64, gen);
}

char *ob_creds_slot_dir(const char *state_dir, uint64_t gen)
{
        char *p;

        if (asprintf(&p, "%s/" OB_CREDS_DIR "/%" PRIu64, state_dir, gen) < 0)
                return NULL;
        return p;
}

char *ob_creds_slot_file(const char *state_dir, uint64_t gen, const char *name)
{
        char *p;

        if (asprintf(&p, "%s/" OB_CREDS_DIR "/%" PRIu64 "/%s", state_dir, gen, name) < 0)
                return NULL;
        return p;
}

static bool name_ok(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > OB_CREDS_MAX_NAME_LEN || name[0] == '.')
                return false;
        return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
               n;
}

/* Open <state_dir>/credentials as a directory; the real errno on failure. */
static int open_creds_dir(const ObFsOps *ops, const char *state_dir)
{
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s/" OB_CREDS_DIR, state_dir) < 0)
                return -ENOMEM;
        int fd = ops->openat(AT_FDCWD, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        return fd < 0 ? ob_negative_errno() : fd;
}

/* Open a slot folder; a symlink in its place is refused (ENOTDIR rather than ELOOP). */
static int open_slot(const ObFsOps *ops, int cfd, const char *name)
{
        int fd = ops->openat(cfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd < 0)
                return errno == ELOOP ? -ENOTDIR : ob_negative_errno();
        return fd;
}

/* mkdirat that accepts an existing entry; *ret_created says whether it made one. */
static int make_dir(const ObFsOps *ops, int dfd, const char *name, bool *ret_created)
{
        *ret_created = false;
        if (ops->mkdirat(dfd, name, OB_CREDS_DIR_MODE) == 0) {
                *ret_created = true;
                return 0;
        }
        return errno == EEXIST ? 0 : ob_negative_errno();
}

int ob_creds_slot_create(const char *state_dir, uint64_t gen, const ObFsOps *ops)
{
        char name[GEN_NAME_MAX];
        bool created;
        int r;

        if (!ops)
                ops = &ob_fsops_posix;
        if (gen == 0)
                return -EINVAL;
        gen_name(gen, name);

        int sfd = ops->openat(AT_FDCWD, state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        OB_FS_CLOSE_AT_EXIT(ops, sfd);
        if (sfd < 0)
                return ob_negative_errno();
        r = make_dir(ops, sfd, OB_CREDS_DIR, &created);
        if (r < 0)
                return r;
        if (created && ops->fsync(sfd) < 0)
                return ob_negative_errno();

        int cfd = ops->openat(sfd, OB_CREDS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        OB_FS_CLOSE_AT_EXIT(ops, cfd);
        if (cfd < 0)
                return ob_negative_errno();
        r = make_dir(ops, cfd, name, &created);
        if (r < 0)
                return r;
        int gfd = open_slot(ops, cfd, name);
        OB_FS_CLOSE_AT_EXIT(ops, gfd);
        if (gfd < 0)
                return gfd;
        if (created && ops->fsync(cfd) < 0)
                return ob_negative_errno();
        return 0;
}

int ob_creds_write(const char *state_dir, uint64_t gen, const char *name, const void *data,
                   size_t len, mode_t mode, const ObFsOps *ops)
{
        _cleanup_free_ char *path = NULL;
        uint64_t cur = 0;

        if (gen == 0 || !name_ok(name))
                return -EINVAL;
        if (ob_creds_current(state_dir, &cur, ops) == 0 && cur == gen)
                return -EBUSY;
        path = ob_creds_slot_file(state_dir, gen, name);
        if (!path)
                return -ENOMEM;
        return ob_fs_write_file_atomic(ops, path, data, len, mode);
}

int ob_creds_commit(const char *state_dir, uint64_t gen, const ObFsOps *ops)
{
        char name[GEN_NAME_MAX];

        if (!ops)
                ops = &ob_fsops_posix;
        if (gen == 0)
                return -EINVAL;
        gen_name(gen, name);

        int cfd = open_creds_dir(ops, state_dir);
        OB_FS_CLOSE_AT_EXIT(ops, cfd);
        if (cfd < 0)
                return cfd;

        /* The slot's own entries were made durable by ob_creds_write; make sure anyway, so a
         * slot filled by other means cannot be committed with files still in flight. */
        int gfd = open_slot(ops, cfd, name);
        if (gfd < 0)
                return gfd;
        int r = ops->fsync(gfd) < 0 ? ob_negative_errno() : 0;
        if (ops->close(gfd) < 0 && r == 0)
                r = ob_negative_errno();
        if (r < 0)
                return r;

        if (ops->unlinkat(cfd, CURRENT_TMP, 0) < 0 && errno != ENOENT)
                return ob_negative_errno();
        if (ops->symlinkat(name, cfd, CURRENT_TMP) < 0)
                return ob_negative_errno();
        if (ops->renameat(cfd, CURRENT_TMP, cfd, OB_CREDS_CURRENT) < 0) {
                r = ob_negative_errno();
                (void)ops->unlinkat(cfd, CURRENT_TMP, 0);
                return r;
        }
        return ops->fsync(cfd) < 0 ? ob_negative_errno() : 0;
}

/* A canonical generation number: decimal digits, no leading zero, >= 1, fits 64 bits. */
static int parse_gen(const char *s, uint64_t *ret)
{
        size_t n = strlen(s);
        uint64_t v = 0;

        if (n == 0 || s[0] == '0' || strspn(s, "0123456789") != n)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                unsigned d = (unsigned)(s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int ob_creds_current(const char *state_dir, uint64_t *ret_gen, const ObFsOps *ops)
{
        _cleanup_free_ char *p = NULL;
        char target[GEN_NAME_MAX + 1];

        if (asprintf(&p, "%s/" OB_CREDS_DIR "/" OB_CREDS_CURRENT, state_dir) < 0)
                return -ENOMEM;
        ssize_t n = ob_fs_ops(ops)->readlinkat(AT_FDCWD, p, target, sizeof(target));
        if (n < 0)
                return errno == EINVAL ? -EBADMSG : ob_negative_errno();
        if ((size_t)n >= sizeof(target))
                return -EBADMSG;
        target[n] = 0;
        return parse_gen(target, ret_gen);
}

static int cmp_gen(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

int ob_creds_list(const char *state_dir, uint64_t **ret, size_t *ret_n, const ObFsOps *ops)
{
        _cleanup_free_ uint64_t *gens = NULL;
        char **names = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        *ret = NULL;
        *ret_n = 0;
        ops = ob_fs_ops(ops);
        int cfd = open_creds_dir(ops, state_dir);
        if (cfd == -ENOENT)
                return 0;
        if (cfd < 0)
                return cfd;
        if (ops->list_dir(cfd, &names) < 0) {
                r = ob_negative_errno();
                (void)ops->close(cfd);
                return r;
        }
        for (char **de = names; *de && n < OB_CREDS_MAX_LIST; de++) {
                struct stat st;
                uint64_t gen;

                if (parse_gen(*de, &gen) < 0 ||
                    ops->fstatat(cfd, *de, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                if (n == cap) {
                        size_t c = cap ? cap * 2 : 16;
                        uint64_t *g = reallocarray(gens, c, sizeof(*g));
                        if (!g) {
                                r = -ENOMEM;
                                break;
                        }
                        gens = g;
                        cap = c;
                }
                gens[n++] = gen;
        }
        ob_fs_list_free(names);
        (void)ops->close(cfd);
        if (r < 0)
                return r;
        if (n > 0)
                qsort(gens, n, sizeof(*gens), cmp_gen);
        *ret = TAKE_PTR(gens);
        *ret_n = n;
        return 0;
}

int ob_creds_remove_slot(const char *state_dir, uint64_t gen, const ObFsOps *ops)
{
        char name[GEN_NAME_MAX];
        uint64_t cur = 0;
        int r;

        if (!ops)
                ops = &ob_fsops_posix;
        if (gen == 0)
                return -EINVAL;
        gen_name(gen, name);

        r = ob_creds_current(state_dir, &cur, ops);
        if (r == 0 && cur == gen)
                return -EBUSY;
        if (r < 0 && r != -ENOENT)
                return r;

        int cfd = open_creds_dir(ops, state_dir);
        OB_FS_CLOSE_AT_EXIT(ops, cfd);
        if (cfd < 0)
                return cfd;
        int gfd = open_slot(ops, cfd, name);
        if (gfd < 0)
                return gfd;
        char **names = NULL;
        if (ops->list_dir(gfd, &names) < 0) {
                r = ob_negative_errno();
                (void)ops->close(gfd);
                return r;
        }
        r = 0;
        for (char **de = names; *de; de++)
                if (ops->unlinkat(gfd, *de, 0) < 0) {
                        r = ob_negative_errno();
                        break;
                }
        ob_fs_list_free(names);
        (void)ops->close(gfd);
        if (r < 0)
                return r;
        if (ops->unlinkat(cfd, name, AT_REMOVEDIR) < 0)
                return ob_negative_errno();
        return ops->fsync(cfd) < 0 ? ob_negative_errno() : 0;
}
