/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "backoff.h"
#include "config-file.h"
#include "macro.h"

static const char *const class_names[_OB_ERR_CLASS_MAX] = {
        [OB_ERR_NETWORK] = "network",   [OB_ERR_TLS] = "tls",
        [OB_ERR_REFUSED] = "refused",   [OB_ERR_THROTTLED] = "throttled",
        [OB_ERR_REJECTED] = "rejected", [OB_ERR_TIMEOUT] = "timeout",
};

const char *ob_err_class_to_string(ObErrClass c)
{
        if ((unsigned)c >= _OB_ERR_CLASS_MAX)
                return NULL;
        return class_names[c];
}

int ob_err_class_from_string(const char *s, ObErrClass *ret)
{
        for (unsigned i = 0; s && i < _OB_ERR_CLASS_MAX; i++)
                if (strcmp(s, class_names[i]) == 0) {
                        *ret = (ObErrClass)i;
                        return 0;
                }
        return -EINVAL;
}

uint64_t ob_random_splitmix64(void *state)
{
        uint64_t *s = state;
        uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

void ob_backoff_policy_from_config(const ObConfig *c, ObBackoffPolicy *p)
{
        const ObConfigRetry *r[_OB_ERR_CLASS_MAX] = {
                [OB_ERR_NETWORK] = &c->retry.network,   [OB_ERR_TLS] = &c->retry.tls,
                [OB_ERR_REFUSED] = &c->retry.refused,   [OB_ERR_THROTTLED] = &c->retry.throttled,
                [OB_ERR_REJECTED] = &c->retry.rejected, [OB_ERR_TIMEOUT] = &c->retry.timeout,
        };
        for (unsigned i = 0; i < _OB_ERR_CLASS_MAX; i++)
                p->cls[i] = (ObBackoffClassPolicy){r[i]->base_ms, r[i]->cap_ms, r[i]->factor};
        p->stable_ms = OB_BACKOFF_STABLE_MS;
}

void ob_backoff_init(ObBackoff *b)
{
        memset(b, 0, sizeof(*b));
}

uint64_t ob_backoff_window_ms(const ObBackoffClassPolicy *p, uint32_t n)
{
        uint64_t cap = OB_MAX(p->cap_ms, p->base_ms);
        double w = (double)p->base_ms;

        if (p->base_ms == 0)
                return 0;
        if (p->factor == 0 || p->factor == 2) {
                /* base << n without overflow */
                if (n >= 63 || p->base_ms > (cap >> n))
                        return cap;
                return OB_MIN(cap, p->base_ms << n);
        }
        if (!(p->factor > 1))
                return OB_MIN(cap, p->base_ms);
        /* base * factor^n, stopping at cap (factor > 1: at most a few thousand steps) */
        for (uint32_t i = 0; i < n && w < (double)cap; i++)
                w *= p->factor;
        return w >= (double)cap ? cap : (uint64_t)w;
}

uint64_t ob_backoff_failure(ObBackoff *b, const ObBackoffPolicy *p, ObErrClass c, int64_t now_ms,
                            const ObRandom *rnd)
{
        if ((unsigned)c >= _OB_ERR_CLASS_MAX)
                c = OB_ERR_NETWORK;
        if (b->success_since_ms > 0 && now_ms - b->success_since_ms >= (int64_t)p->stable_ms)
                b->attempts = 0;
        b->success_since_ms = 0;

        uint64_t window = ob_backoff_window_ms(&p->cls[c], b->attempts);
        /* full jitter: uniform in [0, window] (modulo bias is negligible for 64-bit draws) */
        uint64_t delay = window == 0 ? 0 : rnd->next(rnd->userdata) % (window + 1);

        if (b->attempts < UINT32_MAX)
                b->attempts++;
        b->last_class = c;
        b->next_ms = now_ms + (int64_t)delay;
        return delay;
}

void ob_backoff_success(ObBackoff *b, int64_t now_ms)
{
        b->success_since_ms = now_ms > 0 ? now_ms : 1;
        b->next_ms = now_ms;
}

void ob_backoff_connect_attempt(ObBackoff *b, int64_t now_ms)
{
        b->last_connect_ms = now_ms;
}

int64_t ob_backoff_next_connect_ms(const ObBackoff *b)
{
        /* saturate: a loaded state may hold any non-negative int64 (found by fuzz-backoff-json) */
        int64_t floor = b->last_connect_ms <= 0 ? 0
                        : b->last_connect_ms > INT64_MAX - OB_BACKOFF_CONNECT_FLOOR_MS
                                ? INT64_MAX
                                : b->last_connect_ms + OB_BACKOFF_CONNECT_FLOOR_MS;
        return OB_MAX(b->next_ms, floor);
}

json_object *ob_backoff_to_json(const ObBackoff *b)
{
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        if (json_object_object_add(o, "attempts", json_object_new_int64(b->attempts)) < 0 ||
            json_object_object_add(o, "class",
                                   json_object_new_string(ob_err_class_to_string(b->last_class))) <
                    0 ||
            json_object_object_add(o, "next_ms", json_object_new_int64(b->next_ms)) < 0 ||
            json_object_object_add(o, "last_connect_ms",
                                   json_object_new_int64(b->last_connect_ms)) < 0 ||
            json_object_object_add(o, "success_since_ms",
                                   json_object_new_int64(b->success_since_ms)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return -EBADMSG;
        errno = 0;
        int64_t x = json_object_get_int64(v);
        if (errno != 0 || x < min || x > max)
                return -EBADMSG;
        *ret = x;
        return 0;
}

int ob_backoff_from_json(json_object *o, ObBackoff *ret)
{
        ObBackoff b;
        int64_t attempts;
        json_object *v;

        if (!json_object_is_type(o, json_type_object) || json_object_object_length(o) != 5)
                return -EBADMSG;
        if (get_int(o, "attempts", 0, UINT32_MAX, &attempts) < 0 ||
            get_int(o, "next_ms", 0, INT64_MAX, &b.next_ms) < 0 ||
            get_int(o, "last_connect_ms", 0, INT64_MAX, &b.last_connect_ms) < 0 ||
            get_int(o, "success_since_ms", 0, INT64_MAX, &b.success_since_ms) < 0)
                return -EBADMSG;
        if (!json_object_object_get_ex(o, "class", &v) ||
            !json_object_is_type(v, json_type_string) ||
            ob_err_class_from_string(json_object_get_string(v), &b.last_class) < 0)
                return -EBADMSG;
        b.attempts = (uint32_t)attempts;
        *ret = b;
        return 0;
}
