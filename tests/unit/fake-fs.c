/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fake-fs.h"
#include "macro.h"

#define FD_BASE   1000 /* far from the real fds a test may hold */
#define MAX_FDS   64
#define MAX_LINKS 8 /* symlinks followed for one path: then ELOOP */

typedef struct Node Node;
typedef struct Entry {
        char *name;
        Node *node;
} Entry;

struct Node {
        mode_t mode; /* type and permission bits */
        ino_t ino;
        nlink_t nlink;
        Node *parent; /* directories */
        Entry *entries;
        size_t n_entries;
        char *data; /* regular file content or symlink target, NUL-terminated */
        size_t len;
        Node *all_next; /* every node ever made, freed at reset */
};

typedef struct OpenFile {
        Node *node;
        size_t off;
        int flags;
} OpenFile;

static struct {
        Node *root, *all;
        ino_t next_ino;
        OpenFile fds[MAX_FDS];
        unsigned fsyncs;
} fs;

static Node *node_new(mode_t mode)
{
        Node *n = calloc(1, sizeof(*n));
        if (!n)
                return NULL;
        n->mode = mode;
        n->ino = ++fs.next_ino;
        n->all_next = fs.all;
        fs.all = n;
        return n;
}

static Entry *lookup(Node *dir, const char *name)
{
        for (size_t i = 0; i < dir->n_entries; i++)
                if (strcmp(dir->entries[i].name, name) == 0)
                        return &dir->entries[i];
        return NULL;
}

