/* SPDX-License-Identifier: Apache-2.0 */
/* Fleet health in a named shadow: see lib/shadow-report.h. */
#include "shadow-report.h"

#include "isotime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Bounds of the strings taken from the status and the agent (bytes). With the member names
 * they keep the request under OB_SHADOW_REPORT_MAX (test-shadow-report checks the worst case). */
#define MAX_VERSION 32
#define MAX_METHOD  24
#define MAX_STATE   32
#define MAX_THING   128 /* AWS's thing name limit */
#define MAX_CERT_ID 64
#define MAX_TIME    20 /* YYYY-MM-DDTHH:MM:SSZ */
#define MAX_CODE    48
#define MAX_CLASS   16
#define MAX_TPM     32

static json_object *member(json_object *o, const char *key)
{
        json_object *v = NULL;

        return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v)
                       ? v
                       : NULL;
}

/* A string cut to max bytes (at a UTF-8 character boundary), or NULL (JSON null). */
static json_object *bounded(const char *s, size_t max)
{
        size_t n;

        if (!s)
                return NULL;
        n = strlen(s);
        if (n > max) {
                n = max;
                while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
                        n--;
        }
        return json_object_new_string_len(s, (int)n);
}

static json_object *status_string(json_object *status, const char *key, size_t max)
{
        json_object *v = member(status, key);

        return json_object_is_type(v, json_type_string) ? bounded(json_object_get_string(v), max)
                                                        : NULL;
}

/* n decimal digits at s, or -1 */
static int digits(const char *s, int n)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        return v;
}

/* "YYYY-MM-DDTHH:MM:SSZ" (exactly: what the status writes) -> epoch seconds, for fleet
 * indexing's range queries, which compare numbers; NULL (JSON null) for anything else */
static json_object *epoch_of(json_object *iso)
{
        const char *s = json_object_get_string(iso);
        int y, mo, d, h, mi, se;

        if (!json_object_is_type(iso, json_type_string) || strlen(s) != 20 || s[4] != '-' ||
            s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
                return NULL;
        y = digits(s, 4);
        mo = digits(s + 5, 2);
        d = digits(s + 8, 2);
        h = digits(s + 11, 2);
        mi = digits(s + 14, 2);
        se = digits(s + 17, 2);
        if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
            mi > 59 || se < 0 || se > 60)
                return NULL;
        return json_object_new_int64(ob_isotime_from_civil(
                y, (unsigned)mo, (unsigned)d, (unsigned)h, (unsigned)mi, (unsigned)se));
}

json_object *ob_shadow_report_reported(json_object *status, const ObShadowReportInfo *info)
{
        json_object *r = json_object_new_object(), *e, *g, *err = NULL, *tpm = NULL;

        if (!r)
                return NULL;
        json_object_object_add(r, "schema", json_object_new_int(OB_SHADOW_REPORT_SCHEMA));
        json_object_object_add(r, "agent_version",
                               bounded(info ? info->agent_version : NULL, MAX_VERSION));
        json_object_object_add(r, "method", status_string(status, "method", MAX_METHOD));
        json_object_object_add(r, "state", status_string(status, "state", MAX_STATE));
        json_object_object_add(r, "thing_name", status_string(status, "thing_name", MAX_THING));
        json_object_object_add(r, "certificate_id",
                               status_string(status, "certificate_id", MAX_CERT_ID));
        json_object_object_add(r, "certificate_not_after",
                               status_string(status, "certificate_not_after", MAX_TIME));
        json_object_object_add(r, "certificate_not_after_s",
                               epoch_of(member(status, "certificate_not_after")));
        json_object_object_add(r, "next_rotation",
                               status_string(status, "next_rotation", MAX_TIME));
        g = member(status, "generation");
        json_object_object_add(r, "generation",
                               json_object_is_type(g, json_type_int)
                                       ? json_object_new_int64(json_object_get_int64(g))
                                       : NULL);
        e = member(status, "last_error");
        if (json_object_is_type(e, json_type_object)) {
                err = json_object_new_object();
                json_object_object_add(err, "code", status_string(e, "code", MAX_CODE));
                json_object_object_add(err, "class", status_string(e, "class", MAX_CLASS));
                json_object_object_add(err, "time", status_string(e, "time", MAX_TIME));
        }
        json_object_object_add(r, "last_error", err);
        if (info && (info->tpm_manufacturer || info->tpm_firmware)) {
                tpm = json_object_new_object();
                json_object_object_add(tpm, "manufacturer",
                                       bounded(info->tpm_manufacturer, MAX_TPM));
                json_object_object_add(tpm, "firmware", bounded(info->tpm_firmware, MAX_TPM));
        }
        json_object_object_add(r, "tpm", tpm);
        return r;
}

json_object *ob_shadow_report_request(json_object *reported)
{
        json_object *req = json_object_new_object(), *state = json_object_new_object();

        if (!req || !state) {
                json_object_put(req);
                json_object_put(state);
                return NULL;
        }
        json_object_object_add(state, "reported", json_object_get(reported));
        json_object_object_add(req, "state", state);
        return req;
}

bool ob_shadow_report_changed(json_object *reported, json_object *last)
{
        return !last || !json_object_equal(reported, last);
}

int ob_shadow_topic(char *buf, size_t size, const char *thing, const char *op)
{
        int n;

        if (!thing || !*thing || !op || !*op || strpbrk(thing, "/+#") || strpbrk(op, "+#"))
                return -EINVAL;
        n = snprintf(buf, size, "$aws/things/%s/shadow/name/%s/%s", thing, OB_SHADOW_NAME, op);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
