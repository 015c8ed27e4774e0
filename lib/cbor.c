/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cbor.h"
#include "macro.h"

static void json_object_putp(json_object **o)
{
        json_object_put(*o);
}

typedef struct Reader {
        const uint8_t *p;
        size_t left;
} Reader;

static int get_byte(Reader *r, uint8_t *ret)
{
        if (r->left < 1)
                return -EBADMSG;
        *ret = *r->p++;
        r->left--;
        return 0;
}

/* Read the argument of an initial byte (additional info ai). indefinite -> *ret_indef. */
static int get_arg(Reader *r, uint8_t ai, uint64_t *ret, bool *ret_indef)
{
        size_t n;

        *ret = 0; /* also for an indefinite length, so callers never pass an unset value on */
        *ret_indef = false;
        if (ai < 24) {
                *ret = ai;
                return 0;
        }
        if (ai == 31) {
                *ret_indef = true;
                return 0;
        }
        if (ai > 27)
                return -EBADMSG; /* 28..30 reserved */
        n = (size_t)1 << (ai - 24);
        if (r->left < n)
                return -EBADMSG;
        *ret = 0;
        for (size_t i = 0; i < n; i++)
                *ret = (*ret << 8) | r->p[i];
        r->p += n;
        r->left -= n;
        return 0;
}

static bool utf8_valid(const uint8_t *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                uint8_t c = s[i];
                size_t k;
                uint32_t cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0)
                        k = 1, cp = c & 0x1f;
                else if ((c & 0xf0) == 0xe0)
                        k = 2, cp = c & 0x0f;
                else if ((c & 0xf8) == 0xf0)
                        k = 3, cp = c & 0x07;
                else
                        return false;
                if (i + k >= n)
                        return false;
                for (size_t j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + j] & 0x3f);
                }
                if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += k + 1;
        }
        return true;
}

static double half_to_double(uint16_t h)
{
        int e = (h >> 10) & 0x1f, m = h & 0x3ff;
        double v;

        /* Exact: powers of two in this range are representable (no libm needed). */
        if (e == 0) {
                v = (double)m / 16777216.0;
        } else if (e != 31) {
                v = (double)(m + 1024);
                for (int i = e - 25; i > 0; i--)
                        v *= 2;
                for (int i = e - 25; i < 0; i++)
                        v /= 2;
        } else
                v = m == 0 ? INFINITY : NAN;
        return (h & 0x8000) ? -v : v;
}

static int decode(Reader *r, int depth, json_object **ret);

/* Append a text chunk (definite length n) to *buf. */
static int text_chunk(Reader *r, uint64_t n, char **buf, size_t *len)
{
        char *nb;

        if (n > r->left)
                return -EBADMSG;
        if (!utf8_valid(r->p, (size_t)n))
                return -EBADMSG;
        nb = realloc(*buf, *len + (size_t)n + 1);
        if (!nb)
                return -ENOMEM;
        memcpy(nb + *len, r->p, (size_t)n);
        *len += (size_t)n;
        nb[*len] = '\0';
        *buf = nb;
        r->p += n;
        r->left -= (size_t)n;
        return 0;
}

static int decode_text(Reader *r, uint64_t n, bool indef, json_object **ret)
{
        _cleanup_free_ char *buf = calloc(1, 1);
        size_t len = 0;
        int k;

        if (!buf)
                return -ENOMEM;
        if (!indef) {
                k = text_chunk(r, n, &buf, &len);
                if (k < 0)
                        return k;
        } else {
                for (;;) {
                        uint8_t ib;
                        bool ind2;
                        uint64_t m;

                        k = get_byte(r, &ib);
                        if (k < 0)
                                return k;
                        if (ib == 0xff)
                                break;
                        if ((ib >> 5) != 3)
                                return -EBADMSG; /* chunks must be definite text strings */
                        k = get_arg(r, ib & 0x1f, &m, &ind2);
                        if (k < 0)
                                return k;
                        if (ind2)
                                return -EBADMSG;
                        k = text_chunk(r, m, &buf, &len);
                        if (k < 0)
                                return k;
                }
        }
        *ret = json_object_new_string_len(buf, (int)len);
        return *ret ? 0 : -ENOMEM;
}

