/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing configuration values and applying a file's JSON to the struct (lib/config-file.h). */
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

/* ------------------------------------------------------------------ string arrays */

static void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

static size_t levenshtein(const char *a, const char *b);

/* The allowed value of an enum key closest to s (a different case, or a typo), or NULL. */
static const char *nearest_value(const ObConfigKey *k, const char *s)
{
        size_t best = SIZE_MAX, d;
        const char *found = NULL;

        for (int i = 0; k->values[i]; i++) {
                d = strcasecmp(k->values[i], s) == 0 ? 0 : levenshtein(s, k->values[i]);
                if (d < best) {
                        best = d;
                        found = k->values[i];
                }
        }
        /* close enough: at most a third of the value, and at least two edits allowed */
        return found && best <= OB_MAX((size_t)2, strlen(s) / 3) ? found : NULL;
}
/* ------------------------------------------------------------------ value parsing */

typedef union Value {
        char *s;
        bool b;
        uint32_t u;
        double d;
        int e;
        uint64_t ms;
        char **v;
} Value;

/* Move a parsed value into the struct, freeing what was there. */
static void value_store(ObConfig *c, const ObConfigKey *k, Value *v)
{
        void *f = ob_config_field(c, k);
        switch (k->type) {
        case OB_CONFIG_STRING:
        case OB_CONFIG_PATH:
                free(*(char **)f);
                *(char **)f = TAKE_PTR(v->s);
                break;
        case OB_CONFIG_STRMAP:
        case OB_CONFIG_STRLIST:
                strv_free(*(char ***)f);
                *(char ***)f = TAKE_PTR(v->v);
                break;
        case OB_CONFIG_BOOL:
                *(bool *)f = v->b;
                break;
        case OB_CONFIG_UINT:
        case OB_CONFIG_HANDLE:
                *(uint32_t *)f = v->u;
                break;
        case OB_CONFIG_DOUBLE:
                *(double *)f = v->d;
                break;
        case OB_CONFIG_ENUM:
                *(int *)f = v->e;
                break;
        case OB_CONFIG_DURATION:
                *(uint64_t *)f = v->ms;
                break;
        case _OB_CONFIG_TYPE_MAX:
                break;
        }
}

/* Reset a key to "unset" (no default): strings NULL, numbers 0, enums -1. */
static void value_unset(ObConfig *c, const ObConfigKey *k)
{
        Value v = {0};
        if (k->type == OB_CONFIG_ENUM)
                v.e = -1;
        value_store(c, k, &v);
}

static const char *json_type_desc(json_object *o)
{
        switch (json_object_get_type(o)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "a boolean";
        case json_type_double:
                return "a fractional number";
        case json_type_int:
                return "an integer";
        case json_type_object:
                return "an object";
        case json_type_array:
                return "an array";
        case json_type_string:
                return "a string";
        }
        return "something else";
}

/* Get a NUL-free string. */
static const char *get_string(json_object *o)
{
        const char *s = json_object_get_string(o);
        if (!s || strlen(s) != (size_t)json_object_get_string_len(o))
                return NULL;
        return s;
}

