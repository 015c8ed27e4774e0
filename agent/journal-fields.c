/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "journal-fields.h"

static const char *str(json_object *o, const char *key)
{
        json_object *v;

        return o && json_object_object_get_ex(o, key, &v) && v &&
                               json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : NULL;
}

static void add(ObJournalFields *f, size_t *n, const char *name, const char *value)
{
        if (!value || !value[0] || *n >= OB_JOURNAL_FIELDS_MAX)
                return;
        snprintf(f->buf[*n], sizeof(f->buf[*n]), "%s=%s", name, value);
        f->list[*n] = f->buf[*n];
        (*n)++;
}

const char *const *ob_journal_fields(json_object *status, ObJournalFields *f)
{
        json_object *e = NULL;
        size_t n = 0;

        memset(f->list, 0, sizeof(f->list));
        add(f, &n, "OB_STATE", str(status, "state"));
        add(f, &n, "OB_STAGE", str(status, "stage"));
        add(f, &n, "OB_METHOD", str(status, "method"));
        add(f, &n, "OB_THING", str(status, "thing_name"));
        add(f, &n, "OB_CERT_ID", str(status, "certificate_id"));
        if (status && json_object_object_get_ex(status, "last_error", &e) && e) {
                add(f, &n, "OB_ERROR_CODE", str(e, "code"));
                add(f, &n, "OB_ERROR_CLASS", str(e, "class"));
        }
        add(f, &n, "OB_NEXT_RETRY", str(status, "next_retry"));
        add(f, &n, "OB_HEAL_REASON", str(status, "heal_reason"));
        add(f, &n, "OB_HEALED_AT", str(status, "healed_at"));
        f->list[n] = NULL;
        return f->list;
}
