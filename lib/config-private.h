/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the configuration's modules share (lib/config-file.h is the API): the key table
 * (lib/config-keys.c), diagnostics (config-diags.c), value parsing and applying a file
 * (config-file.c), cross-key validation (config-validate.c), loading and output
 * (config-load.c). Not an API.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config-file.h"
#include "macro.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define STRING_MAX      4096
#define LIST_MAX        64
#define DIAGS_MAX       1000
#define MS_PER_SEC      1000ULL
#define MS_PER_DAY      (86400ULL * MS_PER_SEC)

#define M(m)       (1u << (m))
#define M_FLEET    (M(OB_METHOD_FLEET_CLAIM) | M(OB_METHOD_FLEET_TRUSTED_USER))
#define M_CERT     (M(OB_METHOD_STATIC) | M(OB_METHOD_JITP) | M(OB_METHOD_JITR))
#define OFF(field) offsetof(ObConfig, field)

/* lib/config-keys.c: the one table every key comes from */
extern const ObConfigKey ob_config_key_table[];
extern const size_t ob_config_n_keys;
/* "30s", "5min", "2h", "7d" or "1500ms": the largest whole unit */
void ob_config_format_duration(uint64_t ms, char *buf, size_t n);

/* lib/config-diags.c: add a diagnostic; 0, or -ENOMEM */
_printf_(7, 8) int ob_config_diag_add(ObConfigDiags *d, ObConfigSeverity sev, const char *file,
                                      const char *key, unsigned line, unsigned column,
                                      const char *fmt, ...);

/* lib/config-template.c: the placeholders of template s are all in the space-separated list
 * allowed: 0; -ENOENT naming the first unknown one (*ret_bad, not NUL-terminated), -EINVAL
 * unbalanced braces or a bad name. */
int ob_config_template_check(const char *s, const char *allowed, const char **ret_bad,
                             size_t *ret_bad_len);

/* The value of key k inside c. */
static inline void *ob_config_field(ObConfig *c, const ObConfigKey *k)
{
        return (char *)c + k->offset;
}

static inline const void *ob_config_cfield(const ObConfig *c, const ObConfigKey *k)
{
        return (const char *)c + k->offset;
}