/* Parse "30", 1.5, "500ms", "30s", "5min", "2h", "7d" into milliseconds. */
static int parse_duration(json_object *o, uint64_t *ret, const char **reason)
{
        double secs;
        if (json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_double)) {
                secs = json_object_get_double(o);
                if (json_object_is_type(o, json_type_int) && json_object_get_int64(o) < 0)
                        secs = -1;
        } else if (json_object_is_type(o, json_type_string)) {
                const char *s = get_string(o);
                char *end;
                double n, mult;
                if (!s || !isdigit((unsigned char)s[0])) {
                        *reason = "is not a duration (seconds as a number, or a string like "
                                  "\"500ms\", \"30s\", \"5min\", \"2h\", \"7d\")";
                        return -EINVAL;
                }
                errno = 0;
                n = strtod(s, &end);
                if (errno != 0)
                        n = -1;
                if (strcmp(end, "ms") == 0)
                        mult = 0.001;
                else if (strcmp(end, "s") == 0 || strcmp(end, "") == 0)
                        mult = 1;
                else if (strcmp(end, "min") == 0 || strcmp(end, "m") == 0)
                        mult = 60;
                else if (strcmp(end, "h") == 0)
                        mult = 3600;
                else if (strcmp(end, "d") == 0)
                        mult = 86400;
                else {
                        *reason = "has an unknown unit (use ms, s, min, h or d)";
                        return -EINVAL;
                }
                secs = n * mult;
        } else {
                *reason = NULL;
                return -EMEDIUMTYPE;
        }
        if (!isfinite(secs) || secs < 0 || secs > 1e12) {
                *reason = "is not a non-negative finite duration";
                return -EINVAL;
        }
        *ret = (uint64_t)(secs * 1000.0 + 0.5);
        return 0;
}

struct ctx {
        ObConfig *c;
        const char *file;
        ObConfigDiags *d;
};

/* Check a string value against length, checker and template placeholders. */
static int check_string(struct ctx *x, const ObConfigKey *k, const char *name, const char *s)
{
        const char *reason = NULL;
        size_t len = strlen(s);

        if (k->max && (len < k->min || len > k->max))
                return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, name, 0, 0,
                                          "\"%.64s\" has length %zu, allowed %llu..%llu", s, len,
                                          (unsigned long long)k->min, (unsigned long long)k->max);
        if (k->placeholders) {
                const char *bad = NULL;
                size_t bad_len = 0;
                int r = ob_config_template_check(s, k->placeholders, &bad, &bad_len);
                if (r == -ENOENT)
                        return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, name, 0, 0,
                                                  "unknown placeholder {%.*s} (allowed: %s)",
                                                  (int)bad_len, bad, k->placeholders);
                if (r < 0)
                        return ob_config_diag_add(
                                x->d, OB_CONFIG_ERROR, x->file, name, 0, 0,
                                "\"%.64s\" is not a valid template (unbalanced braces or "
                                "bad placeholder name; write {{ and }} for literal braces)",
                                s);
        }
        if (k->check && k->check(s, &reason) < 0)
                return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, name, 0, 0,
                                          "\"%.64s\" %s", s, reason);
        return 1;
}

/*
 * Parse one value. Returns 1 and fills *v when valid; 0 when a diagnostic was added; -ENOMEM.
 */