static int add_entry(Node *dir, const char *name, Node *n)
{
        Entry *e = reallocarray(dir->entries, dir->n_entries + 1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        dir->entries = e;
        e[dir->n_entries].name = strdup(name);
        if (!e[dir->n_entries].name)
                return -ENOMEM;
        e[dir->n_entries++].node = n;
        n->nlink++;
        if (S_ISDIR(n->mode))
                n->parent = dir;
        return 0;
}

/* Remove the entry name (that points at node, when node is not NULL). */
static void remove_entry(Node *dir, const char *name, const Node *node)
{
        for (size_t i = 0; i < dir->n_entries; i++) {
                Entry *e = &dir->entries[i];
                if (strcmp(e->name, name) != 0 || (node && e->node != node))
                        continue;
                e->node->nlink--;
                free(e->name);
                *e = dir->entries[--dir->n_entries];
                return;
        }
}

static OpenFile *file_of(int fd)
{
        if (fd < FD_BASE || fd >= FD_BASE + MAX_FDS || !fs.fds[fd - FD_BASE].node)
                return NULL;
        return &fs.fds[fd - FD_BASE];
}

/*
 * Walk path from dirfd: *ret_dir the directory that holds the last component, name its name
 * ("" for the directory itself, as in "/" or "a/"), *ret the node there or NULL. Symlinks in
 * the middle are always followed, the last one when follow. 0 or -errno.
 */
static int walk(Node *start, const char *path, bool follow, int depth, Node **ret_dir,
                char name[static NAME_MAX + 1], Node **ret)
{
        Node *cur = path[0] == '/' ? fs.root : start;
        const char *p = path;

        if (depth > MAX_LINKS)
                return -ELOOP;
        if (!*path)
                return -ENOENT;
        for (;;) {
                while (*p == '/')
                        p++;
                size_t k = strcspn(p, "/");
                if (k > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(name, p, k);
                name[k] = 0;
                p += k;
                while (*p == '/')
                        p++;
                bool last = !*p;

                if (!S_ISDIR(cur->mode))
                        return -ENOTDIR;
                if (k == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
                        if (strcmp(name, "..") == 0 && cur->parent)
                                cur = cur->parent;
                        if (last) {
                                *ret_dir = cur->parent ? cur->parent : cur;
                                name[0] = 0;
                                *ret = cur;
                                return 0;
                        }
                        continue;
                }
                Entry *e = lookup(cur, name);
                Node *n = e ? e->node : NULL;
                if (n && S_ISLNK(n->mode) && (!last || follow)) {
                        Node *d;
                        char sub[NAME_MAX + 1];
                        int r = walk(cur, n->data, true, depth + 1, &d, sub, &n);
                        if (r < 0)
                                return r;
                        if (!n && !last)
                                return -ENOENT;
                        if (last) {
                                *ret_dir = d;
                                strcpy(name, sub);
                                *ret = n;
                                return 0;
                        }
                }
                if (last) {
                        *ret_dir = cur;
                        *ret = n;
                        return 0;
                }
                if (!n)
                        return -ENOENT;
                cur = n;
        }
}

static int resolve(int dirfd, const char *path, bool follow, Node **ret_dir,
                   char name[static NAME_MAX + 1], Node **ret)
{
        Node *start = fs.root;

        if (!fs.root)
                return -EIO;
        if (path[0] != '/' && dirfd != AT_FDCWD) {
                OpenFile *f = file_of(dirfd);
                if (!f)
                        return -EBADF;
                start = f->node;
        }
        return walk(start, path, follow, 0, ret_dir, name, ret);
}

/* resolve(), and -ENOENT when nothing is there. */
static int existing(int dirfd, const char *path, bool follow, Node **ret_dir,
                    char name[static NAME_MAX + 1], Node **ret)
{
        int r = resolve(dirfd, path, follow, ret_dir, name, ret);
        return r < 0 ? r : *ret ? 0 : -ENOENT;
}

static int fail(int r)
{
        errno = -r;
        return -1;
}

static int f_openat(int dirfd, const char *path, int flags, mode_t mode)
{
        char name[NAME_MAX + 1];
        Node *dir, *n;
        int r = resolve(dirfd, path, !(flags & O_NOFOLLOW), &dir, name, &n);
        int acc = flags & O_ACCMODE;

        if (r < 0)
                return fail(r);
        if (n && (flags & O_CREAT) && (flags & O_EXCL))
                return fail(-EEXIST);
        if (!n) {
                if (!(flags & O_CREAT) || !name[0])
                        return fail(-ENOENT);
                n = node_new(S_IFREG | (mode & 07777));
                if (!n || add_entry(dir, name, n) < 0)
                        return fail(-ENOMEM);
        }
        if (S_ISLNK(n->mode))
                return fail(-ELOOP);
        if ((flags & O_DIRECTORY) && !S_ISDIR(n->mode))
                return fail(-ENOTDIR);
        if (S_ISDIR(n->mode) && acc != O_RDONLY)
                return fail(-EISDIR);
        for (int i = 0; i < MAX_FDS; i++)
                if (!fs.fds[i].node) {
                        if ((flags & O_TRUNC) && acc != O_RDONLY && S_ISREG(n->mode) && n->data) {
                                n->len = 0;
                                n->data[0] = 0;
                        }
                        fs.fds[i] = (OpenFile){.node = n, .flags = flags};
                        return FD_BASE + i;
                }
        return fail(-EMFILE);
}

static ssize_t f_read(int fd, void *buf, size_t n)
{
        OpenFile *f = file_of(fd);

        if (!f || (f->flags & O_ACCMODE) == O_WRONLY)
                return fail(-EBADF);
        if (S_ISDIR(f->node->mode))
                return fail(-EISDIR);
        size_t k = f->off < f->node->len ? OB_MIN(n, f->node->len - f->off) : 0;
        memcpy(buf, f->node->data + f->off, k);
        f->off += k;
        return (ssize_t)k;
}

static ssize_t f_write(int fd, const void *buf, size_t n)
{
        OpenFile *f = file_of(fd);
        Node *node;

        if (!f || (f->flags & O_ACCMODE) == O_RDONLY)
                return fail(-EBADF);
        node = f->node;
        if (f->off + n > node->len) {
                char *d = realloc(node->data, f->off + n + 1);
                if (!d)
                        return fail(-ENOSPC);
                if (f->off > node->len)
                        memset(d + node->len, 0, f->off - node->len);
                node->data = d;
                node->len = f->off + n;
                d[node->len] = 0;
        }
        memcpy(node->data + f->off, buf, n);
        f->off += n;
        return (ssize_t)n;
}

static int f_fsync(int fd)
{
        if (!file_of(fd))
                return fail(-EBADF);
        fs.fsyncs++;
        return 0;
}

static int f_close(int fd)
{
        OpenFile *f = file_of(fd);

        if (!f)
                return fail(-EBADF);
        *f = (OpenFile){0};
        return 0;
}

static void stat_of(const Node *n, struct stat *st)
{
        *st = (struct stat){
                .st_mode = n->mode,
                .st_ino = n->ino,
                .st_nlink = n->nlink,
                .st_size = S_ISDIR(n->mode) ? 4096 : (off_t)n->len,
        };
}

static int f_fstat(int fd, struct stat *st)
{
        OpenFile *f = file_of(fd);

        if (!f)
                return fail(-EBADF);
        stat_of(f->node, st);
        return 0;
}

static int f_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
        char name[NAME_MAX + 1];
        Node *dir, *n;
        int r = existing(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), &dir, name, &n);

        if (r < 0)
                return fail(r);
        stat_of(n, st);
        return 0;
}

