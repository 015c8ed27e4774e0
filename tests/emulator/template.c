/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "template.h"

#define MAX_DEPTH  32
#define MAX_STRING 8192

typedef struct Eval {
        json_object *params;   /* resolved parameter values (strings) */
        json_object *mappings; /* may be NULL */
        char *error;
} Eval;

_printf_(2, 3) static int fail(Eval *e, const char *fmt, ...)
{
        va_list ap;

        if (e->error)
                return -EINVAL;
        va_start(ap, fmt);
        if (vasprintf(&e->error, fmt, ap) < 0)
                e->error = NULL;
        va_end(ap);
        return -EINVAL;
}

static void put(json_object **p)
{
        json_object_put(*p);
}
#define _cleanup_json_ _cleanup_(put)

json_object *ob_emu_template_parse(json_object *body)
{
        if (json_object_is_type(body, json_type_string)) {
                if (json_object_get_string_len(body) > OB_EMU_TEMPLATE_MAX_BODY)
                        return NULL;
                json_object *o = json_tokener_parse(json_object_get_string(body));
                if (!json_object_is_type(o, json_type_object)) {
                        json_object_put(o);
                        return NULL;
                }
                return o;
        }
        if (!json_object_is_type(body, json_type_object))
                return NULL;
        if (strlen(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN)) >
            OB_EMU_TEMPLATE_MAX_BODY)
                return NULL;
        return json_object_get(body);
}

static int eval(Eval *e, json_object *v, int depth, json_object **ret);

/* Evaluate and require a string result. */
static int eval_string(Eval *e, json_object *v, int depth, const char *what, char **ret)
{
        _cleanup_json_ json_object *r = NULL;
        int k = eval(e, v, depth, &r);

        if (k < 0)
                return k;
        if (!json_object_is_type(r, json_type_string))
                return fail(e, "%s must evaluate to a string", what);
        *ret = strdup(json_object_get_string(r));
        return *ret ? 0 : -ENOMEM;
}

static int eval_list(Eval *e, json_object *v, int depth, const char *what, json_object **ret)
{
        _cleanup_json_ json_object *r = NULL;
        int k = eval(e, v, depth, &r);

        if (k < 0)
                return k;
        if (!json_object_is_type(r, json_type_array))
                return fail(e, "%s must evaluate to a list", what);
        *ret = TAKE_PTR(r);
        return 0;
}

static int fn_ref(Eval *e, json_object *arg, json_object **ret)
{
        json_object *v;

        if (!json_object_is_type(arg, json_type_string))
                return fail(e, "Ref takes a parameter name");
        if (!json_object_object_get_ex(e->params, json_object_get_string(arg), &v))
                return fail(e, "Ref to undefined parameter '%s'", json_object_get_string(arg));
        *ret = json_object_get(v);
        return 0;
}

static int fn_join(Eval *e, json_object *arg, int depth, json_object **ret)
{
        _cleanup_free_ char *delim = NULL, *out = NULL;
        _cleanup_json_ json_object *parts = NULL;
        size_t len = 0;
        int k;

        if (!json_object_is_type(arg, json_type_array) || json_object_array_length(arg) != 2)
                return fail(e, "Fn::Join takes [delimiter, [values]]");
        k = eval_string(e, json_object_array_get_idx(arg, 0), depth, "Fn::Join delimiter", &delim);
        if (k < 0)
                return k;
        k = eval_list(e, json_object_array_get_idx(arg, 1), depth, "Fn::Join values", &parts);
        if (k < 0)
                return k;
        out = strdup("");
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < json_object_array_length(parts); i++) {
                json_object *p = json_object_array_get_idx(parts, i);
                if (!json_object_is_type(p, json_type_string))
                        return fail(e, "Fn::Join values must be strings");
                const char *s = json_object_get_string(p);
                size_t add = strlen(s) + (i ? strlen(delim) : 0);
                if (len + add > MAX_STRING)
                        return fail(e, "Fn::Join result too long");
                char *n = realloc(out, len + add + 1);
                if (!n)
                        return -ENOMEM;
                out = n;
                if (i)
                        strcpy(out + len, delim), len += strlen(delim);
                strcpy(out + len, s);
                len += strlen(s);
        }
        *ret = json_object_new_string(out);
        return *ret ? 0 : -ENOMEM;
}