static int parse_value(struct ctx *x, const ObConfigKey *k, json_object *o, Value *v)
{
        const char *reason = NULL;
        const char *s;
        int r;

#define WRONG_TYPE(expected)                                                                       \
        ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0, "expected %s, got %s",   \
                           expected, json_type_desc(o))

        switch (k->type) {
        case OB_CONFIG_STRING:
        case OB_CONFIG_PATH:
                if (!json_object_is_type(o, json_type_string))
                        return WRONG_TYPE(k->type == OB_CONFIG_PATH ? "a path string" : "a string");
                s = get_string(o);
                if (!s)
                        return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                  "contains a NUL byte");
                if (k->type == OB_CONFIG_PATH) {
                        if (s[0] != '/')
                                return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name,
                                                          0, 0, "\"%.64s\" is not an absolute path",
                                                          s);
                        if (strlen(s) >= PATH_MAX)
                                return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name,
                                                          0, 0, "path is longer than %d bytes",
                                                          PATH_MAX - 1);
                } else {
                        r = check_string(x, k, k->name, s);
                        if (r <= 0)
                                return r;
                }
                v->s = strdup(s);
                return v->s ? 1 : -ENOMEM;

        case OB_CONFIG_BOOL:
                if (!json_object_is_type(o, json_type_boolean))
                        return WRONG_TYPE("true or false");
                v->b = json_object_get_boolean(o);
                return 1;

        case OB_CONFIG_UINT: {
                uint64_t u;
                if (!json_object_is_type(o, json_type_int))
                        return WRONG_TYPE("an unsigned integer");
                if (json_object_get_int64(o) < 0)
                        return ob_config_diag_add(
                                x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                "%" PRId64 " is out of range %llu..%llu", json_object_get_int64(o),
                                (unsigned long long)k->min, (unsigned long long)k->max);
                u = json_object_get_uint64(o);
                if (u < k->min || u > k->max)
                        return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                  "%llu is out of range %llu..%llu",
                                                  (unsigned long long)u, (unsigned long long)k->min,
                                                  (unsigned long long)k->max);
                v->u = (uint32_t)u;
                return 1;
        }

        case OB_CONFIG_HANDLE: {
                char *end;
                unsigned long long h;
                if (!json_object_is_type(o, json_type_string))
                        return WRONG_TYPE("a TPM handle as a hex string like \"0x81000001\"");
                s = get_string(o);
                if (!s || strncasecmp(s, "0x", 2) != 0 || !isxdigit((unsigned char)s[2]))
                        return ob_config_diag_add(
                                x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                "\"%.64s\" is not a hex handle like \"0x81000001\"", s ? s : "");
                errno = 0;
                h = strtoull(s + 2, &end, 16);
                if (errno != 0 || *end)
                        return ob_config_diag_add(
                                x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                "\"%.64s\" is not a hex handle like \"0x81000001\"", s);
                if (h < k->min || h > k->max)
                        return ob_config_diag_add(
                                x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                "%s is not a persistent handle (0x%08llx..0x%08llx)", s,
                                (unsigned long long)k->min, (unsigned long long)k->max);
                v->u = (uint32_t)h;
                return 1;
        }

        case OB_CONFIG_DOUBLE: {
                double d;
                if (!json_object_is_type(o, json_type_double) &&
                    !json_object_is_type(o, json_type_int))
                        return WRONG_TYPE("a number");
                d = json_object_get_double(o);
                if (!isfinite(d) || d < k->dmin || d > k->dmax)
                        return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                  "%g is out of range %g..%g", d, k->dmin, k->dmax);
                v->d = d;
                return 1;
        }

        case OB_CONFIG_ENUM: {
                char allowed[256];
                const char *near;
                if (!json_object_is_type(o, json_type_string))
                        return WRONG_TYPE("a string");
                s = get_string(o);
                for (int i = 0; s && k->values[i]; i++)
                        if (strcmp(k->values[i], s) == 0) {
                                v->e = i;
                                return 1;
                        }
                near = s ? nearest_value(k, s) : NULL;
                return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                          "\"%.64s\" is not one of %s%s%s%s", s ? s : "",
                                          ob_config_key_range(k, allowed, sizeof(allowed)),
                                          near ? " (did you mean \"" : "", near ? near : "",
                                          near ? "\"?)" : "");
        }

        case OB_CONFIG_DURATION: {
                char a[32], b[32];
                r = parse_duration(o, &v->ms, &reason);
                if (r == -EMEDIUMTYPE)
                        return WRONG_TYPE("a duration (seconds, or a string like \"5min\")");
                if (r < 0)
                        return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                  "\"%.64s\" %s", json_object_get_string(o),
                                                  reason);
                if (v->ms < k->min || v->ms > k->max) {
                        ob_config_format_duration(k->min, a, sizeof(a));
                        ob_config_format_duration(k->max, b, sizeof(b));
                        return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                  "%s is out of range %s..%s",
                                                  json_object_get_string(o), a, b);
                }
                return 1;
        }

        case OB_CONFIG_STRLIST: {
                size_t n;
                char **l;
                if (!json_object_is_type(o, json_type_array))
                        return WRONG_TYPE("an array of strings");
                n = json_object_array_length(o);
                if (n < k->min || n > k->max)
                        return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                  "has %zu entries, allowed %llu..%llu", n,
                                                  (unsigned long long)k->min,
                                                  (unsigned long long)k->max);
                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(o, i);
                        const char *why = NULL;
                        s = json_object_is_type(e, json_type_string) ? get_string(e) : NULL;
                        if (!s)
                                return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name,
                                                          0, 0,
                                                          "entry %zu: expected a string, got %s", i,
                                                          json_type_desc(e));
                        if (k->check && k->check(s, &why) < 0)
                                return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name,
                                                          0, 0, "entry %zu: \"%.64s\" %s", i, s,
                                                          why);
                }
                l = calloc(n + 1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        l[i] = strdup(json_object_get_string(json_object_array_get_idx(o, i)));
                        if (!l[i]) {
                                strv_free(l);
                                return -ENOMEM;
                        }
                }
                v->v = l;
                return 1;
        }

        case OB_CONFIG_STRMAP: {
                size_t n = 0, i = 0;
                char **m;
                if (!json_object_is_type(o, json_type_object))
                        return WRONG_TYPE("an object of strings");
                if ((size_t)json_object_object_length(o) > LIST_MAX)
                        return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                  "has more than %d entries", LIST_MAX);
                json_object_object_foreach(o, mk, mv)
                {
                        _cleanup_free_ char *sub = NULL;
                        if (!json_object_is_type(mv, json_type_string) || !get_string(mv))
                                return ob_config_diag_add(
                                        x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "entry \"%.64s\": expected a string, got %s", mk,
                                        json_type_desc(mv));
                        if (!mk[0] || strlen(mk) > 128)
                                return ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name,
                                                          0, 0, "entry names must be 1..128 bytes");
                        if (asprintf(&sub, "%s.%s", k->name, mk) < 0)
                                return -ENOMEM;
                        r = check_string(x, k, sub, json_object_get_string(mv));
                        if (r <= 0)
                                return r;
                        n++;
                }
                m = calloc(2 * n + 1, sizeof(char *));
                if (!m)
                        return -ENOMEM;
                json_object_object_foreach(o, mk2, mv2)
                {
                        m[i] = strdup(mk2);
                        m[i + 1] = strdup(json_object_get_string(mv2));
                        if (!m[i] || !m[i + 1]) {
                                free(m[i]);
                                m[i] = NULL;
                                strv_free(m);
                                return -ENOMEM;
                        }
                        i += 2;
                }
                v->v = m;
                return 1;
        }
        case _OB_CONFIG_TYPE_MAX:
                break;
        }