static int f_faccessat(int dirfd, const char *path, int mode, int flags)
{
        struct stat st;

        (void)mode;
        return f_fstatat(dirfd, path, &st, flags & AT_SYMLINK_NOFOLLOW);
}

/* A new entry: the parent must exist and the name be free. */
static int make_at(int dirfd, const char *path, mode_t mode, const char *target)
{
        char name[NAME_MAX + 1];
        Node *dir, *n;
        int r = resolve(dirfd, path, false, &dir, name, &n);

        if (r < 0)
                return fail(r);
        if (n)
                return fail(-EEXIST);
        n = node_new(mode);
        if (!n)
                return fail(-ENOMEM);
        if (target) {
                n->data = strdup(target);
                if (!n->data)
                        return fail(-ENOMEM);
                n->len = strlen(target);
        }
        r = add_entry(dir, name, n);
        return r < 0 ? fail(r) : 0;
}

static int f_mkdirat(int dirfd, const char *path, mode_t mode)
{
        return make_at(dirfd, path, S_IFDIR | (mode & 07777), NULL);
}

static int f_symlinkat(const char *target, int dirfd, const char *path)
{
        return make_at(dirfd, path, S_IFLNK | 0777, target);
}

static ssize_t f_readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
        char name[NAME_MAX + 1];
        Node *dir, *n;
        int r = existing(dirfd, path, false, &dir, name, &n);

        if (r < 0)
                return fail(r);
        if (!S_ISLNK(n->mode))
                return fail(-EINVAL);
        size_t k = OB_MIN(size, n->len);
        memcpy(buf, n->data, k);
        return (ssize_t)k;
}

static int f_unlinkat(int dirfd, const char *path, int flags)
{
        char name[NAME_MAX + 1];
        Node *dir, *n;
        int r = existing(dirfd, path, false, &dir, name, &n);

        if (r < 0)
                return fail(r);
        if (!name[0])
                return fail(-EBUSY);
        if (flags & AT_REMOVEDIR) {
                if (!S_ISDIR(n->mode))
                        return fail(-ENOTDIR);
                if (n->n_entries > 0)
                        return fail(-ENOTEMPTY);
        } else if (S_ISDIR(n->mode)) {
                return fail(-EISDIR);
        }
        remove_entry(dir, name, NULL);
        return 0;
}

static int f_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
        char oname[NAME_MAX + 1], nname[NAME_MAX + 1];
        Node *odir, *o, *ndir, *n;
        int r = resolve(olddirfd, oldpath, flags & AT_SYMLINK_FOLLOW, &odir, oname, &o);

        if (r == 0)
                r = resolve(newdirfd, newpath, false, &ndir, nname, &n);
        if (r < 0)
                return fail(r);
        if (!o)
                return fail(-ENOENT);
        if (S_ISDIR(o->mode))
                return fail(-EPERM);
        if (n)
                return fail(-EEXIST);
        r = add_entry(ndir, nname, o);
        return r < 0 ? fail(r) : 0;
}