static bool at_break(Reader *r)
{
        if (r->left > 0 && r->p[0] == 0xff) {
                r->p++;
                r->left--;
                return true;
        }
        return false;
}

static int decode(Reader *r, int depth, json_object **ret)
{
        uint8_t ib, major, ai;
        uint64_t arg;
        bool indef;
        int k;

        if (depth > OB_CBOR_MAX_DEPTH)
                return -ELOOP;
        k = get_byte(r, &ib);
        if (k < 0)
                return k;
        major = ib >> 5;
        ai = ib & 0x1f;
        if (major == 7) {
                switch (ai) {
                case 20:
                        *ret = json_object_new_boolean(0);
                        return *ret ? 0 : -ENOMEM;
                case 21:
                        *ret = json_object_new_boolean(1);
                        return *ret ? 0 : -ENOMEM;
                case 22:
                case 23:
                        *ret = NULL; /* json null */
                        return 0;
                case 25:
                case 26:
                case 27: {
                        double d;
                        k = get_arg(r, ai, &arg, &indef);
                        if (k < 0)
                                return k;
                        if (ai == 25) {
                                d = half_to_double((uint16_t)arg);
                        } else if (ai == 26) {
                                uint32_t u = (uint32_t)arg;
                                float f;
                                memcpy(&f, &u, sizeof(f));
                                d = f;
                        } else {
                                memcpy(&d, &arg, sizeof(d));
                        }
                        *ret = json_object_new_double(d);
                        return *ret ? 0 : -ENOMEM;
                }
                default:
                        return ai == 31 ? -EBADMSG : -ENOTSUP;
                }
        }
        k = get_arg(r, ai, &arg, &indef);
        if (k < 0)
                return k;
        if (indef && major < 2)
                return -EBADMSG;
        switch (major) {
        case 0:
                if (arg > INT64_MAX)
                        return -ERANGE;
                *ret = json_object_new_int64((int64_t)arg);
                return *ret ? 0 : -ENOMEM;
        case 1:
                if (arg > INT64_MAX)
                        return -ERANGE;
                *ret = json_object_new_int64(-1 - (int64_t)arg);
                return *ret ? 0 : -ENOMEM;
        case 2:
        case 6:
                return -ENOTSUP;
        case 3:
                return decode_text(r, arg, indef, ret);
        case 4: {
                _cleanup_(json_object_putp) json_object *a = NULL;
                if (!indef && arg > r->left)
                        return -EBADMSG; /* every item needs at least one byte */
                a = json_object_new_array();
                if (!a)
                        return -ENOMEM;
                for (uint64_t i = 0; indef ? !at_break(r) : i < arg; i++) {
                        json_object *v = NULL;
                        k = decode(r, depth + 1, &v);
                        if (k < 0)
                                return k;
                        if (json_object_array_add(a, v) < 0) {
                                json_object_put(v);
                                return -ENOMEM;
                        }
                        if (indef && r->left == 0)
                                return -EBADMSG;
                }
                *ret = TAKE_PTR(a);
                return 0;
        }
        case 5: {
                _cleanup_(json_object_putp) json_object *m = NULL;
                if (!indef && arg > r->left / 2)
                        return -EBADMSG;
                m = json_object_new_object();
                if (!m)
                        return -ENOMEM;
                for (uint64_t i = 0; indef ? !at_break(r) : i < arg; i++) {
                        json_object *key = NULL, *v = NULL;
                        k = decode(r, depth + 1, &key);
                        if (k < 0)
                                return k;
                        if (!json_object_is_type(key, json_type_string)) {
                                json_object_put(key);
                                return -ENOTSUP;
                        }
                        k = decode(r, depth + 1, &v);
                        if (k < 0) {
                                json_object_put(key);
                                return k;
                        }
                        json_object_object_add(m, json_object_get_string(key), v);
                        json_object_put(key);
                        if (indef && r->left == 0)
                                return -EBADMSG;
                }
                *ret = TAKE_PTR(m);
                return 0;
        }
        }
        return -EBADMSG;
}