#undef WRONG_TYPE
        return 0;
}

/* ------------------------------------------------------------------ construction */

ObConfig *ob_config_free(ObConfig *c)
{
        if (!c)
                return NULL;
        for (size_t i = 0; i < ob_config_n_keys; i++) {
                Value v = {0};
                value_store(c, &ob_config_key_table[i], &v);
                if (c->sources)
                        free(c->sources[i]);
        }
        free(c->sources);
        free(c);
        return NULL;
}

ObConfig *ob_config_new(void)
{
        _cleanup_config_ ObConfig *c = calloc(1, sizeof(ObConfig));
        if (!c)
                return NULL;
        c->sources = calloc(ob_config_n_keys, sizeof(char *));
        if (!c->sources)
                return NULL;
        for (size_t i = 0; i < ob_config_n_keys; i++) {
                const ObConfigKey *k = &ob_config_key_table[i];
                ObConfigDiags d = {0};
                struct ctx x = {.c = c, .file = "(built-in default)", .d = &d};
                json_object *o;
                Value v = {0};
                int r;

                value_unset(c, k);
                if (!k->def)
                        continue;
                o = json_tokener_parse(k->def);
                if (!o)
                        return NULL; /* OOM (the defaults are tested to parse) */
                r = parse_value(&x, k, o, &v);
                json_object_put(o);
                ob_config_diags_clear(&d);
                if (r <= 0)
                        return NULL;
                value_store(c, k, &v);
        }
        return TAKE_PTR(c);
}

/* ------------------------------------------------------------------ applying a file */

