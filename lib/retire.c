/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "macro.h"
#include "retire.h"

/* Index of gen, or of where it would go (*ret_found says which). */
static size_t find(const ObRetireList *l, uint64_t gen, bool *ret_found)
{
        size_t lo = 0, hi = l->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (l->items[mid].gen < gen)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_found = lo < l->n && l->items[lo].gen == gen;
        return lo;
}

int ob_retire_add(ObRetireList *l, uint64_t gen, int64_t retired_ms)
{
        bool found;
        size_t i;

        if (gen == 0)
                return -EINVAL;
        i = find(l, gen, &found);
        if (found)
                return 0;
        if (l->n >= OB_RETIRE_MAX)
                return -E2BIG;
        ObRetired *p = reallocarray(l->items, l->n + 1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        l->items = p;
        memmove(&p[i + 1], &p[i], (l->n - i) * sizeof(*p));
        p[i] = (ObRetired){.gen = gen, .retired_ms = retired_ms};
        l->n++;
        return 0;
}

void ob_retire_remove(ObRetireList *l, uint64_t gen)
{
        bool found;
        size_t i = find(l, gen, &found);

        if (!found)
                return;
        memmove(&l->items[i], &l->items[i + 1], (l->n - i - 1) * sizeof(*l->items));
        l->n--;
}

bool ob_retire_contains(const ObRetireList *l, uint64_t gen)
{
        bool found;

        (void)find(l, gen, &found);
        return found;
}

void ob_retire_clear(ObRetireList *l)
{
        free(l->items);
        *l = (ObRetireList){0};
}

const ObRetired *ob_retire_newest(const ObRetireList *l)
{
        return l->n > 0 ? &l->items[l->n - 1] : NULL;
}

int64_t ob_retire_next_due(const ObRetireList *l, int64_t grace_ms)
{
        int64_t next = -1;

        for (size_t i = 0; i < l->n; i++)
                if (next < 0 || l->items[i].retired_ms + grace_ms < next)
                        next = l->items[i].retired_ms + grace_ms;
        return next;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

int ob_retire_reconcile(ObRetireList *l, const uint64_t *on_disk, size_t n, uint64_t keep1,
                        uint64_t keep2, int64_t now)
{
        bool changed = false;
        int r;

        /* listed but gone (deleted by hand, or by an older version), or not retired at all */
        for (size_t i = l->n; i-- > 0;) {
                uint64_t g = l->items[i].gen;
                if (g == keep1 || g == keep2 ||
                    !(n > 0 && bsearch(&g, on_disk, n, sizeof(*on_disk), cmp_u64))) {
                        ob_retire_remove(l, g);
                        changed = true;
                } else if (l->items[i].retired_ms > now) {
                        /* retired "in the future": the clock was stepped back since; the grace
                         * starts again rather than running until that date */
                        l->items[i].retired_ms = now;
                        changed = true;
                }
        }
        /* on disk but unknown: retired from now on (when is not known; never sooner) */
        for (size_t i = 0; i < n; i++) {
                if (on_disk[i] == keep1 || on_disk[i] == keep2 || ob_retire_contains(l, on_disk[i]))
                        continue;
                r = ob_retire_add(l, on_disk[i], now);
                if (r == -E2BIG)
                        break; /* the rest is found again once listed ones are gone */
                if (r < 0)
                        return r;
                changed = true;
        }
        return changed;
}

json_object *ob_retire_to_json(const ObRetireList *l)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < l->n; i++) {
                json_object *e = json_object_new_object();
                if (!e || json_object_array_add(a, e) < 0) {
                        json_object_put(e);
                        json_object_put(a);
                        return NULL;
                }
                json_object_object_add(e, "generation", json_object_new_uint64(l->items[i].gen));
                json_object_object_add(e, "retired_ms",
                                       json_object_new_int64(l->items[i].retired_ms));
        }
        return a;
}

int ob_retire_from_json(json_object *arr, ObRetireList *l)
{
        if (!json_object_is_type(arr, json_type_array))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                json_object *e = json_object_array_get_idx(arr, i), *g, *t;
                int r;

                if (!json_object_is_type(e, json_type_object) ||
                    !json_object_object_get_ex(e, "generation", &g) ||
                    !json_object_is_type(g, json_type_int) || json_object_get_int64(g) < 1 ||
                    !json_object_object_get_ex(e, "retired_ms", &t) ||
                    !json_object_is_type(t, json_type_int))
                        return -EBADMSG;
                r = ob_retire_add(l, (uint64_t)json_object_get_int64(g), json_object_get_int64(t));
                if (r == -E2BIG)
                        break; /* found on disk again later */
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The key through the provider (whatever it holds besides the file), then the folder. */
static int delete_slot(const ObRetireSweep *s, uint64_t gen)
{
        _cleanup_free_ char *key = ob_creds_slot_file(s->state_dir, gen, "device.key");
        int r;

        if (!key)
                return -ENOMEM;
        if (gen == s->current || gen == s->pending)
                return -EBUSY;
        if (s->keys)
                (void)s->keys->ops->destroy(s->keys, key);
        r = ob_creds_remove_slot(s->state_dir, gen, s->fs);
        return r == -ENOENT ? 0 : r;
}

int ob_retire_delete_now(ObRetireList *l, const ObRetireSweep *s, uint64_t gen)
{
        int r = delete_slot(s, gen);

        if (r >= 0)
                ob_retire_remove(l, gen);
        return r;
}

int ob_retire_sweep(ObRetireList *l, const ObRetireSweep *s, int64_t now, ObRetireResult *ret)
{
        _cleanup_free_ uint64_t *on_disk = NULL;
        size_t n = 0;
        int r;

        *ret = (ObRetireResult){0};
        r = ob_creds_list(s->state_dir, &on_disk, &n, s->fs);
        if (r < 0)
                return r;
        r = ob_retire_reconcile(l, on_disk, n, s->current, s->pending, now);
        if (r < 0)
                return r;
        ret->changed = r > 0;
        for (size_t i = l->n; i-- > 0;) {
                ObRetired it = l->items[i];

                if (now < it.retired_ms + s->grace_ms)
                        continue;
                r = delete_slot(s, it.gen);
                if (r < 0) {
                        if (ret->error == 0) {
                                ret->error = r;
                                ret->error_gen = it.gen;
                        }
                        continue;
                }
                ob_retire_remove(l, it.gen);
                ret->changed = true;
                ret->deleted++;
                if (ret->first == 0 || it.gen < ret->first)
                        ret->first = it.gen;
                if (it.gen > ret->last)
                        ret->last = it.gen;
        }
        return 0;
}
