/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration: one JSON file (json-c, comments allowed) plus drop-ins (config.d/ *.json, merged
 * in lexical order over the main file, key by key). Every key lives in ONE table (config.c):
 * dotted name, type, default, range, the methods it is required for and a help string. Every
 * problem found is collected as a diagnostic naming the file, the key and the reason; loading
 * never stops at the first error. docs/configuration.md and onboard-agent.json(5) are checked
 * against the table by the unit tests.
 *
 * lib/ code: no logging above debug, no clock reads.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* provisioning.method; order matches the table's value list. */
typedef enum ObProvisioningMethod {
        OB_METHOD_STATIC,
        OB_METHOD_JITP,
        OB_METHOD_JITR,
        OB_METHOD_FLEET_CLAIM,
        OB_METHOD_FLEET_TRUSTED_USER,
        _OB_METHOD_MAX,
        OB_METHOD_UNSET = -1,
} ObProvisioningMethod;

typedef enum ObPayloadFormat {
        OB_PAYLOAD_JSON,
        OB_PAYLOAD_CBOR,
        _OB_PAYLOAD_MAX,
} ObPayloadFormat;

typedef enum ObKeyBackend {
        OB_KEY_BACKEND_TPM,
        OB_KEY_BACKEND_SOFTWARE,
        _OB_KEY_BACKEND_MAX,
} ObKeyBackend;

typedef enum ObKeyType {
        OB_KEY_TYPE_EC_P256,
        OB_KEY_TYPE_EC_P384,
        OB_KEY_TYPE_RSA_2048,
        _OB_KEY_TYPE_MAX,
} ObKeyType;

/* log.level values, in the order of the table (maps to ObLogLevel with ob_log_level_from_string).
 */
typedef enum ObConfigLogLevel {
        OB_CONFIG_LOG_ERR,
        OB_CONFIG_LOG_WARNING,
        OB_CONFIG_LOG_NOTICE,
        OB_CONFIG_LOG_INFO,
        OB_CONFIG_LOG_DEBUG,
        _OB_CONFIG_LOG_MAX,
} ObConfigLogLevel;

/* One retry class: exponential backoff with full jitter between base and cap; the window grows
 * by factor with each failure. */
typedef struct ObConfigRetry {
        uint64_t base_ms;
        uint64_t cap_ms;
        double factor;
} ObConfigRetry;

/*
 * The effective configuration: plain values, every one set (defaults applied). Strings and
 * paths are NULL when unset and optional. Maps are NULL-terminated arrays of alternating
 * key, value; lists are NULL-terminated string arrays. Durations are in milliseconds.
 */
typedef struct ObConfig {
        struct {
                char *host;
                uint32_t port; /* 443 when alpn is on and the port was not set */
                bool alpn;
                char *root_ca;
                char *client_id; /* template: {thing_name} {serial} {machine_id} */
                uint64_t keepalive_ms;
                uint64_t connect_timeout_ms;
                uint64_t step_timeout_ms;
        } endpoint;
        struct {
                int method; /* ObProvisioningMethod */
                char *template_name;
                char **parameters; /* map; values are templates */
                char *claim_cert;
                char *claim_key;
                bool delete_claim;
                int payload_format; /* ObPayloadFormat */
                bool create_keys;
                char *claim_drop_dir;
                char *device_cert;
                char *device_key;
                char *device_chain;
                uint32_t jitp_max_refusals;
        } provisioning;
        struct {
                char **serial_sources; /* list: "file:/path", "dmi", "devicetree", "machine-id" */
                char *thing_name;      /* template or NULL */
                char *csr_subject;     /* template */
        } identity;
        struct {
                int backend; /* ObKeyBackend */
                int type;    /* ObKeyType */
        } key;
        struct {
                char *tcti;
                uint32_t srk_handle;
                char *owner_auth_file;
                uint32_t vendor_key_handle; /* 0 = none */
        } tpm;
        struct {
                char *state_dir;
                char *runtime_dir;
        } paths;
        struct {
                bool enabled;
                double lifetime_fraction;
                uint32_t days_before_expiry;
                uint32_t max_age_days;
                char *template_name;
                char *hook;
                char *reload_unit;
                char *old_cert_topic;
                uint32_t old_key_grace_days;
        } rotation;
        struct {
                uint64_t max_skew_ms; /* an issued certificate's notBefore ahead of the clock */
        } clock;
        struct {
                ObConfigRetry network, tls, refused, throttled, rejected, timeout;
                uint64_t local_ms; /* fixed pace after local trouble (TPM, disk) */
        } retry;
        struct {
                int level; /* ObConfigLogLevel */
        } log;
        struct {
                char *group;
        } control;
        struct {
                double poll_interval_minutes; /* the check-in's period (0: never) */
        } jobs;
        struct {
                bool report; /* fleet health in the named shadow onboard-agent */
        } shadow;
        struct {
                bool reonboard;              /* unset: true for fleet-claim only */
                uint32_t refusals;           /* refusals of the current identity that heal it */
                uint32_t refusal_window_min; /* ... over at least this many minutes */
        } recovery;

        /* Where each value came from, indexed like the key table: a file name, NULL = default. */
        char **sources;
        /* ob_config_load(): the SHA-256 of the files read (lib/config-digest.h), "" unknown */
        char sha256[64 + 1];
} ObConfig;

