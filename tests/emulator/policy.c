/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <ctype.h>

#include "policy.h"

#define MAX_EXPANDED 2048

const char *ob_emu_action_name(ObEmuAction action)
{
        switch (action) {
        case OB_EMU_ACTION_CONNECT:
                return "iot:Connect";
        case OB_EMU_ACTION_PUBLISH:
                return "iot:Publish";
        case OB_EMU_ACTION_SUBSCRIBE:
                return "iot:Subscribe";
        case OB_EMU_ACTION_RECEIVE:
                return "iot:Receive";
        }
        return "iot:?";
}

static bool glob(const char *p, const char *t, bool nocase)
{
        /* Iterative matcher with single-star backtracking: linear in practice, no recursion. */
        const char *star_p = NULL, *star_t = NULL;

        while (*t) {
                if (*p == '*') {
                        star_p = ++p;
                        star_t = t;
                        continue;
                }
                if (*p && (*p == '?' || *p == *t ||
                           (nocase && tolower((unsigned char)*p) == tolower((unsigned char)*t)))) {
                        p++;
                        t++;
                        continue;
                }
                if (!star_p)
                        return false;
                p = star_p;
                t = ++star_t;
        }
        while (*p == '*')
                p++;
        return *p == '\0';
}

bool ob_emu_glob_match(const char *pattern, const char *text)
{
        return glob(pattern, text, false);
}

/* Replace ${iot:...} variables. Unknown variables or a missing thing make the resource match
 * nothing (as AWS does when a variable cannot be resolved). */
static bool expand(const char *in, const ObEmuPolicyContext *ctx, char *out, size_t out_size)
{
        size_t o = 0;

        while (*in) {
                const char *val = NULL;
                size_t skip = 0;

                if (in[0] == '$' && in[1] == '{') {
                        const char *end = strchr(in, '}');
                        if (!end)
                                return false;
                        size_t len = (size_t)(end - in - 2);
                        if (len == strlen("iot:ClientId") && !strncmp(in + 2, "iot:ClientId", len))
                                val = ctx->client_id;
                        else if (len == strlen("iot:Connection.Thing.ThingName") &&
                                 !strncmp(in + 2, "iot:Connection.Thing.ThingName", len))
                                val = ctx->thing_name;
                        else
                                return false;
                        if (!val)
                                return false;
                        skip = len + 3;
                } else {
                        if (o + 1 >= out_size)
                                return false;
                        out[o++] = *in++;
                        continue;
                }
                size_t vl = strlen(val);
                if (o + vl + 1 >= out_size)
                        return false;
                memcpy(out + o, val, vl);
                o += vl;
                in += skip;
        }
        out[o] = '\0';
        return true;
}

static bool action_matches(json_object *a, ObEmuAction action)
{
        const char *name = ob_emu_action_name(action);

        if (json_object_is_type(a, json_type_string))
                return glob(json_object_get_string(a), name, true);
        if (!json_object_is_type(a, json_type_array))
                return false;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i);
                if (json_object_is_type(e, json_type_string) &&
                    glob(json_object_get_string(e), name, true))
                        return true;
        }
        return false;
}

static bool one_resource(const char *pattern, const char *arn, const ObEmuPolicyContext *ctx)
{
        char buf[MAX_EXPANDED];

        if (!expand(pattern, ctx, buf, sizeof(buf)))
                return false;
        return glob(buf, arn, false);
}

static bool resource_matches(json_object *r, const char *arn, const ObEmuPolicyContext *ctx)
{
        if (json_object_is_type(r, json_type_string))
                return one_resource(json_object_get_string(r), arn, ctx);
        if (!json_object_is_type(r, json_type_array))
                return false;
        for (size_t i = 0; i < json_object_array_length(r); i++) {
                json_object *e = json_object_array_get_idx(r, i);
                if (json_object_is_type(e, json_type_string) &&
                    one_resource(json_object_get_string(e), arn, ctx))
                        return true;
        }
        return false;
}

static json_object *statements(json_object *doc)
{
        json_object *st = NULL;

        if (!json_object_is_type(doc, json_type_object) ||
            !json_object_object_get_ex(doc, "Statement", &st))
                return NULL;
        return st;
}

static void eval_statement(json_object *s, ObEmuAction action, const char *arn,
                           const ObEmuPolicyContext *ctx, bool *allow, bool *deny)
{
        json_object *effect, *act, *res;

        if (!json_object_object_get_ex(s, "Effect", &effect) ||
            !json_object_object_get_ex(s, "Action", &act) ||
            !json_object_object_get_ex(s, "Resource", &res))
                return;
        if (!action_matches(act, action) || !resource_matches(res, arn, ctx))
                return;
        if (!strcmp(json_object_get_string(effect), "Deny"))
                *deny = true;
        else if (!strcmp(json_object_get_string(effect), "Allow"))
                *allow = true;
}

bool ob_emu_policy_allows(json_object *const *docs, size_t n_docs, ObEmuAction action,
                          const char *resource, const ObEmuPolicyContext *ctx)
{
        char arn[MAX_EXPANDED];
        bool allow = false, deny = false;
        int n;

        n = snprintf(arn, sizeof(arn), "arn:aws:iot:%s:%s:%s", ctx->region, ctx->account, resource);
        if (n < 0 || (size_t)n >= sizeof(arn))
                return false;

        for (size_t d = 0; d < n_docs; d++) {
                json_object *st = statements(docs[d]);
                if (!st)
                        continue;
                if (json_object_is_type(st, json_type_object)) {
                        eval_statement(st, action, arn, ctx, &allow, &deny);
                        continue;
                }
                if (!json_object_is_type(st, json_type_array))
                        continue;
                for (size_t i = 0; i < json_object_array_length(st); i++)
                        eval_statement(json_object_array_get_idx(st, i), action, arn, ctx, &allow,
                                       &deny);
        }
        return allow && !deny;
}

int ob_emu_policy_validate(json_object *doc)
{
        json_object *st = statements(doc);

        if (!st)
                return -EINVAL;
        if (json_object_is_type(st, json_type_object))
                return 0;
        if (!json_object_is_type(st, json_type_array) || json_object_array_length(st) == 0)
                return -EINVAL;
        for (size_t i = 0; i < json_object_array_length(st); i++) {
                json_object *s = json_object_array_get_idx(st, i), *e;
                if (!json_object_is_type(s, json_type_object) ||
                    !json_object_object_get_ex(s, "Effect", &e) ||
                    !json_object_object_get_ex(s, "Action", NULL) ||
                    !json_object_object_get_ex(s, "Resource", NULL))
                        return -EINVAL;
                if (strcmp(json_object_get_string(e), "Allow") &&
                    strcmp(json_object_get_string(e), "Deny"))
                        return -EINVAL;
        }
        return 0;
}
