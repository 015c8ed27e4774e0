/* SPDX-License-Identifier: Apache-2.0 */
/* AWS IoT Device Shadow documents for the emulator: see shadow.h. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "shadow.h"

void ob_emu_shadow_answer_clear(ObEmuShadowAnswer *a)
{
        json_object_put(a->accepted);
        json_object_put(a->documents);
        json_object_put(a->delta);
        json_object_put(a->stored);
        *a = (ObEmuShadowAnswer){0};
}

int ob_emu_shadow_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n > OB_EMU_SHADOW_MAX_NAME)
                return 0;
        return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-") ==
               n;
}

static json_object *member(json_object *o, const char *key)
{
        json_object *v = NULL;

        return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v)
                       ? v
                       : NULL;
}

static bool has_member(json_object *o, const char *key)
{
        return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, NULL);
}

static void add_token(json_object *o, json_object *req)
{
        json_object *t = member(req, "clientToken");

        if (t)
                json_object_object_add(o, "clientToken", json_object_get(t));
}

static int fail(ObEmuShadowAnswer *a, int code, const char *message, json_object *req,
                int64_t now_s)
{
        json_object *e = json_object_new_object();

        json_object_object_add(e, "code", json_object_new_int(code));
        json_object_object_add(e, "message", json_object_new_string(message));
        json_object_object_add(e, "timestamp", json_object_new_int64(now_s));
        add_token(e, req);
        a->accepted = e;
        a->code = code;
        return code;
}

/* Parse a request payload: NULL with *err set when it is not a JSON object (an empty payload is
 * an empty object when empty_ok). */
static json_object *parse(const char *payload, size_t len, bool empty_ok, const char **err)
{
        json_tokener *tok;
        json_object *o;

        *err = NULL;
        if (len == 0 && empty_ok)
                return json_object_new_object();
        tok = json_tokener_new();
        o = tok ? json_tokener_parse_ex(tok, payload, (int)len) : NULL;
        if (!tok || json_tokener_get_error(tok) != json_tokener_success ||
            !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                o = NULL;
                *err = "Invalid JSON";
        }
        json_tokener_free(tok);
        return o;
}

/* The clientToken, when present, must be a string of at most 64 bytes. */
static bool token_ok(json_object *req)
{
        json_object *t = member(req, "clientToken");

        return !t || (json_object_is_type(t, json_type_string) &&
                      json_object_get_string_len(t) <= OB_EMU_SHADOW_MAX_TOKEN);
}

static int depth(json_object *o)
{
        int d = 0;

        if (json_object_is_type(o, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        int k = depth(json_object_array_get_idx(o, i));
                        d = k > d ? k : d;
                }
                return d + 1;
        }
        if (!json_object_is_type(o, json_type_object))
                return 0;
        json_object_object_foreach(o, key, v)
        {
                int k = depth(v);
                (void)key;
                d = k > d ? k : d;
        }
        return d + 1;
}

/* Merge patch into doc (objects merge, null deletes, anything else replaces) and the matching
 * leaves of meta get {"timestamp": now}. */
static void merge(json_object *doc, json_object *meta, json_object *patch, int64_t now_s)
{
        json_object_object_foreach(patch, key, v)
        {
                json_object *cur = member(doc, key), *m = member(meta, key);

                if (!v) {
                        json_object_object_del(doc, key);
                        json_object_object_del(meta, key);
                } else if (json_object_is_type(v, json_type_object)) {
                        if (!json_object_is_type(cur, json_type_object)) {
                                cur = json_object_new_object();
                                json_object_object_add(doc, key, cur);
                        }
                        if (!json_object_is_type(m, json_type_object) ||
                            has_member(m, "timestamp")) {
                                m = json_object_new_object();
                                json_object_object_add(meta, key, m);
                        }
                        merge(cur, m, v, now_s);
                } else {
                        json_object *t = json_object_new_object();

                        json_object_object_add(doc, key, json_object_get(v));
                        json_object_object_add(t, "timestamp", json_object_new_int64(now_s));
                        json_object_object_add(meta, key, t);
                }
        }
}

/* Metadata for what a request sent: the same tree, {"timestamp"} at each leaf (null included). */
static json_object *stamp(json_object *sent, int64_t now_s)
{
        json_object *o = json_object_new_object();

        json_object_object_foreach(sent, key, v)
        {
                if (json_object_is_type(v, json_type_object))
                        json_object_object_add(o, key, stamp(v, now_s));
                else {
                        json_object *t = json_object_new_object();
                        json_object_object_add(t, "timestamp", json_object_new_int64(now_s));
                        json_object_object_add(o, key, t);
                }
        }
        return o;
}

/* The members of desired whose value differs from reported's (objects compared member by
 * member); NULL when none. */
