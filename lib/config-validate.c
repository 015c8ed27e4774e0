/* SPDX-License-Identifier: Apache-2.0 */
/* Cross-key validation: what a method requires, what has no effect, ranges that depend on
 * each other (ob_config_finish). */
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

/* ------------------------------------------------------------------ cross-key validation */

static const char *src_or(const ObConfig *c, const char *key, const char *fallback)
{
        size_t idx;
        if (ob_config_key_find(key, &idx) && c->sources[idx])
                return c->sources[idx];
        return fallback;
}

static bool is_set(const ObConfig *c, const char *key)
{
        size_t idx;
        return ob_config_key_find(key, &idx) && c->sources[idx];
}

/* Was an error already reported for this key (an invalid value is not also "missing")? */
static bool has_error(const ObConfigDiags *d, const char *key)
{
        for (size_t i = 0; d && i < d->n; i++)
                if (d->items[i].severity == OB_CONFIG_ERROR && d->items[i].key &&
                    strcmp(d->items[i].key, key) == 0)
                        return true;
        return false;
}

static bool has_value(const ObConfig *c, const ObConfigKey *k)
{
        const void *f = ob_config_cfield(c, k);
        switch (k->type) {
        case OB_CONFIG_STRING:
        case OB_CONFIG_PATH:
                return *(char *const *)f != NULL;
        case OB_CONFIG_STRMAP:
        case OB_CONFIG_STRLIST:
                return *(char **const *)f != NULL;
        case OB_CONFIG_ENUM:
                return *(const int *)f >= 0;
        case OB_CONFIG_HANDLE:
                return *(const uint32_t *)f != 0;
        case OB_CONFIG_BOOL:
        case OB_CONFIG_UINT:
        case OB_CONFIG_DOUBLE:
        case OB_CONFIG_DURATION:
        case _OB_CONFIG_TYPE_MAX:
                break;
        }
        return true;
}

int ob_config_finish(ObConfig *c, const char *main_file, ObConfigDiags *d)
{
        int m = c->provisioning.method;
        const char *msrc = src_or(c, "provisioning.method", main_file);
        int r = 0;

#define ADD(sev, key, ...)                                                                         \
        do {                                                                                       \
                r = ob_config_diag_add(d, sev, src_or(c, key, main_file), key, 0, 0, __VA_ARGS__); \
                if (r < 0)                                                                         \
                        return r;                                                                  \
        } while (0)

        for (size_t i = 0; i < ob_config_n_keys; i++) {
                const ObConfigKey *k = &ob_config_key_table[i];
                if (!has_value(c, k) && !has_error(d, k->name)) {
                        if (k->required_for & OB_CONFIG_ALWAYS)
                                ADD(OB_CONFIG_ERROR, k->name, "required key is not set");
                        else if (m >= 0 && (k->required_for & M(m)))
                                ADD(OB_CONFIG_ERROR, k->name,
                                    "required when provisioning.method is %s (set in %s)",
                                    ob_provisioning_method_to_string(m), msrc ? msrc : "?");
                } else if (m >= 0 && k->applies_to && !(k->applies_to & M(m)) && c->sources[i])
                        ADD(OB_CONFIG_WARNING, k->name,
                            "has no effect when provisioning.method is %s",
                            ob_provisioning_method_to_string(m));
        }

        if (c->provisioning.create_keys && c->key.backend != OB_KEY_BACKEND_SOFTWARE)
                ADD(OB_CONFIG_ERROR, "provisioning.create_keys",
                    "CreateKeysAndCertificate sends the private key over the network and needs "
                    "key.backend software (the TPM backend uses a CSR)");
        if (c->key.backend == OB_KEY_BACKEND_SOFTWARE) {
                for (size_t i = 0; i < ob_config_n_keys; i++)
                        if (strncmp(ob_config_key_table[i].name, "tpm.", 4) == 0 && c->sources[i])
                                ADD(OB_CONFIG_WARNING, ob_config_key_table[i].name,
                                    "has no effect with key.backend software");
                if (c->key.type == OB_KEY_TYPE_RSA_2048 && m >= 0 && (M(m) & M_FLEET) &&
                    c->provisioning.create_keys)
                        ADD(OB_CONFIG_WARNING, "key.type",
                            "has no effect with provisioning.create_keys (AWS chooses the key)");
        } else {
                if (c->provisioning.device_key)
                        ADD(OB_CONFIG_ERROR, "provisioning.device_key",
                            "is a key file, but key.backend is tpm (the key lives in the TPM)");
                if (c->tpm.vendor_key_handle && c->tpm.vendor_key_handle == c->tpm.srk_handle)
                        ADD(OB_CONFIG_ERROR, "tpm.vendor_key_handle",
                            "0x%08x is also tpm.srk_handle", c->tpm.vendor_key_handle);
        }
        if (!is_set(c, "recovery.reonboard")) /* docs/self-healing.md */
                c->recovery.reonboard = m == OB_METHOD_FLEET_CLAIM;
        if (c->endpoint.alpn && !is_set(c, "endpoint.port"))
                c->endpoint.port = 443;
        else if (c->endpoint.alpn && c->endpoint.port != 443)
                ADD(OB_CONFIG_WARNING, "endpoint.port",
                    "AWS IoT Core offers ALPN x-amzn-mqtt-ca on port 443 only, not %u",
                    c->endpoint.port);

        if (c->rotation.enabled && !c->rotation.template_name && !c->provisioning.template_name &&
            m >= 0)
                ADD(OB_CONFIG_WARNING, "rotation.template",
                    "rotation.enabled is true but neither rotation.template nor "
                    "provisioning.template is set: certificates cannot be renewed");
        if (c->rotation.enabled && c->rotation.days_before_expiry == 0 &&
            c->rotation.max_age_days == 0 && is_set(c, "rotation.days_before_expiry"))
                ADD(OB_CONFIG_WARNING, "rotation.days_before_expiry",
                    "and rotation.max_age_days are both 0: only rotation.lifetime_fraction "
                    "triggers renewal");

        {
                const struct {
                        const char *name;
                        const ObConfigRetry *r;
                } rc[] = {
                        {"network", &c->retry.network},   {"tls", &c->retry.tls},
                        {"refused", &c->retry.refused},   {"throttled", &c->retry.throttled},
                        {"rejected", &c->retry.rejected}, {"timeout", &c->retry.timeout},
                };
                for (size_t i = 0; i < OB_ELEMENTSOF(rc); i++)
                        if (rc[i].r->base_ms > rc[i].r->cap_ms) {
                                char key[64], bk[64], a[32], b[32];
                                snprintf(key, sizeof(key), "retry.%s.cap", rc[i].name);
                                snprintf(bk, sizeof(bk), "retry.%s.base", rc[i].name);
                                ob_config_format_duration(rc[i].r->cap_ms, a, sizeof(a));
                                ob_config_format_duration(rc[i].r->base_ms, b, sizeof(b));
                                ADD(OB_CONFIG_ERROR, is_set(c, key) ? key : bk,
                                    "cap %s is smaller than base %s", a, b);
                        }
        }
        if (c->paths.state_dir && c->paths.runtime_dir &&
            strcmp(c->paths.state_dir, c->paths.runtime_dir) == 0)
                ADD(OB_CONFIG_ERROR, "paths.runtime_dir", "must differ from paths.state_dir");
#undef ADD
        return 0;
}