int ob_cbor_decode(const uint8_t *buf, size_t len, json_object **ret)
{
        Reader r = {.p = buf, .left = len};
        json_object *o = NULL;
        int k;

        if (!buf || len == 0 || len > OB_CBOR_MAX_SIZE)
                return -EBADMSG;
        k = decode(&r, 0, &o);
        if (k < 0)
                return k;
        if (r.left != 0) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

typedef struct Writer {
        uint8_t *buf;
        size_t len, cap;
} Writer;

static int put(Writer *w, const void *data, size_t n)
{
        if (w->len + n > OB_CBOR_MAX_SIZE)
                return -E2BIG;
        if (w->len + n > w->cap) {
                size_t cap = OB_MAX(w->cap * 2, w->len + n + 64);
                uint8_t *nb = realloc(w->buf, cap);
                if (!nb)
                        return -ENOMEM;
                w->buf = nb;
                w->cap = cap;
        }
        memcpy(w->buf + w->len, data, n);
        w->len += n;
        return 0;
}

static int head(Writer *w, uint8_t major, uint64_t arg)
{
        uint8_t b[9];
        size_t n;

        if (arg < 24) {
                b[0] = (uint8_t)(major << 5 | arg);
                return put(w, b, 1);
        }
        if (arg <= 0xff)
                b[0] = (uint8_t)(major << 5 | 24), n = 1;
        else if (arg <= 0xffff)
                b[0] = (uint8_t)(major << 5 | 25), n = 2;
        else if (arg <= 0xffffffffu)
                b[0] = (uint8_t)(major << 5 | 26), n = 4;
        else
                b[0] = (uint8_t)(major << 5 | 27), n = 8;
        for (size_t i = 0; i < n; i++)
                b[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
        return put(w, b, 1 + n);
}

static int encode(Writer *w, json_object *o, int depth)
{
        int k;

        if (depth > OB_CBOR_MAX_DEPTH)
                return -ELOOP;
        switch (json_object_get_type(o)) {
        case json_type_null:
                return put(w, "\xf6", 1);
        case json_type_boolean:
                return put(w, json_object_get_boolean(o) ? "\xf5" : "\xf4", 1);
        case json_type_int: {
                int64_t v = json_object_get_int64(o);
                return v >= 0 ? head(w, 0, (uint64_t)v) : head(w, 1, (uint64_t)(-1 - v));
        }
        case json_type_double: {
                double d = json_object_get_double(o);
                uint64_t u;
                uint8_t b[9] = {0xfb};
                memcpy(&u, &d, sizeof(u));
                for (int i = 0; i < 8; i++)
                        b[1 + i] = (uint8_t)(u >> (56 - 8 * i));
                return put(w, b, 9);
        }
        case json_type_string: {
                size_t n = (size_t)json_object_get_string_len(o);
                k = head(w, 3, n);
                return k < 0 ? k : put(w, json_object_get_string(o), n);
        }
        case json_type_array: {
                size_t n = json_object_array_length(o);
                k = head(w, 4, n);
                for (size_t i = 0; k >= 0 && i < n; i++)
                        k = encode(w, json_object_array_get_idx(o, i), depth + 1);
                return k;
        }
        case json_type_object: {
                k = head(w, 5, (uint64_t)json_object_object_length(o));
                if (k < 0)
                        return k;
                json_object_object_foreach(o, key, val)
                {
                        k = head(w, 3, strlen(key));
                        if (k >= 0)
                                k = put(w, key, strlen(key));
                        if (k >= 0)
                                k = encode(w, val, depth + 1);
                        if (k < 0)
                                return k;
                }
                return 0;
        }
        }
        return -EINVAL;
}

int ob_cbor_encode(json_object *o, uint8_t **ret, size_t *ret_len)
{
        Writer w = {};
        int k = encode(&w, o, 0);

        if (k < 0) {
                free(w.buf);
                return k;
        }
        *ret = w.buf;
        *ret_len = w.len;
        return 0;
}
