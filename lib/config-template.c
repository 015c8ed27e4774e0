/* SPDX-License-Identifier: Apache-2.0 */
/* Templates in configuration values: {thing_name}, {serial} ... (ob_config_template_expand). */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-file.h"
#include "config-trust.h"
#include "log.h"
#include "config-private.h"
#include "macro.h"

/* ------------------------------------------------------------------ templates */

/*
 * Walk a template; for each placeholder call cb(name, len). Returns 0, -EINVAL (unbalanced
 * brace, empty name) or what cb returns.
 */
static int template_walk(const char *t, int (*cb)(const char *name, size_t len, void *u), void *u)
{
        for (const char *p = t; *p; p++) {
                if (p[0] == '{' && p[1] == '{') {
                        p++;
                        continue;
                }
                if (p[0] == '}' && p[1] == '}') {
                        p++;
                        continue;
                }
                if (*p == '}')
                        return -EINVAL;
                if (*p == '{') {
                        const char *e = strchr(p + 1, '}');
                        if (!e || e == p + 1)
                                return -EINVAL;
                        for (const char *q = p + 1; q < e; q++)
                                if (!(islower((unsigned char)*q) || *q == '_'))
                                        return -EINVAL;
                        int r = cb(p + 1, (size_t)(e - p - 1), u);
                        if (r < 0)
                                return r;
                        p = e;
                }
        }
        return 0;
}

static bool word_in(const char *list, const char *w, size_t len)
{
        for (const char *p = list; p && *p;) {
                size_t l = strcspn(p, " ");
                if (l == len && strncmp(p, w, len) == 0)
                        return true;
                p += l;
                p += strspn(p, " ");
        }
        return false;
}

struct tmpl_check {
        const char *allowed;
        const char *bad;
        size_t bad_len;
};

static int tmpl_check_cb(const char *name, size_t len, void *u)
{
        struct tmpl_check *c = u;
        if (word_in(c->allowed, name, len))
                return 0;
        c->bad = name;
        c->bad_len = len;
        return -ENOENT;
}

int ob_config_template_check(const char *s, const char *allowed, const char **ret_bad,
                             size_t *ret_bad_len)
{
        struct tmpl_check tc = {.allowed = allowed};
        int r = template_walk(s, tmpl_check_cb, &tc);

        if (r == -ENOENT) {
                *ret_bad = tc.bad;
                *ret_bad_len = tc.bad_len;
        }
        return r;
}

struct tmpl_expand {
        const char *const *vars;
        char *out;
        size_t n, cap;
};

static int buf_put(struct tmpl_expand *e, const char *s, size_t len)
{
        if (e->n + len + 1 > e->cap) {
                size_t nc = (e->n + len + 1) * 2;
                char *no = realloc(e->out, nc);
                if (!no)
                        return -ENOMEM;
                e->out = no;
                e->cap = nc;
        }
        memcpy(e->out + e->n, s, len);
        e->n += len;
        e->out[e->n] = 0;
        return 0;
}

int ob_config_template_expand(const char *tmpl, const char *const *vars, char **ret)
{
        struct tmpl_expand e = {.vars = vars};
        int r;

        if (!tmpl)
                return -EINVAL;
        r = buf_put(&e, "", 0);
        for (const char *p = tmpl; r >= 0 && *p; p++) {
                if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
                        r = buf_put(&e, p, 1);
                        p++;
                } else if (*p == '}') {
                        r = -EINVAL;
                } else if (*p == '{') {
                        const char *end = strchr(p + 1, '}');
                        const char *val = NULL;
                        if (!end || end == p + 1) {
                                r = -EINVAL;
                                break;
                        }
                        for (size_t i = 0; vars && vars[i] && vars[i + 1]; i += 2)
                                if (strlen(vars[i]) == (size_t)(end - p - 1) &&
                                    strncmp(vars[i], p + 1, (size_t)(end - p - 1)) == 0) {
                                        val = vars[i + 1];
                                        break;
                                }
                        if (!val)
                                r = -ENOENT;
                        else
                                r = buf_put(&e, val, strlen(val));
                        p = end;
                } else
                        r = buf_put(&e, p, 1);
        }
        if (r < 0) {
                free(e.out);
                return r;
        }
        *ret = e.out;
        return 0;
}