static int fn_select(Eval *e, json_object *arg, int depth, json_object **ret)
{
        _cleanup_json_ json_object *idx = NULL, *list = NULL;
        int64_t i;
        int k;

        if (!json_object_is_type(arg, json_type_array) || json_object_array_length(arg) != 2)
                return fail(e, "Fn::Select takes [index, [values]]");
        k = eval(e, json_object_array_get_idx(arg, 0), depth, &idx);
        if (k < 0)
                return k;
        if (json_object_is_type(idx, json_type_int)) {
                i = json_object_get_int64(idx);
        } else if (json_object_is_type(idx, json_type_string)) {
                char *end;
                const char *s = json_object_get_string(idx);
                errno = 0;
                i = strtoll(s, &end, 10);
                if (errno || end == s || *end)
                        return fail(e, "Fn::Select index '%s' is not a number", s);
        } else {
                return fail(e, "Fn::Select index must be a number");
        }
        k = eval_list(e, json_object_array_get_idx(arg, 1), depth, "Fn::Select values", &list);
        if (k < 0)
                return k;
        if (i < 0 || (size_t)i >= json_object_array_length(list))
                return fail(e, "Fn::Select index %lld out of range", (long long)i);
        *ret = json_object_get(json_object_array_get_idx(list, (size_t)i));
        return 0;
}

static int fn_split(Eval *e, json_object *arg, int depth, json_object **ret)
{
        _cleanup_free_ char *delim = NULL, *s = NULL;
        _cleanup_json_ json_object *list = NULL;
        int k;

        if (!json_object_is_type(arg, json_type_array) || json_object_array_length(arg) != 2)
                return fail(e, "Fn::Split takes [delimiter, string]");
        k = eval_string(e, json_object_array_get_idx(arg, 0), depth, "Fn::Split delimiter", &delim);
        if (k < 0)
                return k;
        k = eval_string(e, json_object_array_get_idx(arg, 1), depth, "Fn::Split source", &s);
        if (k < 0)
                return k;
        if (!*delim)
                return fail(e, "Fn::Split delimiter must not be empty");
        list = json_object_new_array();
        if (!list)
                return -ENOMEM;
        for (char *p = s;;) {
                char *q = strstr(p, delim);
                if (q)
                        *q = '\0';
                if (json_object_array_add(list, json_object_new_string(p)) < 0)
                        return -ENOMEM;
                if (json_object_array_length(list) > 1024)
                        return fail(e, "Fn::Split produces too many parts");
                if (!q)
                        break;
                p = q + strlen(delim);
        }
        *ret = TAKE_PTR(list);
        return 0;
}

static int fn_find_in_map(Eval *e, json_object *arg, int depth, json_object **ret)
{
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        json_object *m, *top, *v;
        int k;

        if (!json_object_is_type(arg, json_type_array) || json_object_array_length(arg) != 3)
                return fail(e, "Fn::FindInMap takes [map, topKey, secondKey]");
        k = eval_string(e, json_object_array_get_idx(arg, 0), depth, "Fn::FindInMap map", &a);
        if (k >= 0)
                k = eval_string(e, json_object_array_get_idx(arg, 1), depth, "Fn::FindInMap key",
                                &b);
        if (k >= 0)
                k = eval_string(e, json_object_array_get_idx(arg, 2), depth, "Fn::FindInMap key",
                                &c);
        if (k < 0)
                return k;
        if (!e->mappings || !json_object_object_get_ex(e->mappings, a, &m) ||
            !json_object_object_get_ex(m, b, &top) || !json_object_object_get_ex(top, c, &v))
                return fail(e, "Fn::FindInMap: no value for [%s, %s, %s]", a, b, c);
        *ret = json_object_get(v);
        return 0;
}