static int f_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
        char oname[NAME_MAX + 1], nname[NAME_MAX + 1];
        Node *odir, *o, *ndir, *n;
        int r = resolve(olddirfd, oldpath, false, &odir, oname, &o);

        if (r == 0)
                r = resolve(newdirfd, newpath, false, &ndir, nname, &n);
        if (r < 0)
                return fail(r);
        if (!o)
                return fail(-ENOENT);
        if (!oname[0] || !nname[0])
                return fail(-EBUSY);
        if (o == n)
                return 0;
        if (S_ISDIR(o->mode))
                for (Node *p = ndir; p; p = p->parent)
                        if (p == o)
                                return fail(-EINVAL);
        if (n) {
                if (S_ISDIR(n->mode) && !S_ISDIR(o->mode))
                        return fail(-EISDIR);
                if (!S_ISDIR(n->mode) && S_ISDIR(o->mode))
                        return fail(-ENOTDIR);
                if (S_ISDIR(n->mode) && n->n_entries > 0)
                        return fail(-ENOTEMPTY);
        }
        r = add_entry(ndir, nname, o);
        if (r < 0)
                return fail(r);
        remove_entry(odir, oname, o);
        if (n)
                remove_entry(ndir, nname, n);
        return 0;
}

static int f_list_dir(int fd, char ***ret)
{
        OpenFile *f = file_of(fd);
        char **names;

        if (!f)
                return fail(-EBADF);
        if (!S_ISDIR(f->node->mode))
                return fail(-ENOTDIR);
        names = calloc(f->node->n_entries + 1, sizeof(*names));
        if (!names)
                return fail(-ENOMEM);
        for (size_t i = 0; i < f->node->n_entries; i++)
                if (!(names[i] = strdup(f->node->entries[i].name))) {
                        ob_fs_list_free(names);
                        return fail(-ENOMEM);
                }
        *ret = names;
        return 0;
}

static const ObFsOps fake_ops = {
        .openat = f_openat,
        .read = f_read,
        .write = f_write,
        .fsync = f_fsync,
        .close = f_close,
        .renameat = f_renameat,
        .linkat = f_linkat,
        .unlinkat = f_unlinkat,
        .fstat = f_fstat,
        .mkdirat = f_mkdirat,
        .symlinkat = f_symlinkat,
        .faccessat = f_faccessat,
        .fstatat = f_fstatat,
        .readlinkat = f_readlinkat,
        .list_dir = f_list_dir,
};

void ob_fake_fs_free(void)
{
        while (fs.all) {
                Node *n = fs.all;
                fs.all = n->all_next;
                for (size_t i = 0; i < n->n_entries; i++)
                        free(n->entries[i].name);
                free(n->entries);
                free(n->data);
                free(n);
        }
        memset(&fs, 0, sizeof(fs));
}

const ObFsOps *ob_fake_fs_reset(void)
{
        ob_fake_fs_free();
        fs.root = node_new(S_IFDIR | 0755);
        return fs.root ? &fake_ops : NULL;
}

int ob_fake_fs_put(const char *path, const char *data, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                if (f_mkdirat(AT_FDCWD, p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        int fd = f_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
        if (fd < 0)
                return -errno;
        int r = ob_fs_write_all(&fake_ops, fd, data, strlen(data));
        (void)f_close(fd);
        return r;
}

static Node *find(const char *path, bool follow)
{
        char name[NAME_MAX + 1];
        Node *dir, *n;

        return resolve(AT_FDCWD, path, follow, &dir, name, &n) < 0 ? NULL : n;
}

const char *ob_fake_fs_get(const char *path, size_t *ret_len)
{
        Node *n = find(path, true);

        if (!n || !S_ISREG(n->mode))
                return NULL;
        if (ret_len)
                *ret_len = n->len;
        return n->data ? n->data : "";
}

mode_t ob_fake_fs_mode(const char *path)
{
        Node *n = find(path, false);
        return n ? n->mode : 0;
}

const char *ob_fake_fs_link(const char *path)
{
        Node *n = find(path, false);
        return n && S_ISLNK(n->mode) ? n->data : NULL;
}

unsigned ob_fake_fs_open_fds(void)
{
        unsigned k = 0;

        for (int i = 0; i < MAX_FDS; i++)
                k += !!fs.fds[i].node;
        return k;
}

unsigned ob_fake_fs_fsyncs(void)
{
        return fs.fsyncs;
}
