/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ob-fault.so: an LD_PRELOAD shim that injects filesystem faults and power cuts into the real
 * daemon (docs/testing.md, "Power loss"). Test-only, never installed. Only calls on paths under
 * OB_FAULT_DIR (and on file descriptors opened there) are counted or touched; everything else
 * passes straight through.
 *
 *   OB_FAULT_DIR=/abs/state       the agent's state dir (required; without it the shim is inert)
 *   OB_FAULT_TRACE=FILE           one line per counted call appended: "KIND N PATH"
 *   OB_FAULT_REPORT=FILE          rewritten after every counted call: "KIND COUNT" lines, then
 *                                 "fired KIND N ERRNO PATH" once a fault or a cut happened
 *   OB_FAULT=KIND:N:ERRNO         fail the Nth call of KIND with ERRNO (EIO, ENOSPC, EROFS);
 *                                 KIND: open write fsync dirfsync rename link mkdir symlink unlink
 *   OB_FAULT_STICKY=1             ... and every later call of that KIND (a disk that stays bad)
 *   OB_FAULT_CUT=NAME:N:K[:drop]  power cut: at the Nth open for writing of NAME (the file or
 *                                 its ".NAME.tmp" temp file), let only the first K bytes reach
 *                                 the file, then SIGKILL the process; "drop" also loses what was
 *                                 written but never fsynced (the page cache), truncating to 0
 *   OB_FAULT_LIE=NAME:N:K         a disk that ignores write barriers: after the Nth rename onto
 *                                 NAME, only K bytes of the new file survive; then SIGKILL
 *
 * Counting open: only opens that create or write (O_CREAT, O_WRONLY, O_RDWR); directory opens
 * are tracked (for "dirfsync") but never failed. The libc functions the agent calls directly are
 * interposed (open, openat, write, pwrite, fsync, fdatasync, rename, renameat, renameat2, link,
 * linkat, mkdir, mkdirat, symlink, symlinkat, unlink, unlinkat, close); glibc's internal calls
 * (fopen and friends) are not, which is fine: the agent writes state and credentials only
 * through open/write/fsync (lib/fsops.c).
 */
/* The interposer defines both families of symbols (open/open64, pwrite/pwrite64), whatever
 * the program it is preloaded into was built with: so it must see the plain names as the
 * 32-bit-off_t functions and the *64 names as functions of their own, not as macros of each
 * other (a builder's -D_FILE_OFFSET_BITS=64 / -D_TIME_BITS=64 would make them so on 32-bit). */
#undef _FILE_OFFSET_BITS
#undef _TIME_BITS
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

enum {
        K_OPEN,
        K_WRITE,
        K_FSYNC,
        K_DIRFSYNC,
        K_RENAME,
        K_LINK,
        K_MKDIR,
        K_SYMLINK,
        K_UNLINK,
        K_MAX
};
static const char *const kind_names[K_MAX] = {"open", "write", "fsync",   "dirfsync", "rename",
                                              "link", "mkdir", "symlink", "unlink"};

#define MAX_FD 1024

typedef struct Tracked {
        bool used, dir, cut; /* cut: this fd is the file the power cut tears */
        unsigned long long written;
        char path[PATH_MAX];
} Tracked;

static Tracked fds[MAX_FD];
static unsigned counts[K_MAX];
static char dir[PATH_MAX];
static size_t dir_len;
static const char *report, *trace;
static int fault_kind = -1, fault_errno;
static unsigned fault_nth;
static bool sticky, initialised;
static char cut_name[256], lie_name[256];
static unsigned cut_nth, cut_opens, lie_nth, lie_renames;
static unsigned long long cut_at, lie_at;
static bool cut_drop;
static char fired[PATH_MAX + 64];

/* The real functions, looked up on first use (constructors of other libraries may call us). */
#define REAL(ret, name, ...)                                                                       \
        static ret (*real_##name)(__VA_ARGS__);                                                    \
        if (!real_##name)                                                                          \
                real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name);

static int raw_open(const char *path, int flags, mode_t mode)
{
        return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static void raw_write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t k = syscall(SYS_write, fd, p, n);
                if (k <= 0)
                        return;
                p += k;
                n -= (size_t)k;
        }
}

static int errno_from_name(const char *s)
{
        if (strcmp(s, "EIO") == 0)
                return EIO;
        if (strcmp(s, "ENOSPC") == 0)
                return ENOSPC;
        if (strcmp(s, "EROFS") == 0)
                return EROFS;
        return atoi(s) > 0 ? atoi(s) : EIO;
}

