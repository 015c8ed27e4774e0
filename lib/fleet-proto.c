/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cbor.h"
#include "fleet-proto.h"
#include "macro.h"

#define MAX_FIELD       (64 * 1024) /* certificates and keys are a few KiB */
#define MAX_CONFIG_KEYS 256

bool ob_fleet_template_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;
        if (n < 1 || n > OB_FLEET_TEMPLATE_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}

int ob_fleet_topic(ObFleetOp op, ObFleetFormat fmt, const char *template_name,
                   ObFleetTopicKind kind, char *buf, size_t size)
{
        const char *f = fmt == OB_FLEET_CBOR ? "cbor" : "json";
        const char *suffix = kind == OB_FLEET_ACCEPTED   ? "/accepted"
                             : kind == OB_FLEET_REJECTED ? "/rejected"
                                                         : "";
        int n = -1;

        switch (op) {
        case OB_FLEET_CREATE_FROM_CSR:
                n = snprintf(buf, size, "$aws/certificates/create-from-csr/%s%s", f, suffix);
                break;
        case OB_FLEET_CREATE_KEYS:
                n = snprintf(buf, size, "$aws/certificates/create/%s%s", f, suffix);
                break;
        case OB_FLEET_REGISTER_THING:
                if (!ob_fleet_template_name_valid(template_name))
                        return -EINVAL;
                n = snprintf(buf, size, "$aws/provisioning-templates/%s/provision/%s%s",
                             template_name, f, suffix);
                break;
        }
        if (n < 0)
                return -EINVAL;
        return (size_t)n >= size ? -ENOBUFS : 0;
}

/* Serialize o in the wire format; consumes the reference. */
static int encode(ObFleetFormat fmt, json_object *o, uint8_t **ret, size_t *ret_len)
{
        int r = 0;
        if (!o)
                return -ENOMEM;
        if (fmt == OB_FLEET_CBOR)
                r = ob_cbor_encode(o, ret, ret_len);
        else {
                const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                *ret = (uint8_t *)(s ? strdup(s) : NULL);
                if (*ret)
                        *ret_len = strlen(s);
                else
                        r = -ENOMEM;
        }
        json_object_put(o);
        return r;
}