static size_t levenshtein(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        size_t row[128];
        if (la >= OB_ELEMENTSOF(row) || lb >= OB_ELEMENTSOF(row))
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t prev = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cur = row[j];
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        row[j] = OB_MIN(OB_MIN(row[j] + 1, row[j - 1] + 1), prev + cost);
                        prev = cur;
                }
        }
        return row[lb];
}

/* The closest known key or section to an unknown dotted name, or NULL. */
static const char *suggest(const char *name, char *buf, size_t n)
{
        size_t best = SIZE_MAX;
        const char *found = NULL;
        size_t nlen = strlen(name);

        for (size_t i = 0; i < ob_config_n_keys; i++) {
                /* compare with the key and with each of its section prefixes */
                const char *kn = ob_config_key_table[i].name;
                for (const char *dot = strchr(kn, '.');; dot = strchr(dot + 1, '.')) {
                        char cand[128];
                        size_t len = dot ? (size_t)(dot - kn) : strlen(kn);
                        size_t dist;
                        if (len < sizeof(cand)) {
                                memcpy(cand, kn, len);
                                cand[len] = 0;
                                dist = levenshtein(name, cand);
                                if (dist < best) {
                                        best = dist;
                                        snprintf(buf, n, "%s", cand);
                                        found = buf;
                                }
                        }
                        if (!dot)
                                break;
                }
        }
        /* close enough: at most a third of the name, and at least one edit allowed */
        if (found && best <= OB_MAX((size_t)2, nlen / 3))
                return found;
        return NULL;
}

static bool is_section(const char *prefix)
{
        size_t l = strlen(prefix);
        for (size_t i = 0; i < ob_config_n_keys; i++)
                if (strncmp(ob_config_key_table[i].name, prefix, l) == 0 &&
                    ob_config_key_table[i].name[l] == '.')
                        return true;
        return false;
}

static int apply_key(struct ctx *x, size_t idx, json_object *val)
{
        const ObConfigKey *k = &ob_config_key_table[idx];
        Value v = {0};
        int r;

        if (json_object_is_type(val, json_type_null)) {
                /* null resets the key to its built-in default */
                _cleanup_config_ ObConfig *def = ob_config_new();
                Value dv = {0};
                if (!def)
                        return -ENOMEM;
                value_unset(x->c, k);
                switch (k->type) {
                case OB_CONFIG_STRING:
                case OB_CONFIG_PATH:
                        dv.s = TAKE_PTR(*(char **)ob_config_field(def, k));
                        break;
                case OB_CONFIG_STRMAP:
                case OB_CONFIG_STRLIST:
                        dv.v = TAKE_PTR(*(char ***)ob_config_field(def, k));
                        break;
                case OB_CONFIG_BOOL:
                        dv.b = *(bool *)ob_config_field(def, k);
                        break;
                case OB_CONFIG_UINT:
                case OB_CONFIG_HANDLE:
                        dv.u = *(uint32_t *)ob_config_field(def, k);
                        break;
                case OB_CONFIG_DOUBLE:
                        dv.d = *(double *)ob_config_field(def, k);
                        break;
                case OB_CONFIG_ENUM:
                        dv.e = *(int *)ob_config_field(def, k);
                        break;
                case OB_CONFIG_DURATION:
                        dv.ms = *(uint64_t *)ob_config_field(def, k);
                        break;
                case _OB_CONFIG_TYPE_MAX:
                        break;
                }
                value_store(x->c, k, &dv);
                free(x->c->sources[idx]);
                x->c->sources[idx] = NULL;
                return 0;
        }

        r = parse_value(x, k, val, &v);
        if (r <= 0)
                return r;
        value_store(x->c, k, &v);
        free(x->c->sources[idx]);
        x->c->sources[idx] = strdup(x->file);
        return x->c->sources[idx] ? 0 : -ENOMEM;
}