static const char *errno_name(int e)
{
        return e == EIO ? "EIO" : e == ENOSPC ? "ENOSPC" : e == EROFS ? "EROFS" : "other";
}

/* NAME:N:K[:drop] */
static void parse_cut(const char *v, char *name, size_t name_size, unsigned *nth,
                      unsigned long long *at, bool *drop)
{
        const char *c1 = strchr(v, ':');
        if (!c1 || (size_t)(c1 - v) >= name_size)
                return;
        memcpy(name, v, (size_t)(c1 - v));
        name[c1 - v] = 0;
        char *end;
        *nth = (unsigned)strtoul(c1 + 1, &end, 10);
        if (*end == ':')
                *at = strtoull(end + 1, &end, 10);
        if (drop && strcmp(end, ":drop") == 0)
                *drop = true;
}

static void init(void)
{
        const char *v;

        if (initialised)
                return;
        initialised = true;
        v = getenv("OB_FAULT_DIR");
        if (!v || v[0] != '/' || strlen(v) >= sizeof(dir))
                return;
        strcpy(dir, v);
        dir_len = strlen(dir);
        while (dir_len > 1 && dir[dir_len - 1] == '/')
                dir[--dir_len] = 0;
        report = getenv("OB_FAULT_REPORT");
        trace = getenv("OB_FAULT_TRACE");
        sticky = getenv("OB_FAULT_STICKY") && strcmp(getenv("OB_FAULT_STICKY"), "1") == 0;
        v = getenv("OB_FAULT");
        if (v) {
                const char *c1 = strchr(v, ':');
                for (int k = 0; c1 && k < K_MAX; k++)
                        if (strlen(kind_names[k]) == (size_t)(c1 - v) &&
                            strncmp(v, kind_names[k], (size_t)(c1 - v)) == 0)
                                fault_kind = k;
                if (c1) {
                        char *end;
                        fault_nth = (unsigned)strtoul(c1 + 1, &end, 10);
                        fault_errno = *end == ':' ? errno_from_name(end + 1) : EIO;
                }
        }
        v = getenv("OB_FAULT_CUT");
        if (v)
                parse_cut(v, cut_name, sizeof(cut_name), &cut_nth, &cut_at, &cut_drop);
        v = getenv("OB_FAULT_LIE");
        if (v)
                parse_cut(v, lie_name, sizeof(lie_name), &lie_nth, &lie_at, NULL);
}