static json_object *delta_of(json_object *desired, json_object *reported)
{
        json_object *d = NULL;

        if (!json_object_is_type(desired, json_type_object))
                return NULL;
        json_object_object_foreach(desired, key, v)
        {
                json_object *r = member(reported, key), *sub;

                if (json_object_is_type(v, json_type_object) &&
                    json_object_is_type(r, json_type_object))
                        sub = delta_of(v, r);
                else
                        sub = json_object_equal(v, r) ? NULL : json_object_get(v);
                if (!sub)
                        continue;
                if (!d)
                        d = json_object_new_object();
                json_object_object_add(d, key, sub);
        }
        return d;
}

/* A copy of the metadata for the members of delta (the desired side's timestamps). */
static json_object *meta_for(json_object *delta, json_object *meta)
{
        json_object *o = json_object_new_object();

        json_object_object_foreach(delta, key, v)
        {
                json_object *m = member(meta, key);

                if (json_object_is_type(v, json_type_object) &&
                    json_object_is_type(m, json_type_object) && !has_member(m, "timestamp"))
                        json_object_object_add(o, key, meta_for(v, m));
                else if (m)
                        json_object_object_add(o, key, json_object_get(m));
        }
        return o;
}

static json_object *copy(json_object *o)
{
        json_object *c = NULL;

        if (o && json_object_deep_copy(o, &c, NULL) < 0)
                return NULL;
        return c;
}

/* {"state": ..., "metadata": ..., "version": N}: what /update/documents shows of a document. */
static json_object *doc_view(json_object *stored)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "state", copy(member(stored, "state")));
        json_object_object_add(o, "metadata", copy(member(stored, "metadata")));
        json_object_object_add(o, "version", copy(member(stored, "version")));
        return o;
}

/* Drop an emptied desired or reported section (AWS shows no empty section). */
static void prune(json_object *stored, const char *section)
{
        json_object *s = member(member(stored, "state"), section);

        if (s && json_object_object_length(s) == 0) {
                json_object_object_del(member(stored, "state"), section);
                json_object_object_del(member(stored, "metadata"), section);
        }
}

static const char *check_state(json_object *state)
{
        if (!state)
                return "Missing required node: state";
        if (!json_object_is_type(state, json_type_object))
                return "State node must be an object";
        json_object_object_foreach(state, key, v)
        {
                if (strcmp(key, "desired") && strcmp(key, "reported"))
                        return "State contains an invalid node";
                if (v && !json_object_is_type(v, json_type_object))
                        return strcmp(key, "desired") ? "Reported node must be an object"
                                                      : "Desired node must be an object";
                if (depth(v) > OB_EMU_SHADOW_MAX_DEPTH)
                        return "JSON contains too many levels of nesting; maximum is 6";
        }
        return NULL;
}