static int apply_object(struct ctx *x, const char *prefix, json_object *obj, unsigned depth)
{
        json_object_object_foreach(obj, name, val)
        {
                _cleanup_free_ char *full = NULL;
                char hint[128];
                const char *s;
                size_t idx;
                int r;

                if (asprintf(&full, "%s%s%s", prefix, prefix[0] ? "." : "", name) < 0)
                        return -ENOMEM;
                if (ob_config_key_find(full, &idx)) {
                        r = apply_key(x, idx, val);
                } else if (is_section(full)) {
                        if (json_object_is_type(val, json_type_object) && depth < 4)
                                r = apply_object(x, full, val, depth + 1);
                        else
                                r = ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, full, 0, 0,
                                                       "is a section: expected an object, got %s",
                                                       json_type_desc(val));
                } else if ((s = suggest(full, hint, sizeof(hint))))
                        r = ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, full, 0, 0,
                                               "unknown key (did you mean \"%s\"?)", s);
                else
                        r = ob_config_diag_add(x->d, OB_CONFIG_ERROR, x->file, full, 0, 0,
                                               "unknown key");
                if (r < 0)
                        return r;
        }
        return 0;
}

static void offset_to_line(const char *buf, size_t off, unsigned *line, unsigned *col)
{
        *line = 1;
        *col = 1;
        for (size_t i = 0; i < off; i++) {
                if (buf[i] == '\n') {
                        (*line)++;
                        *col = 1;
                } else
                        (*col)++;
        }
}

/* Offset of the first thing after pos that is not whitespace or a comment; len if none. */
static size_t skip_blank(const char *buf, size_t len, size_t pos)
{
        while (pos < len) {
                if (isspace((unsigned char)buf[pos]))
                        pos++;
                else if (buf[pos] == '/' && pos + 1 < len && buf[pos + 1] == '/') {
                        while (pos < len && buf[pos] != '\n')
                                pos++;
                } else if (buf[pos] == '/' && pos + 1 < len && buf[pos + 1] == '*') {
                        const char *e = NULL;
                        for (size_t i = pos + 2; i + 1 < len; i++)
                                if (buf[i] == '*' && buf[i + 1] == '/') {
                                        e = buf + i;
                                        break;
                                }
                        if (!e)
                                return pos;
                        pos = (size_t)(e - buf) + 2;
                } else
                        break;
        }
        return pos;
}

/*
 * json-c does not remember where a key was. Find it again: a small scanner that follows the
 * nesting of objects (skipping strings and comments) and returns the offset of the last
 * occurrence of the dotted path (json-c keeps the last of duplicate keys), or SIZE_MAX.
 */
static size_t locate_key(const char *buf, size_t len, const char *path)
{
        enum { MAX_DEPTH = 16 };
        struct {
                bool object;
                size_t key, key_len; /* offset and length of the current key (object) */
        } st[MAX_DEPTH];
        size_t depth = 0, found = SIZE_MAX;

        for (size_t i = 0; i < len; i++) {
                char ch = buf[i];
                if (ch == '/' && i + 1 < len && buf[i + 1] == '/') {
                        while (i < len && buf[i] != '\n')
                                i++;
                } else if (ch == '/' && i + 1 < len && buf[i + 1] == '*') {
                        for (i += 2; i + 1 < len && !(buf[i] == '*' && buf[i + 1] == '/'); i++)
                                ;
                        i++;
                } else if (ch == '{' || ch == '[') {
                        if (depth == MAX_DEPTH)
                                return found;
                        st[depth].object = ch == '{';
                        st[depth].key = st[depth].key_len = 0;
                        depth++;
                } else if (ch == '}' || ch == ']') {
                        if (depth > 0)
                                depth--;
                } else if (ch == '"' || ch == '\'') {
                        size_t start = i + 1, j, end;
                        for (j = start; j < len && buf[j] != ch; j++)
                                if (buf[j] == '\\')
                                        j++;
                        end = j < len ? j : len;
                        i = end;
                        /* a key when the next non-blank character is ':' in an object */
                        j = skip_blank(buf, len, end + 1);
                        if (depth > 0 && st[depth - 1].object && j < len && buf[j] == ':') {
                                char full[256];
                                size_t used = 0;
                                bool in_array = false;
                                st[depth - 1].key = start;
                                st[depth - 1].key_len = end - start;
                                for (size_t k = 0; k < depth && used < sizeof(full); k++) {
                                        if (!st[k].object) {
                                                in_array = true;
                                                break;
                                        }
                                        used += (size_t)snprintf(
                                                full + used, sizeof(full) - used, "%s%.*s",
                                                k ? "." : "", (int)st[k].key_len, buf + st[k].key);
                                }
                                if (!in_array && used < sizeof(full) && strcmp(full, path) == 0)
                                        found = start - 1;
                        }
                }
        }
        return found;
}