static int add_string(json_object *o, const char *key, const char *value)
{
        json_object *v = json_object_new_string(value);
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int ob_fleet_build_create_from_csr(ObFleetFormat fmt, const char *csr_pem, uint8_t **ret,
                                   size_t *ret_len)
{
        json_object *o = json_object_new_object();
        if (!csr_pem || !*csr_pem) {
                json_object_put(o);
                return -EINVAL;
        }
        if (o && add_string(o, "certificateSigningRequest", csr_pem) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        return encode(fmt, o, ret, ret_len);
}

int ob_fleet_build_create_keys(ObFleetFormat fmt, uint8_t **ret, size_t *ret_len)
{
        return encode(fmt, json_object_new_object(), ret, ret_len); /* "{}" / empty map */
}

int ob_fleet_build_register_thing(ObFleetFormat fmt, const char *ownership_token,
                                  const char *const *params, uint8_t **ret, size_t *ret_len)
{
        json_object *o = json_object_new_object(), *p = NULL;
        int r = -ENOMEM;

        if (!ownership_token || !*ownership_token) {
                r = -EINVAL;
                goto fail;
        }
        if (!o || add_string(o, "certificateOwnershipToken", ownership_token) < 0)
                goto fail;
        if (params && params[0]) {
                if (!(p = json_object_new_object()))
                        goto fail;
                for (size_t i = 0; params[i]; i += 2) {
                        if (!params[i + 1]) {
                                r = -EINVAL;
                                goto fail;
                        }
                        if (add_string(p, params[i], params[i + 1]) < 0)
                                goto fail;
                }
                if (json_object_object_add(o, "parameters", p) < 0)
                        goto fail;
                p = NULL;
        }
        return encode(fmt, o, ret, ret_len);
fail:
        json_object_put(p);
        json_object_put(o);
        return r;
}

/* Decode a reply into a JSON object (never anything else). */
static int decode(ObFleetFormat fmt, const void *payload, size_t len, json_object **ret)
{
        json_object *o = NULL;

        if (len > OB_FLEET_MAX_PAYLOAD)
                return -EMSGSIZE;
        if (!payload || len == 0)
                return -EBADMSG; /* nothing is not an object (and memchr() wants a buffer) */
        if (fmt == OB_FLEET_CBOR) {
                if (ob_cbor_decode(payload, len, &o) < 0)
                        return -EBADMSG;
        } else {
                if (memchr(payload, 0, len))
                        return -EBADMSG;
                json_tokener *tok = json_tokener_new_ex(32);
                if (!tok)
                        return -ENOMEM;
                json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
                o = json_tokener_parse_ex(tok, payload, (int)len);
                bool complete = json_tokener_get_error(tok) == json_tokener_success &&
                                json_tokener_get_parse_end(tok) == len;
                json_tokener_free(tok);
                if (!o || !complete) {
                        json_object_put(o);
                        return -EBADMSG;
                }
        }
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

/* A required (or optional) string field, bounded, without NUL; copied. */
static int get_string(json_object *o, const char *key, bool required, size_t max, char **ret)
{
        json_object *v;
        *ret = NULL;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return required ? -EPROTO : 0;
        if (!json_object_is_type(v, json_type_string))
                return -EPROTO;
        size_t n = (size_t)json_object_get_string_len(v);
        const char *s = json_object_get_string(v);
        if (n == 0 || n > max || memchr(s, 0, n))
                return -EPROTO;
        *ret = strndup(s, n);
        return *ret ? 0 : -ENOMEM;
}

void ob_fleet_cert_reply_clear(ObFleetCertReply *r)
{
        free(r->certificate_id);
        free(r->certificate_pem);
        r->private_key = ob_secret_free(r->private_key);
        r->ownership_token = ob_secret_free(r->ownership_token);
        memset(r, 0, sizeof(*r));
}

void ob_fleet_register_reply_clear(ObFleetRegisterReply *r)
{
        free(r->thing_name);
        for (size_t i = 0; r->device_configuration && r->device_configuration[i]; i++)
                free(r->device_configuration[i]);
        free(r->device_configuration);
        memset(r, 0, sizeof(*r));
}

static bool is_cert_id(const char *s)
{
        if (strlen(s) != 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

int ob_fleet_parse_cert_reply(ObFleetFormat fmt, const void *payload, size_t len,
                              bool expect_private_key, ObFleetCertReply *ret)
{
        json_object *o = NULL;
        ObFleetCertReply c = {0};
        int r = decode(fmt, payload, len, &o);
        if (r < 0)
                return r;
        if ((r = get_string(o, "certificateId", true, 64, &c.certificate_id)) < 0 ||
            (r = get_string(o, "certificatePem", true, MAX_FIELD, &c.certificate_pem)) < 0 ||
            (r = get_string(o, "certificateOwnershipToken", true, MAX_FIELD, &c.ownership_token)) <
                    0 ||
            (r = get_string(o, "privateKey", expect_private_key, MAX_FIELD, &c.private_key)) < 0)
                goto fail;
        /* AWS documents 64 hex digits; accept upper case by normalising it */
        for (char *p = c.certificate_id; *p; p++)
                if (*p >= 'A' && *p <= 'F')
                        *p = (char)(*p - 'A' + 'a');
        if (!is_cert_id(c.certificate_id) || (!expect_private_key && c.private_key) ||
            !strstr(c.certificate_pem, "-----BEGIN CERTIFICATE-----")) {
                r = -EPROTO;
                goto fail;
        }
        json_object_put(o);
        *ret = c;
        return 0;
fail:
        json_object_put(o);
        ob_fleet_cert_reply_clear(&c);
        return r;
}

bool ob_fleet_thing_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (n < 1 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = name[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == ':' || ch == '_' || ch == '-'))
                        return false;
        }
        return true;
}

int ob_fleet_parse_register_reply(ObFleetFormat fmt, const void *payload, size_t len,
                                  ObFleetRegisterReply *ret)
{
        json_object *o = NULL, *dc, *tn;
        ObFleetRegisterReply reg = {0};
        int r = decode(fmt, payload, len, &o);
        if (r < 0)
                return r;
        /* thingName may be absent or empty when the template creates no thing (reference §1.5):
         * both mean no name; a name outside AWS's rule would become our client id, topic
         * segments and a hook's environment (a path, a newline in a log line): refused, -EILSEQ */
        if (json_object_object_get_ex(o, "thingName", &tn) &&
            json_object_is_type(tn, json_type_string) && json_object_get_string_len(tn) == 0)
                reg.thing_name = NULL;
        else if ((r = get_string(o, "thingName", false, 128, &reg.thing_name)) < 0)
                goto fail;
        if (reg.thing_name && !ob_fleet_thing_name_valid(reg.thing_name)) {
                r = -EILSEQ;
                goto fail;
        }
        if (json_object_object_get_ex(o, "deviceConfiguration", &dc) &&
            !json_object_is_type(dc, json_type_null)) {
                if (!json_object_is_type(dc, json_type_object) ||
                    json_object_object_length(dc) > MAX_CONFIG_KEYS) {
                        r = -EPROTO;
                        goto fail;
                }
                size_t n = (size_t)json_object_object_length(dc), i = 0;
                reg.device_configuration = calloc(2 * n + 1, sizeof(char *));
                if (!reg.device_configuration) {
                        r = -ENOMEM;
                        goto fail;
                }
                json_object_object_foreach(dc, key, val)
                {
                        /* a flat string map: nested objects are not allowed (reference §1.5) */
                        if (!json_object_is_type(val, json_type_string) ||
                            json_object_get_string_len(val) > 4096 || strlen(key) > 256) {
                                r = -EPROTO;
                                goto fail;
                        }
                        reg.device_configuration[i] = strdup(key);
                        reg.device_configuration[i + 1] = strdup(json_object_get_string(val));
                        if (!reg.device_configuration[i] || !reg.device_configuration[i + 1]) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        i += 2;
                }
        }
        json_object_put(o);
        *ret = reg;
        return 0;
fail:
        json_object_put(o);
        ob_fleet_register_reply_clear(&reg);
        return r;
}

ObErrClass ob_fleet_status_class(int status_code)
{
        if (status_code == 429)
                return OB_ERR_THROTTLED;
        if (status_code >= 500)
                return OB_ERR_NETWORK; /* the service's trouble: retry like a network error */
        return OB_ERR_REJECTED;
}

int ob_fleet_parse_rejected(ObFleetFormat fmt, const void *payload, size_t len, ObFleetError *ret)
{
        json_object *o = NULL, *v;
        ObFleetError e = {0};
        _cleanup_free_ char *code = NULL, *msg = NULL;
        int r = decode(fmt, payload, len, &o);
        if (r < 0)
                return r;
        r = -EPROTO;
        if (!json_object_object_get_ex(o, "statusCode", &v) ||
            !json_object_is_type(v, json_type_int))
                goto out;
        int64_t sc = json_object_get_int64(v);
        if (sc < 100 || sc > 599)
                goto out;
        if (get_string(o, "errorCode", false, sizeof(e.error_code) - 1, &code) < 0 ||
            get_string(o, "errorMessage", false, 4096, &msg) < 0)
                goto out;
        e.status_code = (int)sc;
        snprintf(e.error_code, sizeof(e.error_code), "%s", code ? code : "");
        snprintf(e.error_message, sizeof(e.error_message), "%s", msg ? msg : "");
        e.err_class = ob_fleet_status_class(e.status_code);
        *ret = e;
        r = 0;
out:
        json_object_put(o);
        return r;
}