int ob_emu_shadow_update(json_object *stored, const char *payload, size_t len, int64_t now_s,
                         ObEmuShadowAnswer *a)
{
        json_object *req, *state, *v, *doc, *meta, *ver;
        const char *err;
        int64_t version = json_object_get_int64(member(stored, "version"));

        *a = (ObEmuShadowAnswer){0};
        if (len > OB_EMU_SHADOW_MAX_DOCUMENT)
                return fail(a, 413, "The payload exceeds the maximum size allowed", NULL, now_s);
        req = parse(payload, len, false, &err);
        if (!req)
                return fail(a, 400, err, NULL, now_s);
        if (!token_ok(req)) {
                json_object_put(req);
                return fail(a, 400, "Invalid clientToken", NULL, now_s);
        }
        state = member(req, "state");
        err = check_state(state);
        ver = member(req, "version");
        if (!err && ver && !json_object_is_type(ver, json_type_int))
                err = "Invalid version";
        if (err) {
                fail(a, 400, err, req, now_s);
                json_object_put(req);
                return a->code;
        }
        if (ver && stored && json_object_get_int64(ver) != version) {
                fail(a, 409, "Version conflict", req, now_s);
                json_object_put(req);
                return a->code;
        }

        doc = stored ? copy(stored) : json_object_new_object();
        if (!member(doc, "state"))
                json_object_object_add(doc, "state", json_object_new_object());
        if (!member(doc, "metadata"))
                json_object_object_add(doc, "metadata", json_object_new_object());
        meta = member(doc, "metadata");
        json_object_object_foreach(state, section, patch)
        {
                json_object *s = member(member(doc, "state"), section), *m = member(meta, section);

                if (!patch) {
                        json_object_object_del(member(doc, "state"), section);
                        json_object_object_del(meta, section);
                        continue;
                }
                if (!s) {
                        s = json_object_new_object();
                        json_object_object_add(member(doc, "state"), section, s);
                }
                if (!m) {
                        m = json_object_new_object();
                        json_object_object_add(meta, section, m);
                }
                merge(s, m, patch, now_s);
        }
        prune(doc, "desired");
        prune(doc, "reported");
        if (strlen(json_object_to_json_string(member(doc, "state"))) > OB_EMU_SHADOW_MAX_STATE) {
                json_object_put(doc);
                fail(a, 413, "The payload exceeds the maximum size allowed", req, now_s);
                json_object_put(req);
                return a->code;
        }
        json_object_object_add(doc, "version", json_object_new_int64(version + 1));

        a->accepted = json_object_new_object();
        json_object_object_add(a->accepted, "state", json_object_get(state));
        v = json_object_new_object();
        json_object_object_foreach(state, sec, sent)
        {
                json_object_object_add(
                        v, sec,
                        json_object_is_type(sent, json_type_object) ? stamp(sent, now_s) : NULL);
        }
        json_object_object_add(a->accepted, "metadata", v);
        json_object_object_add(a->accepted, "version", json_object_new_int64(version + 1));
        json_object_object_add(a->accepted, "timestamp", json_object_new_int64(now_s));
        add_token(a->accepted, req);

        a->documents = json_object_new_object();
        if (stored)
                json_object_object_add(a->documents, "previous", doc_view(stored));
        json_object_object_add(a->documents, "current", doc_view(doc));
        json_object_object_add(a->documents, "timestamp", json_object_new_int64(now_s));
        add_token(a->documents, req);

        if (json_object_is_type(member(state, "desired"), json_type_object)) {
                json_object *d = delta_of(member(member(doc, "state"), "desired"),
                                          member(member(doc, "state"), "reported"));
                if (d) {
                        a->delta = json_object_new_object();
                        json_object_object_add(a->delta, "version",
                                               json_object_new_int64(version + 1));
                        json_object_object_add(a->delta, "timestamp", json_object_new_int64(now_s));
                        json_object_object_add(a->delta, "state", d);
                        json_object_object_add(a->delta, "metadata",
                                               meta_for(d, member(meta, "desired")));
                        add_token(a->delta, req);
                }
        }
        a->stored = doc;
        json_object_put(req);
        return 0;
}

/* Parse a GET or DELETE payload (empty, or an object with a clientToken); 0 or an error set. */
static json_object *simple_request(const char *payload, size_t len, int64_t now_s,
                                   ObEmuShadowAnswer *a)
{
        const char *err;
        json_object *req = parse(payload, len, true, &err);

        *a = (ObEmuShadowAnswer){0};
        if (!req)
                fail(a, 400, err, NULL, now_s);
        else if (!token_ok(req)) {
                json_object_put(req);
                req = NULL;
                fail(a, 400, "Invalid clientToken", NULL, now_s);
        }
        return req;
}

static int not_found(ObEmuShadowAnswer *a, const char *name, json_object *req, int64_t now_s)
{
        char msg[256];

        snprintf(msg, sizeof(msg), "No shadow exists with name: '%s'", name);
        fail(a, 404, msg, req, now_s);
        json_object_put(req);
        return 404;
}

int ob_emu_shadow_get(json_object *stored, const char *payload, size_t len, const char *name,
                      int64_t now_s, ObEmuShadowAnswer *a)
{
        json_object *req = simple_request(payload, len, now_s, a), *state, *d;

        if (!req)
                return a->code;
        if (!stored)
                return not_found(a, name, req, now_s);
        a->accepted = json_object_new_object();
        state = copy(member(stored, "state"));
        if (!state)
                state = json_object_new_object();
        d = delta_of(member(state, "desired"), member(state, "reported"));
        if (d)
                json_object_object_add(state, "delta", d);
        json_object_object_add(a->accepted, "state", state);
        json_object_object_add(a->accepted, "metadata", copy(member(stored, "metadata")));
        json_object_object_add(a->accepted, "version", copy(member(stored, "version")));
        json_object_object_add(a->accepted, "timestamp", json_object_new_int64(now_s));
        add_token(a->accepted, req);
        json_object_put(req);
        return 0;
}

int ob_emu_shadow_delete(json_object *stored, const char *payload, size_t len, const char *name,
                         int64_t now_s, ObEmuShadowAnswer *a)
{
        json_object *req = simple_request(payload, len, now_s, a);

        if (!req)
                return a->code;
        if (!stored)
                return not_found(a, name, req, now_s);
        a->accepted = json_object_new_object();
        json_object_object_add(a->accepted, "version", copy(member(stored, "version")));
        json_object_object_add(a->accepted, "timestamp", json_object_new_int64(now_s));
        add_token(a->accepted, req);
        json_object_put(req);
        return 0;
}