static int fn_sub(Eval *e, json_object *arg, int depth, json_object **ret)
{
        _cleanup_free_ char *out = NULL, *src = NULL;
        json_object *vars = NULL;
        size_t len = 0;
        int k;

        if (json_object_is_type(arg, json_type_array)) {
                if (json_object_array_length(arg) != 2 ||
                    !json_object_is_type(json_object_array_get_idx(arg, 1), json_type_object))
                        return fail(e, "Fn::Sub takes a string or [string, {variables}]");
                vars = json_object_array_get_idx(arg, 1);
                arg = json_object_array_get_idx(arg, 0);
        }
        if (!json_object_is_type(arg, json_type_string))
                return fail(e, "Fn::Sub takes a string");
        src = strdup(json_object_get_string(arg));
        out = calloc(1, 1);
        if (!src || !out)
                return -ENOMEM;
        for (const char *p = src; *p;) {
                _cleanup_free_ char *val = NULL;
                const char *piece = p;
                size_t plen = 1;

                if (p[0] == '$' && p[1] == '{') {
                        const char *end = strchr(p, '}');
                        json_object *v = NULL;
                        if (!end)
                                return fail(e, "Fn::Sub: unterminated ${");
                        _cleanup_free_ char *name = strndup(p + 2, (size_t)(end - p - 2));
                        if (!name)
                                return -ENOMEM;
                        if (vars && json_object_object_get_ex(vars, name, &v)) {
                                k = eval_string(e, v, depth, "Fn::Sub variable", &val);
                                if (k < 0)
                                        return k;
                        } else if (json_object_object_get_ex(e->params, name, &v) &&
                                   json_object_is_type(v, json_type_string)) {
                                val = strdup(json_object_get_string(v));
                                if (!val)
                                        return -ENOMEM;
                        } else {
                                return fail(e, "Fn::Sub: undefined variable '%s'", name);
                        }
                        piece = val;
                        plen = strlen(val);
                        p = end + 1;
                } else {
                        p++;
                }
                if (len + plen > MAX_STRING)
                        return fail(e, "Fn::Sub result too long");
                char *n = realloc(out, len + plen + 1);
                if (!n)
                        return -ENOMEM;
                out = n;
                memcpy(out + len, piece, plen);
                len += plen;
                out[len] = '\0';
        }
        *ret = json_object_new_string(out);
        return *ret ? 0 : -ENOMEM;
}

static int eval(Eval *e, json_object *v, int depth, json_object **ret)
{
        if (depth > MAX_DEPTH)
                return fail(e, "template nested too deeply");
        depth++;

        if (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 1) {
                json_object_object_foreach(v, key, arg)
                {
                        if (!strcmp(key, "Ref"))
                                return fn_ref(e, arg, ret);
                        if (!strcmp(key, "Fn::Join"))
                                return fn_join(e, arg, depth, ret);
                        if (!strcmp(key, "Fn::Select"))
                                return fn_select(e, arg, depth, ret);
                        if (!strcmp(key, "Fn::Split"))
                                return fn_split(e, arg, depth, ret);
                        if (!strcmp(key, "Fn::FindInMap"))
                                return fn_find_in_map(e, arg, depth, ret);
                        if (!strcmp(key, "Fn::Sub"))
                                return fn_sub(e, arg, depth, ret);
                        if (!strncmp(key, "Fn::", 4))
                                return fail(e, "unsupported intrinsic function '%s'", key);
                }
        }
        if (json_object_is_type(v, json_type_object)) {
                _cleanup_json_ json_object *o = json_object_new_object();
                if (!o)
                        return -ENOMEM;
                json_object_object_foreach(v, key, val)
                {
                        json_object *r = NULL;
                        int k = eval(e, val, depth, &r);
                        if (k < 0)
                                return k;
                        json_object_object_add(o, key, r);
                }
                *ret = TAKE_PTR(o);
                return 0;
        }
        if (json_object_is_type(v, json_type_array)) {
                _cleanup_json_ json_object *a = json_object_new_array();
                if (!a)
                        return -ENOMEM;
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        json_object *r = NULL;
                        int k = eval(e, json_object_array_get_idx(v, i), depth, &r);
                        if (k < 0)
                                return k;
                        json_object_array_add(a, r);
                }
                *ret = TAKE_PTR(a);
                return 0;
        }
        *ret = json_object_get(v);
        return 0;
}

static int resolve_parameters(Eval *e, json_object *tmpl, json_object *given)
{
        json_object *decl;

        e->params = json_object_new_object();
        if (!e->params)
                return -ENOMEM;
        if (!json_object_object_get_ex(tmpl, "Parameters", &decl))
                return 0;
        if (!json_object_is_type(decl, json_type_object))
                return fail(e, "Parameters must be an object");
        json_object_object_foreach(decl, name, spec)
        {
                json_object *v = NULL, *type;
                if (!json_object_is_type(spec, json_type_object))
                        return fail(e, "Parameter '%s' must be an object", name);
                if (json_object_object_get_ex(spec, "Type", &type) &&
                    (!json_object_is_type(type, json_type_string) ||
                     strcmp(json_object_get_string(type), "String")))
                        return fail(e, "Parameter '%s': only Type String is supported", name);
                if (!(given && json_object_object_get_ex(given, name, &v)) &&
                    !json_object_object_get_ex(spec, "Default", &v))
                        return fail(e, "Parameter '%s' is required but was not provided", name);
                if (!json_object_is_type(v, json_type_string))
                        return fail(e, "Parameter '%s' must be a string", name);
                json_object_object_add(e->params, name, json_object_get(v));
        }
        return 0;
}

