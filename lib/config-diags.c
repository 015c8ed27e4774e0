/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration diagnostics: FILE[:LINE:COLUMN]: error|warning: KEY: reason. */
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

/* ------------------------------------------------------------------ diagnostics */

void ob_config_diags_clear(ObConfigDiags *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].file);
                free(d->items[i].key);
                free(d->items[i].message);
        }
        free(d->items);
        *d = (ObConfigDiags){0};
}

int ob_config_diag_add(ObConfigDiags *d, ObConfigSeverity sev, const char *file, const char *key,
                       unsigned line, unsigned column, const char *fmt, ...)
{
        ObConfigDiag x = {.severity = sev, .line = line, .column = column};
        va_list ap;

        if (!d)
                return 0;
        if (d->n >= DIAGS_MAX) /* bounded: a hostile file cannot make us allocate forever */
                return 0;
        if (d->n == d->allocated) {
                size_t na = d->allocated ? d->allocated * 2 : 8;
                ObConfigDiag *ni = realloc(d->items, na * sizeof(*ni));
                if (!ni)
                        return -ENOMEM;
                d->items = ni;
                d->allocated = na;
        }
        va_start(ap, fmt);
        if (vasprintf(&x.message, fmt, ap) < 0)
                x.message = NULL;
        va_end(ap);
        x.file = file ? strdup(file) : NULL;
        x.key = key ? strdup(key) : NULL;
        if (!x.message || (file && !x.file) || (key && !x.key)) {
                free(x.message);
                free(x.file);
                free(x.key);
                return -ENOMEM;
        }
        d->items[d->n++] = x;
        if (sev == OB_CONFIG_ERROR)
                d->n_errors++;
        else
                d->n_warnings++;
        return 0;
}

int ob_config_diags_first_error(const ObConfigDiags *d, char **ret)
{
        *ret = NULL;
        for (size_t i = 0; i < d->n; i++)
                if (d->items[i].severity == OB_CONFIG_ERROR)
                        return ob_config_diag_format(&d->items[i], ret);
        return 0;
}

int ob_config_diag_format(const ObConfigDiag *x, char **ret)
{
        char where[64] = "";
        if (x->line > 0)
                snprintf(where, sizeof(where), ":%u:%u", x->line, x->column);
        if (asprintf(ret, "%s%s%s%s: %s%s%s", x->file ? x->file : "", where, x->file ? ": " : "",
                     x->severity == OB_CONFIG_ERROR ? "error" : "warning", x->key ? x->key : "",
                     x->key ? ": " : "", x->message) < 0)
                return -ENOMEM;
        return 0;
}

int ob_config_diags_print(const ObConfigDiags *d, FILE *f)
{
        for (size_t i = 0; i < d->n; i++) {
                _cleanup_free_ char *line = NULL;
                if (ob_config_diag_format(&d->items[i], &line) < 0)
                        return -ENOMEM;
                fprintf(f, "%s\n", line);
        }
        return 0;
}

json_object *ob_config_diags_to_json(const ObConfigDiags *d)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < d->n; i++) {
                const ObConfigDiag *x = &d->items[i];
                json_object *o = json_object_new_object();
                if (!o || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        json_object_put(a);
                        return NULL;
                }
                json_object_object_add(o, "severity",
                                       json_object_new_string(x->severity == OB_CONFIG_ERROR
                                                                      ? "error"
                                                                      : "warning"));
                json_object_object_add(o, "file", x->file ? json_object_new_string(x->file) : NULL);
                json_object_object_add(o, "key", x->key ? json_object_new_string(x->key) : NULL);
                json_object_object_add(o, "line", json_object_new_int((int)x->line));
                json_object_object_add(o, "column", json_object_new_int((int)x->column));
                json_object_object_add(o, "message", json_object_new_string(x->message));
        }
        return a;
}