typedef enum ObConfigType {
        OB_CONFIG_STRING,
        OB_CONFIG_PATH,
        OB_CONFIG_BOOL,
        OB_CONFIG_UINT,
        OB_CONFIG_DOUBLE,
        OB_CONFIG_ENUM,
        OB_CONFIG_DURATION,
        OB_CONFIG_STRMAP,
        OB_CONFIG_STRLIST,
        OB_CONFIG_HANDLE,
        _OB_CONFIG_TYPE_MAX,
} ObConfigType;

/* A key of the table (read-only; for docs, `agentctl config keys` and tests). */
typedef struct ObConfigKey {
        const char *name; /* dotted: "endpoint.port" */
        ObConfigType type;
        size_t offset;             /* offsetof(ObConfig, ...) */
        const char *def;           /* default as JSON text, NULL = unset */
        uint64_t min, max;         /* UINT, HANDLE: value; DURATION: milliseconds; STRING: length */
        double dmin, dmax;         /* DOUBLE */
        const char *const *values; /* ENUM: allowed values, NULL-terminated */
        unsigned required_for; /* bit (1 << method); OB_CONFIG_ALWAYS = required whatever method */
        unsigned applies_to;   /* bit (1 << method); 0 = every method */
        const char *placeholders; /* templates: allowed {names}, space separated */
        int (*check)(const char *value, const char **ret_reason);
        const char *help;
} ObConfigKey;

#define OB_CONFIG_ALWAYS 0x8000u

const ObConfigKey *ob_config_keys(size_t *ret_n);

/* True if control.group value V is a numeric gid (decimal, below 4294967295); the gid in
 * *RET_GID (may be NULL). Such a value is used as is, without a group database lookup. */
bool ob_config_group_is_gid(const char *v, uint32_t *ret_gid);
const ObConfigKey *ob_config_key_find(const char *name, size_t *ret_index);
const char *ob_config_type_to_string(ObConfigType t);
/* Human range text for docs ("1..65535", "json|cbor"); "" when unbounded. Static buffer-free:
 * writes into buf. */
const char *ob_config_key_range(const ObConfigKey *k, char *buf, size_t n);
/* "always", "fleet-claim fleet-trusted-user", or "no". Writes into buf. */
const char *ob_config_key_required(const ObConfigKey *k, char *buf, size_t n);

typedef enum ObConfigSeverity {
        OB_CONFIG_ERROR,
        OB_CONFIG_WARNING,
} ObConfigSeverity;

typedef struct ObConfigDiag {
        ObConfigSeverity severity;
        char *file; /* may be NULL (e.g. a required key missing everywhere and no file) */
        char *key;  /* dotted key name, NULL for file-level problems */
        unsigned line, column; /* 0 = unknown */
        char *message;
} ObConfigDiag;