static int opt_string(Eval *e, json_object *props, const char *key, char **ret)
{
        json_object *v;

        if (!json_object_object_get_ex(props, key, &v))
                return 0;
        return eval_string(e, v, 0, key, ret);
}

static int do_thing(Eval *e, json_object *res, json_object *props, ObEmuTemplateResult *r)
{
        json_object *v, *ov;
        int k;

        if (r->thing_name)
                return fail(e, "more than one AWS::IoT::Thing resource");
        k = opt_string(e, props, "ThingName", &r->thing_name);
        if (k < 0)
                return k;
        if (!r->thing_name || !*r->thing_name || strlen(r->thing_name) > 128)
                return fail(e, "ThingName missing or invalid");
        for (const char *p = r->thing_name; *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr(":_-", *p))
                        return fail(e, "ThingName '%s' has invalid characters", r->thing_name);
        k = opt_string(e, props, "ThingTypeName", &r->thing_type);
        if (k < 0)
                return k;
        if (json_object_object_get_ex(props, "AttributePayload", &v)) {
                k = eval(e, v, 0, &r->thing_attributes);
                if (k < 0)
                        return k;
                if (!json_object_is_type(r->thing_attributes, json_type_object))
                        return fail(e, "AttributePayload must be an object");
        }
        if (json_object_object_get_ex(props, "ThingGroups", &v)) {
                k = eval_list(e, v, 0, "ThingGroups", &r->thing_groups);
                if (k < 0)
                        return k;
        }
        if (json_object_object_get_ex(res, "OverrideSettings", &ov)) {
                if (!json_object_is_type(ov, json_type_object))
                        return fail(e, "OverrideSettings must be an object");
                r->thing_override = json_object_get(ov);
        }
        return 0;
}

static int do_certificate(Eval *e, json_object *props, ObEmuTemplateResult *r)
{
        _cleanup_free_ char *status = NULL;
        int k;

        if (r->certificate_id)
                return fail(e, "more than one AWS::IoT::Certificate resource");
        if (json_object_object_get_ex(props, "CertificateSigningRequest", NULL) ||
            json_object_object_get_ex(props, "CertificatePem", NULL))
                return fail(e, "this template type only supports the CertificateId property");
        k = opt_string(e, props, "CertificateId", &r->certificate_id);
        if (k < 0)
                return k;
        if (!r->certificate_id)
                return fail(e, "AWS::IoT::Certificate needs CertificateId");
        k = opt_string(e, props, "Status", &status);
        if (k < 0)
                return k;
        if (!status)
                status = strdup("ACTIVE");
        if (!status)
                return -ENOMEM;
        for (char *p = status; *p; p++)
                *p = (char)toupper((unsigned char)*p);
        if (strcmp(status, "ACTIVE") && strcmp(status, "INACTIVE"))
                return fail(e, "Certificate Status '%s' is not ACTIVE or INACTIVE", status);
        r->certificate_status = TAKE_PTR(status);
        return 0;
}

static int do_policy(Eval *e, json_object *props, ObEmuTemplateResult *r)
{
        ObEmuTemplatePolicy *p;
        json_object *doc;
        bool has_doc;
        int k;

        if (r->n_policies >= OB_EMU_TEMPLATE_MAX_POLICIES)
                return fail(e, "too many AWS::IoT::Policy resources");
        p = &r->policies[r->n_policies];
        has_doc = json_object_object_get_ex(props, "PolicyDocument", &doc);
        k = opt_string(e, props, "PolicyName", &p->name);
        if (k < 0)
                return k;
        if (!!p->name == has_doc) {
                free(p->name);
                p->name = NULL;
                return fail(e, "AWS::IoT::Policy needs exactly one of PolicyName, PolicyDocument");
        }
        r->n_policies++;
        if (!has_doc)
                return 0;
        _cleanup_json_ json_object *d = NULL;
        k = eval(e, doc, 0, &d);
        if (k < 0)
                return k;
        if (json_object_is_type(d, json_type_string)) {
                p->document = json_tokener_parse(json_object_get_string(d));
                if (!json_object_is_type(p->document, json_type_object))
                        return fail(e, "PolicyDocument is not valid JSON");
        } else if (json_object_is_type(d, json_type_object)) {
                p->document = TAKE_PTR(d);
        } else {
                return fail(e, "PolicyDocument must be an object or a JSON string");
        }
        return 0;
}