static void write_report(void)
{
        char buf[1024 + sizeof(fired)];
        size_t n = 0;

        if (!report)
                return;
        for (int k = 0; k < K_MAX; k++)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s %u\n", kind_names[k],
                                      counts[k]);
        if (fired[0])
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "fired %s\n", fired);
        int fd = raw_open(report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        raw_write_all(fd, buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
        syscall(SYS_close, fd);
}

static void note_fired(const char *kind, unsigned nth, const char *what, const char *path)
{
        char line[PATH_MAX + 128];

        snprintf(fired, sizeof(fired), "%s %u %s %s", kind, nth, what, path);
        write_report();
        int n = snprintf(line, sizeof(line), "ob-fault: %s #%u: %s (%s)\n", kind, nth, what, path);
        if (n > 0)
                raw_write_all(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Absolute form of (dirfd, path) when it is under the state dir, else false. */
static bool under(int dirfd, const char *path, char out[PATH_MAX])
{
        init();
        if (!dir_len || !path)
                return false;
        if (path[0] == '/') {
                if (strlen(path) >= PATH_MAX)
                        return false;
                strcpy(out, path);
        } else if (dirfd >= 0 && dirfd < MAX_FD && fds[dirfd].used && fds[dirfd].dir) {
                if ((size_t)snprintf(out, PATH_MAX, "%s/%s", fds[dirfd].path, path) >= PATH_MAX)
                        return false;
        } else if (dirfd == AT_FDCWD) {
                char cwd[PATH_MAX];
                if (!getcwd(cwd, sizeof(cwd)) ||
                    (size_t)snprintf(out, PATH_MAX, "%s/%s", cwd, path) >= PATH_MAX)
                        return false;
        } else {
                return false;
        }
        return strncmp(out, dir, dir_len) == 0 && (out[dir_len] == 0 || out[dir_len] == '/');
}

static const char *base_of(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

/* NAME itself or its temp file ".NAME.tmp" */
static bool names(const char *path, const char *name)
{
        const char *b = base_of(path);
        size_t n = strlen(name);

        if (!name[0])
                return false;
        return strcmp(b, name) == 0 ||
               (b[0] == '.' && strncmp(b + 1, name, n) == 0 && strcmp(b + 1 + n, ".tmp") == 0);
}

/* Count a call of KIND on path; true (errno set) when it must fail. */
static bool inject(int kind, const char *path)
{
        unsigned n = ++counts[kind];

        if (trace) {
                char line[PATH_MAX + 64];
                int fd = raw_open(trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                int k = snprintf(line, sizeof(line), "%s %u %s\n", kind_names[kind], n, path);
                if (fd >= 0 && k > 0)
                        raw_write_all(fd, line, (size_t)k < sizeof(line) ? (size_t)k : 0);
                if (fd >= 0)
                        syscall(SYS_close, fd);
        }
        bool fail = kind == fault_kind && (sticky ? n >= fault_nth : n == fault_nth);

        if (fail) {
                char what[64];
                snprintf(what, sizeof(what), "%s", errno_name(fault_errno));
                note_fired(kind_names[kind], n, what, path);
        } else {
                write_report();
        }
        if (fail)
                errno = fault_errno;
        return fail;
}

static void power_cut(void)
{
        /* All threads die at once: no atexit handlers, no flushing, like pulling the plug. */
        syscall(SYS_kill, getpid(), SIGKILL);
        _exit(137);
}

static void track(int fd, const char *abs, int flags)
{
        if (fd < 0 || fd >= MAX_FD)
                return;
        fds[fd].used = true;
        fds[fd].dir = (flags & O_DIRECTORY) != 0;
        fds[fd].written = 0;
        fds[fd].cut = false;
        snprintf(fds[fd].path, sizeof(fds[fd].path), "%s", abs);
        if (!fds[fd].dir && (flags & (O_WRONLY | O_RDWR)) && names(abs, cut_name) &&
            ++cut_opens == cut_nth)
                fds[fd].cut = true;
}

static bool writes(int flags)
{
        return (flags & (O_CREAT | O_WRONLY | O_RDWR)) != 0;
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
        REAL(int, openat, int, const char *, int, ...);
        char abs[PATH_MAX];
        bool in = under(dirfd, path, abs);

        if (in && writes(flags) && !(flags & O_DIRECTORY) && inject(K_OPEN, abs))
                return -1;
        int fd = real_openat(dirfd, path, flags, mode);
        if (in && fd >= 0)
                track(fd, abs, flags);
        return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
        return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int openat(int dirfd, const char *path, int flags, ...)
{
        va_list ap;
        va_start(ap, flags);
        mode_t mode = mode_arg(flags, ap);
        va_end(ap);
        return do_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
        va_list ap;
        va_start(ap, flags);
        mode_t mode = mode_arg(flags, ap);
        va_end(ap);
        return do_openat(dirfd, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
        va_list ap;
        va_start(ap, flags);
        mode_t mode = mode_arg(flags, ap);
        va_end(ap);
        return do_openat(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
        va_list ap;
        va_start(ap, flags);
        mode_t mode = mode_arg(flags, ap);
        va_end(ap);
        return do_openat(AT_FDCWD, path, flags, mode);
}

int close(int fd)
{
        REAL(int, close, int);
        if (fd >= 0 && fd < MAX_FD)
                fds[fd].used = false;
        return real_close(fd);
}

/* A tracked fd closed behind our back (glibc-internal close) and reused for a socket or pipe is
 * forgotten here. */
static Tracked *tracked(int fd)
{
        struct stat st;

        init();
        if (fd < 0 || fd >= MAX_FD || !fds[fd].used)
                return NULL;
        if (syscall(SYS_fstat, fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
                fds[fd].used = false;
                return NULL;
        }
        return &fds[fd];
}

int closedir(DIR *d)
{
        REAL(int, closedir, DIR *);
        int fd = dirfd(d);
        if (fd >= 0 && fd < MAX_FD)
                fds[fd].used = false;
        return real_closedir(d);
}

int fclose(FILE *f)
{
        REAL(int, fclose, FILE *);
        int fd = fileno(f);
        if (fd >= 0 && fd < MAX_FD)
                fds[fd].used = false;
        return real_fclose(f);
}

/* The power cut: only the bytes up to cut_at reach the file. */
static void cut_write(int fd, Tracked *t, const void *buf, size_t n)
{
        char what[64];
        unsigned long long keep = cut_at > t->written ? cut_at - t->written : 0;

        if (keep > n)
                return; /* not yet */
        if (keep > 0)
                (void)syscall(SYS_write, fd, buf, (size_t)keep);
        if (cut_drop)
                (void)syscall(SYS_ftruncate, fd, 0);
        snprintf(what, sizeof(what), "cut at byte %llu%s", cut_at,
                 cut_drop ? ", page cache lost" : "");
        note_fired("write", counts[K_WRITE], what, t->path);
        power_cut();
}

ssize_t write(int fd, const void *buf, size_t n)
{
        REAL(ssize_t, write, int, const void *, size_t);
        Tracked *t = tracked(fd);

        if (t && !t->dir) {
                if (inject(K_WRITE, t->path))
                        return -1;
                if (t->cut)
                        cut_write(fd, t, buf, n);
        }
        ssize_t k = real_write(fd, buf, n);
        if (t && k > 0)
                t->written += (unsigned long long)k;
        return k;
}

/* off64_t: as wide as any off_t, so pwrite()'s offset passes through unchanged */
static ssize_t do_pwrite(int fd, const void *buf, size_t n, off64_t off)
{
        REAL(ssize_t, pwrite64, int, const void *, size_t, off64_t);
        Tracked *t = tracked(fd);

        if (t && !t->dir && inject(K_WRITE, t->path))
                return -1;
        return real_pwrite64(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
        return do_pwrite(fd, buf, n, (off64_t)off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
        return do_pwrite(fd, buf, n, off);
}

static bool sync_fault(int fd)
{
        Tracked *t = tracked(fd);
        return t && inject(t->dir ? K_DIRFSYNC : K_FSYNC, t->path);
}

int fsync(int fd)
{
        REAL(int, fsync, int);
        return sync_fault(fd) ? -1 : real_fsync(fd);
}

int fdatasync(int fd)
{
        REAL(int, fdatasync, int);
        return sync_fault(fd) ? -1 : real_fdatasync(fd);
}

/* After a rename onto lie_name: the disk wrote the directory entry but not all the data. */
static void after_rename(const char *abs_new)
{
        char what[64];

        if (!lie_name[0] || strcmp(base_of(abs_new), lie_name) != 0 || ++lie_renames != lie_nth)
                return;
        (void)syscall(SYS_truncate, abs_new, (off_t)lie_at);
        snprintf(what, sizeof(what), "disk lied: only %llu bytes after the rename", lie_at);
        note_fired("rename", counts[K_RENAME], what, abs_new);
        power_cut();
}

int renameat2(int od, const char *op, int nd, const char *np, unsigned flags)
{
        REAL(int, renameat2, int, const char *, int, const char *, unsigned);
        char a[PATH_MAX], b[PATH_MAX];
        bool in_old = under(od, op, a), in_new = under(nd, np, b);

        if ((in_old || in_new) && inject(K_RENAME, in_new ? b : a))
                return -1;
        int r = real_renameat2(od, op, nd, np, flags);
        if (in_new && r == 0)
                after_rename(b);
        return r;
}

int renameat(int od, const char *op, int nd, const char *np)
{
        return renameat2(od, op, nd, np, 0);
}

int rename(const char *op, const char *np)
{
        return renameat2(AT_FDCWD, op, AT_FDCWD, np, 0);
}

int linkat(int od, const char *op, int nd, const char *np, int flags)
{
        REAL(int, linkat, int, const char *, int, const char *, int);
        char a[PATH_MAX], b[PATH_MAX];
        bool in_old = under(od, op, a), in_new = under(nd, np, b);

        if ((in_old || in_new) && inject(K_LINK, in_new ? b : a))
                return -1;
        return real_linkat(od, op, nd, np, flags);
}

int link(const char *op, const char *np)
{
        return linkat(AT_FDCWD, op, AT_FDCWD, np, 0);
}

int mkdirat(int d, const char *path, mode_t mode)
{
        REAL(int, mkdirat, int, const char *, mode_t);
        char a[PATH_MAX];

        if (under(d, path, a) && inject(K_MKDIR, a))
                return -1;
        return real_mkdirat(d, path, mode);
}

int mkdir(const char *path, mode_t mode)
{
        return mkdirat(AT_FDCWD, path, mode);
}

int symlinkat(const char *target, int d, const char *path)
{
        REAL(int, symlinkat, const char *, int, const char *);
        char a[PATH_MAX];

        if (under(d, path, a) && inject(K_SYMLINK, a))
                return -1;
        return real_symlinkat(target, d, path);
}

int symlink(const char *target, const char *path)
{
        return symlinkat(target, AT_FDCWD, path);
}

int unlinkat(int d, const char *path, int flags)
{
        REAL(int, unlinkat, int, const char *, int);
        char a[PATH_MAX];

        if (under(d, path, a) && inject(K_UNLINK, a))
                return -1;
        return real_unlinkat(d, path, flags);
}

int unlink(const char *path)
{
        return unlinkat(AT_FDCWD, path, 0);
}