typedef struct ObConfigDiags {
        ObConfigDiag *items;
        size_t n, allocated;
        size_t n_errors, n_warnings;
} ObConfigDiags;

void ob_config_diags_clear(ObConfigDiags *d);
/* "FILE:LINE:COL: error: KEY: message" (parts that are unknown are left out). */
int ob_config_diag_format(const ObConfigDiag *d, char **ret);
/* The first error of d, formatted like ob_config_diag_format() (*ret NULL when there is none). */
int ob_config_diags_first_error(const ObConfigDiags *d, char **ret);
/* Print every diagnostic, one line each, to f. Returns 0 or -ENOMEM. */
int ob_config_diags_print(const ObConfigDiags *d, FILE *f);
/* A json-c array of {severity, file, key, line, column, message}. NULL on OOM. */
json_object *ob_config_diags_to_json(const ObConfigDiags *d);

/* Built-in defaults. Returns NULL on OOM. Free with ob_config_free(). */
ObConfig *ob_config_new(void);
ObConfig *ob_config_free(ObConfig *c);
static inline void ob_config_freep(ObConfig **c)
{
        if (*c)
                ob_config_free(*c);
}
#define _cleanup_config_ __attribute__((cleanup(ob_config_freep)))

/*
 * Apply one file's text over c (key by key). filename is used in diagnostics and as the source
 * of each value set. Problems become diagnostics in d; returns 0, or -ENOMEM.
 */
int ob_config_apply_buffer(ObConfig *c, const char *filename, const char *buf, size_t len,
                           ObConfigDiags *d);
/* Read and apply a file (at most 1 MiB). An unreadable file is a diagnostic. 0 or -ENOMEM. */
int ob_config_apply_file(ObConfig *c, const char *path, ObConfigDiags *d);
/* Cross-key validation and derived values (alpn port). main_file names missing keys. */
int ob_config_finish(ObConfig *c, const char *main_file, ObConfigDiags *d);

/*
 * Load main_path, then every regular *.json file in dropin_dir (NULL: the sibling config.d of
 * main_path) in lexical order, then finish. Returns 0 when there were no errors (warnings may
 * be in d) and sets *ret; -EINVAL when d holds at least one error (*ret untouched); -ENOMEM.
 */
int ob_config_load(const char *main_path, const char *dropin_dir, ObConfig **ret, ObConfigDiags *d);

/*
 * The configuration as far as it is valid, for a command that needs only where things are
 * (agentctl status with a broken file on disk): invalid values keep their defaults, a file that
 * cannot be read or parsed is left out. *ret is set unless -ENOMEM; returns 0, or -EINVAL when d
 * has errors (the configuration the daemon would refuse).
 */
int ob_config_load_lenient(const char *main_path, ObConfig **ret, ObConfigDiags *d);
/* dirname(main_path)/config.d, newly allocated. */
char *ob_config_dropin_dir_for(const char *main_path);

/* One value as JSON (new reference; json null when unset). NULL on OOM. */
json_object *ob_config_value_to_json(const ObConfig *c, const ObConfigKey *k);
/* {"key": {"value": V, "source": "FILE"|null}, ...} in table order. NULL on OOM. */
json_object *ob_config_to_json(const ObConfig *c);

/* The name of value v of an enum key ("info" for log.level OB_CONFIG_LOG_INFO); NULL if out of
 * range or k is not an enum. */
const char *ob_config_enum_name(const ObConfigKey *k, int v);
/* The enum value names, for printing. */
const char *ob_provisioning_method_to_string(int m);

/*
 * Expand "{name}" placeholders ("{{" and "}}" are literal braces). vars is a NULL-terminated
 * array of alternating name, value. Returns 0 and a new string, -EINVAL for a malformed
 * template, -ENOENT when a placeholder has no value, -ENOMEM.
 */
int ob_config_template_expand(const char *tmpl, const char *const *vars, char **ret);