static int do_device_configuration(Eval *e, json_object *tmpl, ObEmuTemplateResult *r)
{
        json_object *dc;
        _cleanup_json_ json_object *ev = NULL;
        int k;

        r->device_configuration = json_object_new_object();
        if (!r->device_configuration)
                return -ENOMEM;
        if (!json_object_object_get_ex(tmpl, "DeviceConfiguration", &dc))
                return 0;
        k = eval(e, dc, 0, &ev);
        if (k < 0)
                return k;
        if (!json_object_is_type(ev, json_type_object))
                return fail(e, "DeviceConfiguration must be an object");
        json_object_object_foreach(ev, key, val)
        {
                if (json_object_is_type(val, json_type_object) ||
                    json_object_is_type(val, json_type_array))
                        return fail(e, "DeviceConfiguration '%s': nested values not supported",
                                    key);
                json_object_object_add(r->device_configuration, key,
                                       json_object_new_string(json_object_get_string(val)));
        }
        return 0;
}

int ob_emu_template_run(json_object *tmpl, json_object *params, ObEmuTemplateResult *ret,
                        char **ret_error)
{
        Eval e = {};
        ObEmuTemplateResult r = {};
        json_object *resources;
        int k;

        *ret_error = NULL;
        if (!json_object_is_type(tmpl, json_type_object)) {
                k = fail(&e, "template is not a JSON object");
                goto out;
        }
        if (json_object_object_get_ex(tmpl, "Mappings", &e.mappings) &&
            !json_object_is_type(e.mappings, json_type_object)) {
                k = fail(&e, "Mappings must be an object");
                goto out;
        }
        k = resolve_parameters(&e, tmpl, params);
        if (k < 0)
                goto out;
        if (!json_object_object_get_ex(tmpl, "Resources", &resources) ||
            !json_object_is_type(resources, json_type_object)) {
                k = fail(&e, "template has no Resources object");
                goto out;
        }
        json_object_object_foreach(resources, logical, res)
        {
                json_object *type, *props = NULL;
                const char *t;

                if (!json_object_is_type(res, json_type_object) ||
                    !json_object_object_get_ex(res, "Type", &type) ||
                    !json_object_is_type(type, json_type_string)) {
                        k = fail(&e, "resource '%s' has no Type", logical);
                        goto out;
                }
                if (!json_object_object_get_ex(res, "Properties", &props) ||
                    !json_object_is_type(props, json_type_object)) {
                        k = fail(&e, "resource '%s' has no Properties object", logical);
                        goto out;
                }
                t = json_object_get_string(type);
                if (!strcmp(t, "AWS::IoT::Thing"))
                        k = do_thing(&e, res, props, &r);
                else if (!strcmp(t, "AWS::IoT::Certificate"))
                        k = do_certificate(&e, props, &r);
                else if (!strcmp(t, "AWS::IoT::Policy"))
                        k = do_policy(&e, props, &r);
                else
                        k = fail(&e, "resource '%s' has unsupported Type '%s'", logical, t);
                if (k < 0)
                        goto out;
        }
        k = do_device_configuration(&e, tmpl, &r);
out:
        json_object_put(e.params);
        if (k < 0) {
                ob_emu_template_result_done(&r);
                if (!e.error)
                        e.error = strdup(k == -ENOMEM ? "out of memory" : "template error");
                *ret_error = e.error;
                return k == -ENOMEM ? -ENOMEM : -EINVAL;
        }
        free(e.error);
        *ret = r;
        return 0;
}

void ob_emu_template_result_done(ObEmuTemplateResult *r)
{
        if (!r)
                return;
        free(r->thing_name);
        json_object_put(r->thing_attributes);
        free(r->thing_type);
        json_object_put(r->thing_groups);
        json_object_put(r->thing_override);
        free(r->certificate_id);
        free(r->certificate_status);
        for (size_t i = 0; i < r->n_policies; i++) {
                free(r->policies[i].name);
                json_object_put(r->policies[i].document);
        }
        json_object_put(r->device_configuration);
        *r = (ObEmuTemplateResult){};
}