/* Give the key diagnostics added since index first a line and column, where they can be found. */
static void locate_diags(ObConfigDiags *d, size_t first, const char *buf, size_t len)
{
        /* each lookup scans the file: bound the work a hostile file can cause */
        for (size_t i = first; d && i < d->n && i < first + 100; i++) {
                ObConfigDiag *x = &d->items[i];
                size_t off;
                if (x->line != 0 || !x->key)
                        continue;
                off = locate_key(buf, len, x->key);
                if (off != SIZE_MAX)
                        offset_to_line(buf, off, &x->line, &x->column);
        }
}

int ob_config_apply_buffer(ObConfig *c, const char *filename, const char *buf, size_t len,
                           ObConfigDiags *d)
{
        struct ctx x = {.c = c, .file = filename, .d = d};
        struct json_tokener *tok;
        json_object *root;
        enum json_tokener_error e;
        unsigned line, col;
        size_t end, first;
        int r;

        if (len > CONFIG_FILE_MAX)
                return ob_config_diag_add(d, OB_CONFIG_ERROR, filename, NULL, 0, 0,
                                          "file is larger than %d bytes", CONFIG_FILE_MAX);
        if (memchr(buf, 0, len)) {
                offset_to_line(buf, (size_t)((const char *)memchr(buf, 0, len) - buf), &line, &col);
                return ob_config_diag_add(d, OB_CONFIG_ERROR, filename, NULL, line, col,
                                          "file contains a NUL byte");
        }
        end = skip_blank(buf, len, 0);
        if (end == len)
                return ob_config_diag_add(d, OB_CONFIG_ERROR, filename, NULL, 0, 0,
                                          "file is empty (write {} for no settings)");

        tok = json_tokener_new_ex(32);
        if (!tok)
                return -ENOMEM;
        root = json_tokener_parse_ex(tok, buf, (int)len);
        e = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!root || e != json_tokener_success) {
                json_object_put(root);
                if (e == json_tokener_continue || e == json_tokener_success) {
                        offset_to_line(buf, len, &line, &col);
                        return ob_config_diag_add(d, OB_CONFIG_ERROR, filename, NULL, line, col,
                                                  "malformed JSON: unexpected end of file");
                }
                offset_to_line(buf, end > len ? len : end, &line, &col);
                return ob_config_diag_add(d, OB_CONFIG_ERROR, filename, NULL, line, col,
                                          "malformed JSON: %s", json_tokener_error_desc(e));
        }
        end = skip_blank(buf, len, end);
        if (end < len) {
                json_object_put(root);
                offset_to_line(buf, end, &line, &col);
                return ob_config_diag_add(
                        d, OB_CONFIG_ERROR, filename, NULL, line, col,
                        "malformed JSON: trailing data after the top-level object");
        }
        if (!json_object_is_type(root, json_type_object)) {
                r = ob_config_diag_add(d, OB_CONFIG_ERROR, filename, NULL, 0, 0,
                                       "the top level must be an object, got %s",
                                       json_type_desc(root));
                json_object_put(root);
                return r;
        }
        first = d ? d->n : 0;
        r = apply_object(&x, "", root, 0);
        json_object_put(root);
        locate_diags(d, first, buf, len);
        return r;
}
