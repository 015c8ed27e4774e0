/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers used everywhere: scope-bound cleanup (systemd style), TAKE_PTR, array sizes,
 * errno helpers. Header only; no state.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)         __attribute__((cleanup(f)))
#define _unused_             __attribute__((unused))
#define _printf_(a, b)       __attribute__((format(printf, a, b)))
#define _nonnull_(...)       __attribute__((nonnull(__VA_ARGS__)))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _noreturn_           __attribute__((noreturn))
#define _likely_(x)          __builtin_expect(!!(x), 1)
#define _unlikely_(x)        __builtin_expect(!!(x), 0)

#define OB_STRINGIFY_(x) #x
#define OB_STRINGIFY(x)  OB_STRINGIFY_(x)
#define OB_ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define OB_MIN(a, b)     ((a) < (b) ? (a) : (b))
#define OB_MAX(a, b)     ((a) > (b) ? (a) : (b))

/* Take ownership of a pointer out of a _cleanup_ variable: returns it and leaves NULL behind. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _ptr_ = (p);                                                         \
                (p) = NULL;                                                                        \
                _ptr_;                                                                             \
        })

/* Take ownership of a file descriptor: returns it and leaves -1 behind. */
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd_ = (fd);                                                                   \
                (fd) = -1;                                                                         \
                _fd_;                                                                              \
        })

/* Define a cleanup function for pointer types whose destructor takes the pointer itself. */
#define OB_DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                 \
        static inline void func##p(type *p)                                                        \
        {                                                                                          \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

static inline void ob_freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(ob_freep)

static inline void ob_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                (void)close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(ob_closep)

/* Return -errno of the last failed libc call, never 0 (so a caller's "r < 0" stays true). */
static inline int ob_negative_errno(void)
{
        return errno > 0 ? -errno : -EIO;
}

/* Wipe memory the compiler may not optimise away (for secrets). */
void ob_explicit_bzero(void *p, size_t n);

/* Free a NUL-terminated secret after wiping it. Accepts NULL; returns NULL. */
char *ob_secret_free(char *s);
