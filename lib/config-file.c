/* SPDX-License-Identifier: Apache-2.0 */
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

#include "config-digest.h"
#include "config-file.h"
#include "config-trust.h"
#include "log.h"
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

static const char *const method_values[] = {
        [OB_METHOD_STATIC] = "static",
        [OB_METHOD_JITP] = "jitp",
        [OB_METHOD_JITR] = "jitr",
        [OB_METHOD_FLEET_CLAIM] = "fleet-claim",
        [OB_METHOD_FLEET_TRUSTED_USER] = "fleet-trusted-user",
        NULL,
};
static const char *const payload_values[] = {"json", "cbor", NULL};
static const char *const backend_values[] = {"tpm", "software", NULL};
static const char *const key_type_values[] = {"ec-p256", "ec-p384", "rsa-2048", NULL};
static const char *const log_level_values[] = {"err", "warning", "notice", "info", "debug", NULL};

_Static_assert(OB_ELEMENTSOF(method_values) == _OB_METHOD_MAX + 1, "method table");
_Static_assert(OB_ELEMENTSOF(payload_values) == _OB_PAYLOAD_MAX + 1, "payload table");
_Static_assert(OB_ELEMENTSOF(backend_values) == _OB_KEY_BACKEND_MAX + 1, "backend table");
_Static_assert(OB_ELEMENTSOF(key_type_values) == _OB_KEY_TYPE_MAX + 1, "key type table");
_Static_assert(OB_ELEMENTSOF(log_level_values) == _OB_CONFIG_LOG_MAX + 1, "log table");
_Static_assert(sizeof(ObProvisioningMethod) == sizeof(int), "enums are stored as int");

/* ------------------------------------------------------------------ value checkers */

bool ob_config_group_is_gid(const char *v, uint32_t *ret_gid)
{
        uint64_t n = 0;

        if (!v[0] || strlen(v) > 10)
                return false;
        for (const char *c = v; *c; c++) {
                if (*c < '0' || *c > '9')
                        return false;
                n = n * 10 + (uint64_t)(*c - '0');
        }
        if (n >= UINT32_MAX) /* (gid_t)-1 means "no group" to chown(2) */
                return false;
        if (ret_gid)
                *ret_gid = (uint32_t)n;
        return true;
}

static bool chars_in(const char *s, const char *extra)
{
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
                        return false;
        return true;
}

static int check_host(const char *v, const char **reason)
{
        if (strstr(v, "://")) {
                *reason = "is a host name, not a URL (drop the scheme)";
                return -EINVAL;
        }
        if (strlen(v) > 253 || !chars_in(v, ".-:[]")) {
                *reason = "is not a valid host name";
                return -EINVAL;
        }
        return 0;
}

/* AWS provisioning template names: [0-9A-Za-z_-]{1,36}. */
static int check_template_name(const char *v, const char **reason)
{
        if (strlen(v) > 36 || !chars_in(v, "_-")) {
                *reason = "is not a provisioning template name (1-36 of A-Z a-z 0-9 _ -)";
                return -EINVAL;
        }
        return 0;
}

static int check_unit(const char *v, const char **reason)
{
        const char *dot = strrchr(v, '.');
        if (!dot || dot == v || !chars_in(v, ":-_.\\@") ||
            (strcmp(dot, ".service") != 0 && strcmp(dot, ".target") != 0 &&
             strcmp(dot, ".socket") != 0)) {
                *reason = "is not a systemd unit name (e.g. \"app.service\")";
                return -EINVAL;
        }
        return 0;
}

/* A group name, or a numeric gid (resolved without NSS: docs/performance.md, P3). */
static int check_group(const char *v, const char **reason)
{
        if (ob_config_group_is_gid(v, NULL))
                return 0;
        if (strlen(v) > 32 || !(islower((unsigned char)v[0]) || v[0] == '_') ||
            !chars_in(v, "_-")) {
                *reason = "is not a valid group name or numeric gid";
                return -EINVAL;
        }
        return 0;
}

static int check_topic(const char *v, const char **reason)
{
        if (strlen(v) > 256 || strpbrk(v, "+#")) {
                *reason = "is not a publishable MQTT topic (no wildcards, at most 256 bytes)";
                return -EINVAL;
        }
        return 0;
}

static int check_command(const char *v, const char **reason)
{
        if (v[0] != '/') {
                *reason = "must start with the absolute path of the program";
                return -EINVAL;
        }
        return 0;
}

static int check_serial_source(const char *v, const char **reason)
{
        if (strcmp(v, "dmi") == 0 || strcmp(v, "devicetree") == 0 || strcmp(v, "machine-id") == 0)
                return 0;
        if (strncmp(v, "file:", 5) == 0 && v[5] == '/')
                return 0;
        *reason = "is not a serial source (\"file:/ABSOLUTE/PATH\", \"dmi\", \"devicetree\" or "
                  "\"machine-id\")";
        return -EINVAL;
}

static int check_tcti(const char *v, const char **reason)
{
        if (!chars_in(v, ":=,/._-")) {
                *reason = "is not a TCTI string (e.g. \"device:/dev/tpmrm0\")";
                return -EINVAL;
        }
        return 0;
}

/* ------------------------------------------------------------------ the table */

static const ObConfigKey keys[] = {
        /* endpoint */
        {.name = "endpoint.host",
         .type = OB_CONFIG_STRING,
         .offset = OFF(endpoint.host),
         .min = 1,
         .max = 253,
         .required_for = OB_CONFIG_ALWAYS,
         .check = check_host,
         .help = "AWS IoT Core data endpoint (the account's \"-ats\" ATS endpoint), also sent as "
                 "TLS SNI."},
        {.name = "endpoint.port",
         .type = OB_CONFIG_UINT,
         .offset = OFF(endpoint.port),
         .def = "8883",
         .min = 1,
         .max = 65535,
         .help = "MQTT over TLS port. Defaults to 443 instead when endpoint.alpn is true."},
        {.name = "endpoint.alpn",
         .type = OB_CONFIG_BOOL,
         .offset = OFF(endpoint.alpn),
         .def = "false",
         .help = "Offer the ALPN protocol \"x-amzn-mqtt-ca\" so MQTT can use port 443 on networks "
                 "that block 8883."},
        {.name = "endpoint.root_ca",
         .type = OB_CONFIG_PATH,
         .offset = OFF(endpoint.root_ca),
         .def = "\"/etc/ssl/certs/Amazon_Root_CA_1.pem\"",
         .help = "PEM file of the trust anchor(s) for the server certificate (Amazon Root CA 1)."},
        {.name = "endpoint.client_id",
         .type = OB_CONFIG_STRING,
         .offset = OFF(endpoint.client_id),
         .def = "\"{thing_name}\"",
         .min = 1,
         .max = 128,
         .placeholders = "thing_name serial machine_id",
         .help = "MQTT client id template. {thing_name} expands to the serial until a thing name "
                 "is known (claim connections)."},
        {.name = "endpoint.keepalive",
         .type = OB_CONFIG_DURATION,
         .offset = OFF(endpoint.keepalive_ms),
         .def = "60",
         .min = 30 * MS_PER_SEC,
         .max = 1200 * MS_PER_SEC,
         .help = "MQTT keep-alive interval (AWS allows 30 s to 20 min)."},
        {.name = "endpoint.connect_timeout",
         .type = OB_CONFIG_DURATION,
         .offset = OFF(endpoint.connect_timeout_ms),
         .def = "30",
         .min = MS_PER_SEC,
         .max = 300 * MS_PER_SEC,
         .help = "Time allowed for TCP + TLS + MQTT CONNECT."},
        {.name = "endpoint.step_timeout",
         .type = OB_CONFIG_DURATION,
         .offset = OFF(endpoint.step_timeout_ms),
         .def = "30",
         .min = MS_PER_SEC,
         .max = 600 * MS_PER_SEC,
         .help = "Time allowed for one request/response step (subscribe, CreateCertificateFromCsr, "
                 "RegisterThing)."},

        /* provisioning */
        {.name = "provisioning.method",
         .type = OB_CONFIG_ENUM,
         .offset = OFF(provisioning.method),
         .values = method_values,
         .required_for = OB_CONFIG_ALWAYS,
         .help = "How the device gets its identity: static, jitp, jitr, fleet-claim or "
                 "fleet-trusted-user."},
        {.name = "provisioning.template",
         .type = OB_CONFIG_STRING,
         .offset = OFF(provisioning.template_name),
         .min = 1,
         .max = 36,
         .required_for = M_FLEET,
         .check = check_template_name,
         .help = "Fleet provisioning template name used by RegisterThing (also for rotation "
                 "unless rotation.template is set)."},
        {.name = "provisioning.parameters",
         .type = OB_CONFIG_STRMAP,
         .offset = OFF(provisioning.parameters),
         .def = "{}",
         .placeholders = "serial hardware_token machine_id thing_name",
         .help = "Extra RegisterThing parameters; values may use {serial}, {hardware_token}, "
                 "{machine_id}, {thing_name}."},
        {.name = "provisioning.claim_cert",
         .type = OB_CONFIG_PATH,
         .offset = OFF(provisioning.claim_cert),
         .required_for = M(OB_METHOD_FLEET_CLAIM),
         .applies_to = M(OB_METHOD_FLEET_CLAIM),
         .help = "PEM claim certificate shared by the production batch."},
        {.name = "provisioning.claim_key",
         .type = OB_CONFIG_PATH,
         .offset = OFF(provisioning.claim_key),
         .required_for = M(OB_METHOD_FLEET_CLAIM),
         .applies_to = M(OB_METHOD_FLEET_CLAIM),
         .help = "PEM private key of the claim certificate."},
        {.name = "provisioning.delete_claim",
         .type = OB_CONFIG_BOOL,
         .offset = OFF(provisioning.delete_claim),
         .def = "false",
         .applies_to = M(OB_METHOD_FLEET_CLAIM),
         .help = "Delete the claim certificate and key once the device certificate works."},
        {.name = "provisioning.payload_format",
         .type = OB_CONFIG_ENUM,
         .offset = OFF(provisioning.payload_format),
         .def = "\"json\"",
         .values = payload_values,
         .help = "Payload encoding of the fleet provisioning MQTT API (also used by rotation)."},
        {.name = "provisioning.create_keys",
         .type = OB_CONFIG_BOOL,
         .offset = OFF(provisioning.create_keys),
         .def = "false",
         .applies_to = M_FLEET,
         .help = "Use CreateKeysAndCertificate (the key arrives over the network) instead of a CSR. "
                 "Software key backend only."},
        {.name = "provisioning.claim_drop_dir",
         .type = OB_CONFIG_PATH,
         .offset = OFF(provisioning.claim_drop_dir),
         .applies_to = M(OB_METHOD_FLEET_TRUSTED_USER),
         .help = "Directory watched for a temporary claim (claim.crt + claim.key) from a trusted "
                 "user; unset: only agentctl provision."},
        {.name = "provisioning.device_cert",
         .type = OB_CONFIG_PATH,
         .offset = OFF(provisioning.device_cert),
         .applies_to = M_CERT,
         .help = "Pre-installed device certificate (PEM); unset: the one installed by agentctl "
                 "factory install-cert."},
        {.name = "provisioning.device_key",
         .type = OB_CONFIG_PATH,
         .offset = OFF(provisioning.device_key),
         .applies_to = M_CERT,
         .help = "PEM key of provisioning.device_cert when key.backend is software."},
        {.name = "provisioning.device_chain",
         .type = OB_CONFIG_PATH,
         .offset = OFF(provisioning.device_chain),
         .applies_to = M(OB_METHOD_JITP) | M(OB_METHOD_JITR),
         .help = "PEM CA chain sent with the device certificate until the first successful "
                 "connect (JITP/JITR)."},
        {.name = "provisioning.jitp_max_refusals",
         .type = OB_CONFIG_UINT,
         .offset = OFF(provisioning.jitp_max_refusals),
         .def = "5",
         .min = 1,
         .max = 1000,
         .applies_to = M(OB_METHOD_JITP),
         .help = "Refused connects after which JITP reports \"refused, not pending\" (it keeps "
                 "retrying on the refused schedule)."},

        /* identity */
        {.name = "identity.serial_sources",
         .type = OB_CONFIG_STRLIST,
         .offset = OFF(identity.serial_sources),
         .def = "[\"dmi\", \"devicetree\", \"machine-id\"]",
         .min = 1,
         .max = 16,
         .check = check_serial_source,
         .help = "Where the serial number comes from, first match wins: \"file:/PATH\", \"dmi\", "
                 "\"devicetree\", \"machine-id\"."},
        {.name = "identity.thing_name",
         .type = OB_CONFIG_STRING,
         .offset = OFF(identity.thing_name),
         .min = 1,
         .max = 128,
         .placeholders = "serial machine_id",
         .help = "Thing name template for static/JITP/JITR; unset: the certificate's CN or the "
                 "name RegisterThing returns."},
        {.name = "identity.csr_subject",
         .type = OB_CONFIG_STRING,
         .offset = OFF(identity.csr_subject),
         .def = "\"CN={serial}\"",
         .min = 4,
         .max = 512,
         .placeholders = "serial machine_id thing_name",
         .help = "Subject of CSRs, comma-separated RDNs (e.g. \"CN={serial},O=Example\")."},

        /* key */
        {.name = "key.backend",
         .type = OB_CONFIG_ENUM,
         .offset = OFF(key.backend),
         .def = "\"tpm\"",
         .values = backend_values,
         .help = "Where the device key lives: tpm (never leaves the TPM) or software (PEM file, "
                 "for development)."},
        {.name = "key.type",
         .type = OB_CONFIG_ENUM,
         .offset = OFF(key.type),
         .def = "\"ec-p256\"",
         .values = key_type_values,
         .help = "Algorithm of device keys the agent creates."},

        /* tpm */
        {.name = "tpm.tcti",
         .type = OB_CONFIG_STRING,
         .offset = OFF(tpm.tcti),
         .def = "\"device:/dev/tpmrm0\"",
         .min = 1,
         .max = 512,
         .check = check_tcti,
         .help = "tpm2-tss TCTI (the kernel resource manager by default)."},
        {.name = "tpm.srk_handle",
         .type = OB_CONFIG_HANDLE,
         .offset = OFF(tpm.srk_handle),
         .def = "\"0x81000001\"",
         .min = 0x81000000,
         .max = 0x81FFFFFF,
         .help = "Persistent handle of the storage root key (created with the TCG ECC P-256 "
                 "template if absent)."},
        {.name = "tpm.owner_auth_file",
         .type = OB_CONFIG_PATH,
         .offset = OFF(tpm.owner_auth_file),
         .help = "File holding the owner hierarchy password, if one is set (needed to persist the "
                 "SRK)."},
        {.name = "tpm.vendor_key_handle",
         .type = OB_CONFIG_HANDLE,
         .offset = OFF(tpm.vendor_key_handle),
         .min = 0x81000000,
         .max = 0x81FFFFFF,
         .applies_to = M_CERT,
         .help = "Persistent handle of a key pre-provisioned by the vendor: the factory "
                 "identity's key (static, jitp, jitr), never copied or replaced; a rotation "
                 "moves to a key the agent creates. Unset, and always for the fleet methods: "
                 "the agent creates its own key."},

        /* paths */
        {.name = "paths.state_dir",
         .type = OB_CONFIG_PATH,
         .offset = OFF(paths.state_dir),
         .def = "\"/var/lib/onboard-agent\"",
         .help = "Persistent state: state.json and the credential generations."},
        {.name = "paths.runtime_dir",
         .type = OB_CONFIG_PATH,
         .offset = OFF(paths.runtime_dir),
         .def = "\"/run/onboard-agent\"",
         .help = "Runtime files: the control socket."},

        /* rotation */
        {.name = "rotation.enabled",
         .type = OB_CONFIG_BOOL,
         .offset = OFF(rotation.enabled),
         .def = "true",
         .help = "Renew the certificate and key automatically."},
        {.name = "rotation.lifetime_fraction",
         .type = OB_CONFIG_DOUBLE,
         .offset = OFF(rotation.lifetime_fraction),
         .def = "0.8",
         .dmin = 0.1,
         .dmax = 0.99,
         .help = "Renew when this fraction of the certificate's lifetime has passed."},
        {.name = "rotation.days_before_expiry",
         .type = OB_CONFIG_UINT,
         .offset = OFF(rotation.days_before_expiry),
         .def = "30",
         .min = 0,
         .max = 3650,
         .help = "Renew this many days before notAfter, if earlier than the fraction (0 = off)."},
        {.name = "rotation.max_age_days",
         .type = OB_CONFIG_UINT,
         .offset = OFF(rotation.max_age_days),
         .def = "365",
         .min = 0,
         .max = 36500,
         .help = "Renew a certificate older than this (AWS-issued ones run to 2049; 0 = off)."},
        {.name = "rotation.template",
         .type = OB_CONFIG_STRING,
         .offset = OFF(rotation.template_name),
         .min = 1,
         .max = 36,
         .check = check_template_name,
         .help = "Provisioning template for rotation; unset: provisioning.template."},
        {.name = "rotation.hook",
         .type = OB_CONFIG_STRING,
         .offset = OFF(rotation.hook),
         .min = 1,
         .max = 1024,
         .check = check_command,
         .help = "Command run after new credentials are committed (absolute path, arguments "
                 "split on spaces)."},
        {.name = "rotation.reload_unit",
         .type = OB_CONFIG_STRING,
         .offset = OFF(rotation.reload_unit),
         .min = 1,
         .max = 255,
         .check = check_unit,
         .help = "systemd unit reloaded after new credentials are committed."},
        {.name = "rotation.old_cert_topic",
         .type = OB_CONFIG_STRING,
         .offset = OFF(rotation.old_cert_topic),
         .min = 1,
         .max = 256,
         .check = check_topic,
         .placeholders = "thing_name",
         .help = "Topic the old certificate id is published to after a rotation, so the cloud "
                 "can deactivate it."},
        {.name = "rotation.old_key_grace_days",
         .type = OB_CONFIG_UINT,
         .offset = OFF(rotation.old_key_grace_days),
         .def = "7",
         .min = 0,
         .max = 365,
         .help = "Days the previous TPM key is kept after a rotation before it is deleted."},

        /* clock */
        {.name = "clock.max_skew",
         .type = OB_CONFIG_DURATION,
         .offset = OFF(clock.max_skew_ms),
         .def = "\"1h\"",
         .min = 0,
         .max = 30 * MS_PER_DAY,
         .help = "How far an issued certificate's notBefore may be ahead of this device's clock; "
                 "a certificate valid only later is refused (AWS dates notBefore at issue)."},

/* retry: exponential backoff with full jitter, per error class */
/* (clang-format indents a macro of three initialisers unevenly) */
/* clang-format off */
#define RETRY(cls, b, c, f, what)                                                                  \
        {.name = "retry." #cls ".base",                                                            \
         .type = OB_CONFIG_DURATION,                                                               \
         .offset = OFF(retry.cls.base_ms),                                                         \
         .def = b,                                                                                 \
         .min = 100,                                                                               \
         .max = MS_PER_DAY,                                                                        \
         .help = "First retry delay after " what "."},                                             \
        {.name = "retry." #cls ".cap",                                                             \
         .type = OB_CONFIG_DURATION,                                                               \
         .offset = OFF(retry.cls.cap_ms),                                                          \
         .def = c,                                                                                 \
         .min = MS_PER_SEC,                                                                        \
         .max = 7 * MS_PER_DAY,                                                                    \
         .help = "Longest retry delay after " what "."},                                           \
        {.name = "retry." #cls ".factor",                                                          \
         .type = OB_CONFIG_DOUBLE,                                                                 \
         .offset = OFF(retry.cls.factor),                                                          \
         .def = f,                                                                                 \
         .dmin = 1.05,                                                                             \
         .dmax = 10,                                                                               \
         .help = "Growth of the retry window with each further failure after " what "."}
        /* clang-format on */
        RETRY(network, "1", "\"5min\"", "2", "a network error (DNS, TCP, broker unreachable)"),
        RETRY(tls, "5", "\"1h\"", "2", "a TLS handshake failure"),
        RETRY(refused, "5", "\"1h\"", "2",
              "a refused connection (JITP/JITR pending, revoked cert)"),
        /* a fleet throttled after an outage converges sooner with a slowly growing window
         * (docs/performance.md, P5): the bucket is not left idle while devices sit out long
         * windows; the price is more (cheap) 429 answers */
        RETRY(throttled, "2", "\"10min\"", "1.25", "throttling (429)"),
        RETRY(rejected, "60", "\"6h\"", "2", "a rejected request (400/403/404/500)"),
        RETRY(timeout, "2", "\"5min\"", "2", "a step timeout"),
#undef RETRY
        {.name = "retry.local",
         .type = OB_CONFIG_DURATION,
         .offset = OFF(retry.local_ms),
         .def = "30",
         .min = MS_PER_SEC,
         .max = MS_PER_DAY,
         .help = "Fixed retry delay after local trouble (TPM busy or locked out, disk full): "
                 "not the cloud's fault, so no backoff."},

        /* log, control */
        {.name = "log.level",
         .type = OB_CONFIG_ENUM,
         .offset = OFF(log.level),
         .def = "\"info\"",
         .values = log_level_values,
         .help = "Most verbose level logged: err, warning, notice, info, debug."},
        {.name = "control.group",
         .type = OB_CONFIG_STRING,
         .offset = OFF(control.group),
         .def = "\"onboard-agent\"",
         .min = 1,
         .max = 32,
         .check = check_group,
         .help = "Group allowed to use the control socket's read commands (mutating commands are "
                 "root only): a name, or a numeric gid (used as is, no group database lookup)."},
};

#define N_KEYS OB_ELEMENTSOF(keys)

const ObConfigKey *ob_config_keys(size_t *ret_n)
{
        if (ret_n)
                *ret_n = N_KEYS;
        return keys;
}

const ObConfigKey *ob_config_key_find(const char *name, size_t *ret_index)
{
        for (size_t i = 0; name && i < N_KEYS; i++)
                if (strcmp(keys[i].name, name) == 0) {
                        if (ret_index)
                                *ret_index = i;
                        return &keys[i];
                }
        return NULL;
}

const char *ob_config_type_to_string(ObConfigType t)
{
        static const char *const names[] = {
                [OB_CONFIG_STRING] = "string",       [OB_CONFIG_PATH] = "path",
                [OB_CONFIG_BOOL] = "bool",           [OB_CONFIG_UINT] = "uint",
                [OB_CONFIG_DOUBLE] = "double",       [OB_CONFIG_ENUM] = "enum",
                [OB_CONFIG_DURATION] = "duration",   [OB_CONFIG_STRMAP] = "string map",
                [OB_CONFIG_STRLIST] = "string list", [OB_CONFIG_HANDLE] = "handle",
        };
        if ((unsigned)t < OB_ELEMENTSOF(names) && names[t])
                return names[t];
        return "unknown";
}

const char *ob_config_enum_name(const ObConfigKey *k, int v)
{
        if (!k || k->type != OB_CONFIG_ENUM || v < 0)
                return NULL;
        for (int i = 0; k->values[i]; i++)
                if (i == v)
                        return k->values[i];
        return NULL;
}

const char *ob_provisioning_method_to_string(int m)
{
        if (m >= 0 && m < _OB_METHOD_MAX)
                return method_values[m];
        return "unset";
}

static size_t levenshtein(const char *a, const char *b);

/* The allowed value of an enum key closest to s (a different case, or a typo), or NULL. */
static const char *nearest_value(const ObConfigKey *k, const char *s)
{
        size_t best = SIZE_MAX, d;
        const char *found = NULL;

        for (int i = 0; k->values[i]; i++) {
                d = strcasecmp(k->values[i], s) == 0 ? 0 : levenshtein(s, k->values[i]);
                if (d < best) {
                        best = d;
                        found = k->values[i];
                }
        }
        /* close enough: at most a third of the value, and at least two edits allowed */
        return found && best <= OB_MAX((size_t)2, strlen(s) / 3) ? found : NULL;
}
static void format_duration(uint64_t ms, char *buf, size_t n)
{
        if (ms % MS_PER_DAY == 0 && ms >= MS_PER_DAY)
                snprintf(buf, n, "%llud", (unsigned long long)(ms / MS_PER_DAY));
        else if (ms % (3600 * MS_PER_SEC) == 0 && ms >= 3600 * MS_PER_SEC)
                snprintf(buf, n, "%lluh", (unsigned long long)(ms / (3600 * MS_PER_SEC)));
        else if (ms % (60 * MS_PER_SEC) == 0 && ms >= 60 * MS_PER_SEC)
                snprintf(buf, n, "%llumin", (unsigned long long)(ms / (60 * MS_PER_SEC)));
        else if (ms % MS_PER_SEC == 0)
                snprintf(buf, n, "%llus", (unsigned long long)(ms / MS_PER_SEC));
        else
                snprintf(buf, n, "%llums", (unsigned long long)ms);
}

const char *ob_config_key_range(const ObConfigKey *k, char *buf, size_t n)
{
        char a[32], b[32];
        buf[0] = 0;
        switch (k->type) {
        case OB_CONFIG_UINT:
                snprintf(buf, n, "%llu..%llu", (unsigned long long)k->min,
                         (unsigned long long)k->max);
                break;
        case OB_CONFIG_HANDLE:
                snprintf(buf, n, "0x%08llx..0x%08llx", (unsigned long long)k->min,
                         (unsigned long long)k->max);
                break;
        case OB_CONFIG_DOUBLE:
                snprintf(buf, n, "%g..%g", k->dmin, k->dmax);
                break;
        case OB_CONFIG_DURATION:
                format_duration(k->min, a, sizeof(a));
                format_duration(k->max, b, sizeof(b));
                snprintf(buf, n, "%s..%s", a, b);
                break;
        case OB_CONFIG_ENUM: {
                size_t used = 0;
                for (size_t i = 0; k->values[i] && used < n; i++)
                        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "|" : "",
                                                 k->values[i]);
                break;
        }
        case OB_CONFIG_STRING:
                if (k->max)
                        snprintf(buf, n, "%llu..%llu bytes", (unsigned long long)k->min,
                                 (unsigned long long)k->max);
                break;
        case OB_CONFIG_STRLIST:
                snprintf(buf, n, "%llu..%llu entries", (unsigned long long)k->min,
                         (unsigned long long)k->max);
                break;
        case OB_CONFIG_PATH:
                snprintf(buf, n, "absolute path");
                break;
        case OB_CONFIG_BOOL:
                snprintf(buf, n, "true|false");
                break;
        case OB_CONFIG_STRMAP:
        case _OB_CONFIG_TYPE_MAX:
                break;
        }
        return buf;
}

const char *ob_config_key_required(const ObConfigKey *k, char *buf, size_t n)
{
        size_t used = 0;
        buf[0] = 0;
        if (k->required_for & OB_CONFIG_ALWAYS) {
                snprintf(buf, n, "always");
                return buf;
        }
        for (int m = 0; m < _OB_METHOD_MAX && used < n; m++)
                if (k->required_for & M(m))
                        used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? " " : "",
                                                 method_values[m]);
        if (!buf[0])
                snprintf(buf, n, "no");
        return buf;
}

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

_printf_(7, 8) static int diag_add(ObConfigDiags *d, ObConfigSeverity sev, const char *file,
                                   const char *key, unsigned line, unsigned column, const char *fmt,
                                   ...)
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

/* ------------------------------------------------------------------ string arrays */

static void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* ------------------------------------------------------------------ templates */

/*
 * Walk a template; for each placeholder call cb(name, len). Returns 0, -EINVAL (unbalanced
 * brace, empty name) or what cb returns.
 */
static int template_walk(const char *t, int (*cb)(const char *name, size_t len, void *u), void *u)
{
        for (const char *p = t; *p; p++) {
                if (p[0] == '{' && p[1] == '{') {
                        p++;
                        continue;
                }
                if (p[0] == '}' && p[1] == '}') {
                        p++;
                        continue;
                }
                if (*p == '}')
                        return -EINVAL;
                if (*p == '{') {
                        const char *e = strchr(p + 1, '}');
                        if (!e || e == p + 1)
                                return -EINVAL;
                        for (const char *q = p + 1; q < e; q++)
                                if (!(islower((unsigned char)*q) || *q == '_'))
                                        return -EINVAL;
                        int r = cb(p + 1, (size_t)(e - p - 1), u);
                        if (r < 0)
                                return r;
                        p = e;
                }
        }
        return 0;
}

static bool word_in(const char *list, const char *w, size_t len)
{
        for (const char *p = list; p && *p;) {
                size_t l = strcspn(p, " ");
                if (l == len && strncmp(p, w, len) == 0)
                        return true;
                p += l;
                p += strspn(p, " ");
        }
        return false;
}

struct tmpl_check {
        const char *allowed;
        const char *bad;
        size_t bad_len;
};

static int tmpl_check_cb(const char *name, size_t len, void *u)
{
        struct tmpl_check *c = u;
        if (word_in(c->allowed, name, len))
                return 0;
        c->bad = name;
        c->bad_len = len;
        return -ENOENT;
}

struct tmpl_expand {
        const char *const *vars;
        char *out;
        size_t n, cap;
};

static int buf_put(struct tmpl_expand *e, const char *s, size_t len)
{
        if (e->n + len + 1 > e->cap) {
                size_t nc = (e->n + len + 1) * 2;
                char *no = realloc(e->out, nc);
                if (!no)
                        return -ENOMEM;
                e->out = no;
                e->cap = nc;
        }
        memcpy(e->out + e->n, s, len);
        e->n += len;
        e->out[e->n] = 0;
        return 0;
}

int ob_config_template_expand(const char *tmpl, const char *const *vars, char **ret)
{
        struct tmpl_expand e = {.vars = vars};
        int r;

        if (!tmpl)
                return -EINVAL;
        r = buf_put(&e, "", 0);
        for (const char *p = tmpl; r >= 0 && *p; p++) {
                if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
                        r = buf_put(&e, p, 1);
                        p++;
                } else if (*p == '}') {
                        r = -EINVAL;
                } else if (*p == '{') {
                        const char *end = strchr(p + 1, '}');
                        const char *val = NULL;
                        if (!end || end == p + 1) {
                                r = -EINVAL;
                                break;
                        }
                        for (size_t i = 0; vars && vars[i] && vars[i + 1]; i += 2)
                                if (strlen(vars[i]) == (size_t)(end - p - 1) &&
                                    strncmp(vars[i], p + 1, (size_t)(end - p - 1)) == 0) {
                                        val = vars[i + 1];
                                        break;
                                }
                        if (!val)
                                r = -ENOENT;
                        else
                                r = buf_put(&e, val, strlen(val));
                        p = end;
                } else
                        r = buf_put(&e, p, 1);
        }
        if (r < 0) {
                free(e.out);
                return r;
        }
        *ret = e.out;
        return 0;
}

/* ------------------------------------------------------------------ value parsing */

typedef union Value {
        char *s;
        bool b;
        uint32_t u;
        double d;
        int e;
        uint64_t ms;
        char **v;
} Value;

static void *field(ObConfig *c, const ObConfigKey *k)
{
        return (char *)c + k->offset;
}

static const void *cfield(const ObConfig *c, const ObConfigKey *k)
{
        return (const char *)c + k->offset;
}

/* Move a parsed value into the struct, freeing what was there. */
static void value_store(ObConfig *c, const ObConfigKey *k, Value *v)
{
        void *f = field(c, k);
        switch (k->type) {
        case OB_CONFIG_STRING:
        case OB_CONFIG_PATH:
                free(*(char **)f);
                *(char **)f = TAKE_PTR(v->s);
                break;
        case OB_CONFIG_STRMAP:
        case OB_CONFIG_STRLIST:
                strv_free(*(char ***)f);
                *(char ***)f = TAKE_PTR(v->v);
                break;
        case OB_CONFIG_BOOL:
                *(bool *)f = v->b;
                break;
        case OB_CONFIG_UINT:
        case OB_CONFIG_HANDLE:
                *(uint32_t *)f = v->u;
                break;
        case OB_CONFIG_DOUBLE:
                *(double *)f = v->d;
                break;
        case OB_CONFIG_ENUM:
                *(int *)f = v->e;
                break;
        case OB_CONFIG_DURATION:
                *(uint64_t *)f = v->ms;
                break;
        case _OB_CONFIG_TYPE_MAX:
                break;
        }
}

/* Reset a key to "unset" (no default): strings NULL, numbers 0, enums -1. */
static void value_unset(ObConfig *c, const ObConfigKey *k)
{
        Value v = {0};
        if (k->type == OB_CONFIG_ENUM)
                v.e = -1;
        value_store(c, k, &v);
}

static const char *json_type_desc(json_object *o)
{
        switch (json_object_get_type(o)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "a boolean";
        case json_type_double:
                return "a fractional number";
        case json_type_int:
                return "an integer";
        case json_type_object:
                return "an object";
        case json_type_array:
                return "an array";
        case json_type_string:
                return "a string";
        }
        return "something else";
}

/* Get a NUL-free string. */
static const char *get_string(json_object *o)
{
        const char *s = json_object_get_string(o);
        if (!s || strlen(s) != (size_t)json_object_get_string_len(o))
                return NULL;
        return s;
}

/* Parse "30", 1.5, "500ms", "30s", "5min", "2h", "7d" into milliseconds. */
static int parse_duration(json_object *o, uint64_t *ret, const char **reason)
{
        double secs;
        if (json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_double)) {
                secs = json_object_get_double(o);
                if (json_object_is_type(o, json_type_int) && json_object_get_int64(o) < 0)
                        secs = -1;
        } else if (json_object_is_type(o, json_type_string)) {
                const char *s = get_string(o);
                char *end;
                double n, mult;
                if (!s || !isdigit((unsigned char)s[0])) {
                        *reason = "is not a duration (seconds as a number, or a string like "
                                  "\"500ms\", \"30s\", \"5min\", \"2h\", \"7d\")";
                        return -EINVAL;
                }
                errno = 0;
                n = strtod(s, &end);
                if (errno != 0)
                        n = -1;
                if (strcmp(end, "ms") == 0)
                        mult = 0.001;
                else if (strcmp(end, "s") == 0 || strcmp(end, "") == 0)
                        mult = 1;
                else if (strcmp(end, "min") == 0 || strcmp(end, "m") == 0)
                        mult = 60;
                else if (strcmp(end, "h") == 0)
                        mult = 3600;
                else if (strcmp(end, "d") == 0)
                        mult = 86400;
                else {
                        *reason = "has an unknown unit (use ms, s, min, h or d)";
                        return -EINVAL;
                }
                secs = n * mult;
        } else {
                *reason = NULL;
                return -EMEDIUMTYPE;
        }
        if (!isfinite(secs) || secs < 0 || secs > 1e12) {
                *reason = "is not a non-negative finite duration";
                return -EINVAL;
        }
        *ret = (uint64_t)(secs * 1000.0 + 0.5);
        return 0;
}

struct ctx {
        ObConfig *c;
        const char *file;
        ObConfigDiags *d;
};

/* Check a string value against length, checker and template placeholders. */
static int check_string(struct ctx *x, const ObConfigKey *k, const char *name, const char *s)
{
        const char *reason = NULL;
        size_t len = strlen(s);

        if (k->max && (len < k->min || len > k->max))
                return diag_add(x->d, OB_CONFIG_ERROR, x->file, name, 0, 0,
                                "\"%.64s\" has length %zu, allowed %llu..%llu", s, len,
                                (unsigned long long)k->min, (unsigned long long)k->max);
        if (k->placeholders) {
                struct tmpl_check tc = {.allowed = k->placeholders};
                int r = template_walk(s, tmpl_check_cb, &tc);
                if (r == -ENOENT)
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, name, 0, 0,
                                        "unknown placeholder {%.*s} (allowed: %s)", (int)tc.bad_len,
                                        tc.bad, k->placeholders);
                if (r < 0)
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, name, 0, 0,
                                        "\"%.64s\" is not a valid template (unbalanced braces or "
                                        "bad placeholder name; write {{ and }} for literal braces)",
                                        s);
        }
        if (k->check && k->check(s, &reason) < 0)
                return diag_add(x->d, OB_CONFIG_ERROR, x->file, name, 0, 0, "\"%.64s\" %s", s,
                                reason);
        return 1;
}

/*
 * Parse one value. Returns 1 and fills *v when valid; 0 when a diagnostic was added; -ENOMEM.
 */
static int parse_value(struct ctx *x, const ObConfigKey *k, json_object *o, Value *v)
{
        const char *reason = NULL;
        const char *s;
        int r;

#define WRONG_TYPE(expected)                                                                       \
        diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0, "expected %s, got %s", expected,   \
                 json_type_desc(o))

        switch (k->type) {
        case OB_CONFIG_STRING:
        case OB_CONFIG_PATH:
                if (!json_object_is_type(o, json_type_string))
                        return WRONG_TYPE(k->type == OB_CONFIG_PATH ? "a path string" : "a string");
                s = get_string(o);
                if (!s)
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "contains a NUL byte");
                if (k->type == OB_CONFIG_PATH) {
                        if (s[0] != '/')
                                return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                "\"%.64s\" is not an absolute path", s);
                        if (strlen(s) >= PATH_MAX)
                                return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                "path is longer than %d bytes", PATH_MAX - 1);
                } else {
                        r = check_string(x, k, k->name, s);
                        if (r <= 0)
                                return r;
                }
                v->s = strdup(s);
                return v->s ? 1 : -ENOMEM;

        case OB_CONFIG_BOOL:
                if (!json_object_is_type(o, json_type_boolean))
                        return WRONG_TYPE("true or false");
                v->b = json_object_get_boolean(o);
                return 1;

        case OB_CONFIG_UINT: {
                uint64_t u;
                if (!json_object_is_type(o, json_type_int))
                        return WRONG_TYPE("an unsigned integer");
                if (json_object_get_int64(o) < 0)
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "%" PRId64 " is out of range %llu..%llu",
                                        json_object_get_int64(o), (unsigned long long)k->min,
                                        (unsigned long long)k->max);
                u = json_object_get_uint64(o);
                if (u < k->min || u > k->max)
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "%llu is out of range %llu..%llu", (unsigned long long)u,
                                        (unsigned long long)k->min, (unsigned long long)k->max);
                v->u = (uint32_t)u;
                return 1;
        }

        case OB_CONFIG_HANDLE: {
                char *end;
                unsigned long long h;
                if (!json_object_is_type(o, json_type_string))
                        return WRONG_TYPE("a TPM handle as a hex string like \"0x81000001\"");
                s = get_string(o);
                if (!s || strncasecmp(s, "0x", 2) != 0 || !isxdigit((unsigned char)s[2]))
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "\"%.64s\" is not a hex handle like \"0x81000001\"",
                                        s ? s : "");
                errno = 0;
                h = strtoull(s + 2, &end, 16);
                if (errno != 0 || *end)
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "\"%.64s\" is not a hex handle like \"0x81000001\"", s);
                if (h < k->min || h > k->max)
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "%s is not a persistent handle (0x%08llx..0x%08llx)", s,
                                        (unsigned long long)k->min, (unsigned long long)k->max);
                v->u = (uint32_t)h;
                return 1;
        }

        case OB_CONFIG_DOUBLE: {
                double d;
                if (!json_object_is_type(o, json_type_double) &&
                    !json_object_is_type(o, json_type_int))
                        return WRONG_TYPE("a number");
                d = json_object_get_double(o);
                if (!isfinite(d) || d < k->dmin || d > k->dmax)
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "%g is out of range %g..%g", d, k->dmin, k->dmax);
                v->d = d;
                return 1;
        }

        case OB_CONFIG_ENUM: {
                char allowed[256];
                const char *near;
                if (!json_object_is_type(o, json_type_string))
                        return WRONG_TYPE("a string");
                s = get_string(o);
                for (int i = 0; s && k->values[i]; i++)
                        if (strcmp(k->values[i], s) == 0) {
                                v->e = i;
                                return 1;
                        }
                near = s ? nearest_value(k, s) : NULL;
                return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                "\"%.64s\" is not one of %s%s%s%s", s ? s : "",
                                ob_config_key_range(k, allowed, sizeof(allowed)),
                                near ? " (did you mean \"" : "", near ? near : "",
                                near ? "\"?)" : "");
        }

        case OB_CONFIG_DURATION: {
                char a[32], b[32];
                r = parse_duration(o, &v->ms, &reason);
                if (r == -EMEDIUMTYPE)
                        return WRONG_TYPE("a duration (seconds, or a string like \"5min\")");
                if (r < 0)
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "\"%.64s\" %s", json_object_get_string(o), reason);
                if (v->ms < k->min || v->ms > k->max) {
                        format_duration(k->min, a, sizeof(a));
                        format_duration(k->max, b, sizeof(b));
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "%s is out of range %s..%s", json_object_get_string(o), a,
                                        b);
                }
                return 1;
        }

        case OB_CONFIG_STRLIST: {
                size_t n;
                char **l;
                if (!json_object_is_type(o, json_type_array))
                        return WRONG_TYPE("an array of strings");
                n = json_object_array_length(o);
                if (n < k->min || n > k->max)
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "has %zu entries, allowed %llu..%llu", n,
                                        (unsigned long long)k->min, (unsigned long long)k->max);
                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(o, i);
                        const char *why = NULL;
                        s = json_object_is_type(e, json_type_string) ? get_string(e) : NULL;
                        if (!s)
                                return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                "entry %zu: expected a string, got %s", i,
                                                json_type_desc(e));
                        if (k->check && k->check(s, &why) < 0)
                                return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                "entry %zu: \"%.64s\" %s", i, s, why);
                }
                l = calloc(n + 1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        l[i] = strdup(json_object_get_string(json_object_array_get_idx(o, i)));
                        if (!l[i]) {
                                strv_free(l);
                                return -ENOMEM;
                        }
                }
                v->v = l;
                return 1;
        }

        case OB_CONFIG_STRMAP: {
                size_t n = 0, i = 0;
                char **m;
                if (!json_object_is_type(o, json_type_object))
                        return WRONG_TYPE("an object of strings");
                if ((size_t)json_object_object_length(o) > LIST_MAX)
                        return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                        "has more than %d entries", LIST_MAX);
                json_object_object_foreach(o, mk, mv)
                {
                        _cleanup_free_ char *sub = NULL;
                        if (!json_object_is_type(mv, json_type_string) || !get_string(mv))
                                return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                "entry \"%.64s\": expected a string, got %s", mk,
                                                json_type_desc(mv));
                        if (!mk[0] || strlen(mk) > 128)
                                return diag_add(x->d, OB_CONFIG_ERROR, x->file, k->name, 0, 0,
                                                "entry names must be 1..128 bytes");
                        if (asprintf(&sub, "%s.%s", k->name, mk) < 0)
                                return -ENOMEM;
                        r = check_string(x, k, sub, json_object_get_string(mv));
                        if (r <= 0)
                                return r;
                        n++;
                }
                m = calloc(2 * n + 1, sizeof(char *));
                if (!m)
                        return -ENOMEM;
                json_object_object_foreach(o, mk2, mv2)
                {
                        m[i] = strdup(mk2);
                        m[i + 1] = strdup(json_object_get_string(mv2));
                        if (!m[i] || !m[i + 1]) {
                                free(m[i]);
                                m[i] = NULL;
                                strv_free(m);
                                return -ENOMEM;
                        }
                        i += 2;
                }
                v->v = m;
                return 1;
        }
        case _OB_CONFIG_TYPE_MAX:
                break;
        }
#undef WRONG_TYPE
        return 0;
}

/* ------------------------------------------------------------------ construction */

ObConfig *ob_config_free(ObConfig *c)
{
        if (!c)
                return NULL;
        for (size_t i = 0; i < N_KEYS; i++) {
                Value v = {0};
                value_store(c, &keys[i], &v);
                if (c->sources)
                        free(c->sources[i]);
        }
        free(c->sources);
        free(c);
        return NULL;
}

ObConfig *ob_config_new(void)
{
        _cleanup_config_ ObConfig *c = calloc(1, sizeof(ObConfig));
        if (!c)
                return NULL;
        c->sources = calloc(N_KEYS, sizeof(char *));
        if (!c->sources)
                return NULL;
        for (size_t i = 0; i < N_KEYS; i++) {
                const ObConfigKey *k = &keys[i];
                ObConfigDiags d = {0};
                struct ctx x = {.c = c, .file = "(built-in default)", .d = &d};
                json_object *o;
                Value v = {0};
                int r;

                value_unset(c, k);
                if (!k->def)
                        continue;
                o = json_tokener_parse(k->def);
                if (!o)
                        return NULL; /* OOM (the defaults are tested to parse) */
                r = parse_value(&x, k, o, &v);
                json_object_put(o);
                ob_config_diags_clear(&d);
                if (r <= 0)
                        return NULL;
                value_store(c, k, &v);
        }
        return TAKE_PTR(c);
}

/* ------------------------------------------------------------------ applying a file */

static size_t levenshtein(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        size_t row[128];
        if (la >= OB_ELEMENTSOF(row) || lb >= OB_ELEMENTSOF(row))
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t prev = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cur = row[j];
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        row[j] = OB_MIN(OB_MIN(row[j] + 1, row[j - 1] + 1), prev + cost);
                        prev = cur;
                }
        }
        return row[lb];
}

/* The closest known key or section to an unknown dotted name, or NULL. */
static const char *suggest(const char *name, char *buf, size_t n)
{
        size_t best = SIZE_MAX;
        const char *found = NULL;
        size_t nlen = strlen(name);

        for (size_t i = 0; i < N_KEYS; i++) {
                /* compare with the key and with each of its section prefixes */
                const char *kn = keys[i].name;
                for (const char *dot = strchr(kn, '.');; dot = strchr(dot + 1, '.')) {
                        char cand[128];
                        size_t len = dot ? (size_t)(dot - kn) : strlen(kn);
                        size_t dist;
                        if (len < sizeof(cand)) {
                                memcpy(cand, kn, len);
                                cand[len] = 0;
                                dist = levenshtein(name, cand);
                                if (dist < best) {
                                        best = dist;
                                        snprintf(buf, n, "%s", cand);
                                        found = buf;
                                }
                        }
                        if (!dot)
                                break;
                }
        }
        /* close enough: at most a third of the name, and at least one edit allowed */
        if (found && best <= OB_MAX((size_t)2, nlen / 3))
                return found;
        return NULL;
}

static bool is_section(const char *prefix)
{
        size_t l = strlen(prefix);
        for (size_t i = 0; i < N_KEYS; i++)
                if (strncmp(keys[i].name, prefix, l) == 0 && keys[i].name[l] == '.')
                        return true;
        return false;
}

static int apply_key(struct ctx *x, size_t idx, json_object *val)
{
        const ObConfigKey *k = &keys[idx];
        Value v = {0};
        int r;

        if (json_object_is_type(val, json_type_null)) {
                /* null resets the key to its built-in default */
                _cleanup_config_ ObConfig *def = ob_config_new();
                Value dv = {0};
                if (!def)
                        return -ENOMEM;
                value_unset(x->c, k);
                switch (k->type) {
                case OB_CONFIG_STRING:
                case OB_CONFIG_PATH:
                        dv.s = TAKE_PTR(*(char **)field(def, k));
                        break;
                case OB_CONFIG_STRMAP:
                case OB_CONFIG_STRLIST:
                        dv.v = TAKE_PTR(*(char ***)field(def, k));
                        break;
                case OB_CONFIG_BOOL:
                        dv.b = *(bool *)field(def, k);
                        break;
                case OB_CONFIG_UINT:
                case OB_CONFIG_HANDLE:
                        dv.u = *(uint32_t *)field(def, k);
                        break;
                case OB_CONFIG_DOUBLE:
                        dv.d = *(double *)field(def, k);
                        break;
                case OB_CONFIG_ENUM:
                        dv.e = *(int *)field(def, k);
                        break;
                case OB_CONFIG_DURATION:
                        dv.ms = *(uint64_t *)field(def, k);
                        break;
                case _OB_CONFIG_TYPE_MAX:
                        break;
                }
                value_store(x->c, k, &dv);
                free(x->c->sources[idx]);
                x->c->sources[idx] = NULL;
                return 0;
        }

        r = parse_value(x, k, val, &v);
        if (r <= 0)
                return r;
        value_store(x->c, k, &v);
        free(x->c->sources[idx]);
        x->c->sources[idx] = strdup(x->file);
        return x->c->sources[idx] ? 0 : -ENOMEM;
}

static int apply_object(struct ctx *x, const char *prefix, json_object *obj, unsigned depth)
{
        json_object_object_foreach(obj, name, val)
        {
                _cleanup_free_ char *full = NULL;
                char hint[128];
                const char *s;
                size_t idx;
                int r;

                if (asprintf(&full, "%s%s%s", prefix, prefix[0] ? "." : "", name) < 0)
                        return -ENOMEM;
                if (ob_config_key_find(full, &idx)) {
                        r = apply_key(x, idx, val);
                } else if (is_section(full)) {
                        if (json_object_is_type(val, json_type_object) && depth < 4)
                                r = apply_object(x, full, val, depth + 1);
                        else
                                r = diag_add(x->d, OB_CONFIG_ERROR, x->file, full, 0, 0,
                                             "is a section: expected an object, got %s",
                                             json_type_desc(val));
                } else if ((s = suggest(full, hint, sizeof(hint))))
                        r = diag_add(x->d, OB_CONFIG_ERROR, x->file, full, 0, 0,
                                     "unknown key (did you mean \"%s\"?)", s);
                else
                        r = diag_add(x->d, OB_CONFIG_ERROR, x->file, full, 0, 0, "unknown key");
                if (r < 0)
                        return r;
        }
        return 0;
}

static void offset_to_line(const char *buf, size_t off, unsigned *line, unsigned *col)
{
        *line = 1;
        *col = 1;
        for (size_t i = 0; i < off; i++) {
                if (buf[i] == '\n') {
                        (*line)++;
                        *col = 1;
                } else
                        (*col)++;
        }
}

/* Offset of the first thing after pos that is not whitespace or a comment; len if none. */
static size_t skip_blank(const char *buf, size_t len, size_t pos)
{
        while (pos < len) {
                if (isspace((unsigned char)buf[pos]))
                        pos++;
                else if (buf[pos] == '/' && pos + 1 < len && buf[pos + 1] == '/') {
                        while (pos < len && buf[pos] != '\n')
                                pos++;
                } else if (buf[pos] == '/' && pos + 1 < len && buf[pos + 1] == '*') {
                        const char *e = NULL;
                        for (size_t i = pos + 2; i + 1 < len; i++)
                                if (buf[i] == '*' && buf[i + 1] == '/') {
                                        e = buf + i;
                                        break;
                                }
                        if (!e)
                                return pos;
                        pos = (size_t)(e - buf) + 2;
                } else
                        break;
        }
        return pos;
}

/*
 * json-c does not remember where a key was. Find it again: a small scanner that follows the
 * nesting of objects (skipping strings and comments) and returns the offset of the last
 * occurrence of the dotted path (json-c keeps the last of duplicate keys), or SIZE_MAX.
 */
static size_t locate_key(const char *buf, size_t len, const char *path)
{
        enum { MAX_DEPTH = 16 };
        struct {
                bool object;
                size_t key, key_len; /* offset and length of the current key (object) */
        } st[MAX_DEPTH];
        size_t depth = 0, found = SIZE_MAX;

        for (size_t i = 0; i < len; i++) {
                char ch = buf[i];
                if (ch == '/' && i + 1 < len && buf[i + 1] == '/') {
                        while (i < len && buf[i] != '\n')
                                i++;
                } else if (ch == '/' && i + 1 < len && buf[i + 1] == '*') {
                        for (i += 2; i + 1 < len && !(buf[i] == '*' && buf[i + 1] == '/'); i++)
                                ;
                        i++;
                } else if (ch == '{' || ch == '[') {
                        if (depth == MAX_DEPTH)
                                return found;
                        st[depth].object = ch == '{';
                        st[depth].key = st[depth].key_len = 0;
                        depth++;
                } else if (ch == '}' || ch == ']') {
                        if (depth > 0)
                                depth--;
                } else if (ch == '"' || ch == '\'') {
                        size_t start = i + 1, j, end;
                        for (j = start; j < len && buf[j] != ch; j++)
                                if (buf[j] == '\\')
                                        j++;
                        end = j < len ? j : len;
                        i = end;
                        /* a key when the next non-blank character is ':' in an object */
                        j = skip_blank(buf, len, end + 1);
                        if (depth > 0 && st[depth - 1].object && j < len && buf[j] == ':') {
                                char full[256];
                                size_t used = 0;
                                bool in_array = false;
                                st[depth - 1].key = start;
                                st[depth - 1].key_len = end - start;
                                for (size_t k = 0; k < depth && used < sizeof(full); k++) {
                                        if (!st[k].object) {
                                                in_array = true;
                                                break;
                                        }
                                        used += (size_t)snprintf(
                                                full + used, sizeof(full) - used, "%s%.*s",
                                                k ? "." : "", (int)st[k].key_len, buf + st[k].key);
                                }
                                if (!in_array && used < sizeof(full) && strcmp(full, path) == 0)
                                        found = start - 1;
                        }
                }
        }
        return found;
}

/* Give the key diagnostics added since index first a line and column, where they can be found. */
static void locate_diags(ObConfigDiags *d, size_t first, const char *buf, size_t len)
{
        /* each lookup scans the file: bound the work a hostile file can cause */
        for (size_t i = first; d && i < d->n && i < first + 100; i++) {
                ObConfigDiag *x = &d->items[i];
                size_t off;
                if (x->line != 0 || !x->key)
                        continue;
                off = locate_key(buf, len, x->key);
                if (off != SIZE_MAX)
                        offset_to_line(buf, off, &x->line, &x->column);
        }
}

int ob_config_apply_buffer(ObConfig *c, const char *filename, const char *buf, size_t len,
                           ObConfigDiags *d)
{
        struct ctx x = {.c = c, .file = filename, .d = d};
        struct json_tokener *tok;
        json_object *root;
        enum json_tokener_error e;
        unsigned line, col;
        size_t end, first;
        int r;

        if (len > CONFIG_FILE_MAX)
                return diag_add(d, OB_CONFIG_ERROR, filename, NULL, 0, 0,
                                "file is larger than %d bytes", CONFIG_FILE_MAX);
        if (memchr(buf, 0, len)) {
                offset_to_line(buf, (size_t)((const char *)memchr(buf, 0, len) - buf), &line, &col);
                return diag_add(d, OB_CONFIG_ERROR, filename, NULL, line, col,
                                "file contains a NUL byte");
        }
        end = skip_blank(buf, len, 0);
        if (end == len)
                return diag_add(d, OB_CONFIG_ERROR, filename, NULL, 0, 0,
                                "file is empty (write {} for no settings)");

        tok = json_tokener_new_ex(32);
        if (!tok)
                return -ENOMEM;
        root = json_tokener_parse_ex(tok, buf, (int)len);
        e = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!root || e != json_tokener_success) {
                json_object_put(root);
                if (e == json_tokener_continue || e == json_tokener_success) {
                        offset_to_line(buf, len, &line, &col);
                        return diag_add(d, OB_CONFIG_ERROR, filename, NULL, line, col,
                                        "malformed JSON: unexpected end of file");
                }
                offset_to_line(buf, end > len ? len : end, &line, &col);
                return diag_add(d, OB_CONFIG_ERROR, filename, NULL, line, col, "malformed JSON: %s",
                                json_tokener_error_desc(e));
        }
        end = skip_blank(buf, len, end);
        if (end < len) {
                json_object_put(root);
                offset_to_line(buf, end, &line, &col);
                return diag_add(d, OB_CONFIG_ERROR, filename, NULL, line, col,
                                "malformed JSON: trailing data after the top-level object");
        }
        if (!json_object_is_type(root, json_type_object)) {
                r = diag_add(d, OB_CONFIG_ERROR, filename, NULL, 0, 0,
                             "the top level must be an object, got %s", json_type_desc(root));
                json_object_put(root);
                return r;
        }
        first = d ? d->n : 0;
        r = apply_object(&x, "", root, 0);
        json_object_put(root);
        locate_diags(d, first, buf, len);
        return r;
}

/* A file or folder someone other than root (or us) could write: an error of the configuration
 * (lib/config-trust.h). -ENOMEM, else 0. */
static int untrusted(ObConfigDiags *d, const char *path, const struct stat *st, bool is_dir)
{
        char why[96];

        if (!ob_config_trust_problem(st->st_uid, st->st_mode, is_dir, geteuid(), why, sizeof(why)))
                return 0;
        return diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0,
                        "%s %s: anyone who can write it can make the agent run a program "
                        "(rotation.hook); chown root and chmod go-w",
                        is_dir ? "folder" : "file", why) < 0
                       ? -ENOMEM
                       : 0;
}

int ob_config_apply_file(ObConfig *c, const char *path, ObConfigDiags *d)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0, "cannot open: %s",
                                strerror(errno));
        if (fstat(fd, &st) < 0)
                return diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0, "cannot stat: %s",
                                strerror(errno));
        if (!S_ISREG(st.st_mode))
                return diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0, "not a regular file");
        /* the very file read (its fd): no window to swap it after the check */
        if (untrusted(d, path, &st, false) < 0)
                return -ENOMEM;
        if (st.st_size > CONFIG_FILE_MAX)
                return diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0,
                                "file is larger than %d bytes", CONFIG_FILE_MAX);
        buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len <= (size_t)st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0, "cannot read: %s",
                                        strerror(errno));
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len > (size_t)st.st_size)
                return diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0, "file grew while being read");
        return ob_config_apply_buffer(c, path, buf, len, d);
}

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
        const void *f = cfield(c, k);
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
                r = diag_add(d, sev, src_or(c, key, main_file), key, 0, 0, __VA_ARGS__);           \
                if (r < 0)                                                                         \
                        return r;                                                                  \
        } while (0)

        for (size_t i = 0; i < N_KEYS; i++) {
                const ObConfigKey *k = &keys[i];
                if (!has_value(c, k) && !has_error(d, k->name)) {
                        if (k->required_for & OB_CONFIG_ALWAYS)
                                ADD(OB_CONFIG_ERROR, k->name, "required key is not set");
                        else if (m >= 0 && (k->required_for & M(m)))
                                ADD(OB_CONFIG_ERROR, k->name,
                                    "required when provisioning.method is %s (set in %s)",
                                    method_values[m], msrc ? msrc : "?");
                } else if (m >= 0 && k->applies_to && !(k->applies_to & M(m)) && c->sources[i])
                        ADD(OB_CONFIG_WARNING, k->name,
                            "has no effect when provisioning.method is %s", method_values[m]);
        }

        if (c->provisioning.create_keys && c->key.backend != OB_KEY_BACKEND_SOFTWARE)
                ADD(OB_CONFIG_ERROR, "provisioning.create_keys",
                    "CreateKeysAndCertificate sends the private key over the network and needs "
                    "key.backend software (the TPM backend uses a CSR)");
        if (c->key.backend == OB_KEY_BACKEND_SOFTWARE) {
                for (size_t i = 0; i < N_KEYS; i++)
                        if (strncmp(keys[i].name, "tpm.", 4) == 0 && c->sources[i])
                                ADD(OB_CONFIG_WARNING, keys[i].name,
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
                                format_duration(rc[i].r->cap_ms, a, sizeof(a));
                                format_duration(rc[i].r->base_ms, b, sizeof(b));
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

/* ------------------------------------------------------------------ loading */

static char *parent_dir(const char *path)
{
        const char *slash = strrchr(path, '/');
        char *ret;

        if (!slash)
                return strdup(".");
        if (slash == path)
                return strdup("/");
        return asprintf(&ret, "%.*s", (int)(slash - path), path) < 0 ? NULL : ret;
}

char *ob_config_dropin_dir_for(const char *main_path)
{
        const char *slash = strrchr(main_path, '/');
        char *ret;
        if (!slash)
                return strdup("config.d");
        if (asprintf(&ret, "%.*s/config.d", (int)(slash - main_path), main_path) < 0)
                return NULL;
        return ret;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

/* The main file, then the drop-ins in lexical order, into c. < 0: stopped (the main file could
 * not be used, out of memory); the diagnostics say what is wrong either way. */
static int load_files(ObConfig *c, const char *main_path, const char *dropin_dir, ObConfigDiags *d)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_(closedirp) DIR *dh = NULL;
        char **names = NULL;
        size_t n = 0, cap = 0;
        int r;

        r = ob_config_apply_file(c, main_path, d);
        if (r < 0)
                return r;

        dir = dropin_dir ? strdup(dropin_dir) : ob_config_dropin_dir_for(main_path);
        if (!dir)
                return -ENOMEM;
        dh = opendir(dir);
        if (!dh && errno != ENOENT) {
                r = diag_add(d, OB_CONFIG_ERROR, dir, NULL, 0, 0,
                             "cannot open drop-in directory: %s", strerror(errno));
                if (r < 0)
                        return r;
        }
        /* the folders that hold what is read: the main file's and the drop-ins' */
        {
                _cleanup_free_ char *main_dir = parent_dir(main_path);
                struct stat st;

                if (!main_dir)
                        return -ENOMEM;
                if (stat(main_dir, &st) == 0 && untrusted(d, main_dir, &st, true) < 0)
                        return -ENOMEM;
                if (dh && fstat(dirfd(dh), &st) == 0 && untrusted(d, dir, &st, true) < 0)
                        return -ENOMEM;
        }
        for (struct dirent *de;;) {
                errno = 0;
                if (!dh || !(de = readdir(dh))) {
                        /* a read error is not "no drop-ins": they would be silently skipped
                         * (EOVERFLOW with a 32-bit off_t on 64-bit directory offsets) */
                        if (dh && errno != 0) {
                                int e = errno;
                                /* an error of the configuration (exit 78), like an
                                 * unreadable file */
                                r = diag_add(d, OB_CONFIG_ERROR, dir, NULL, 0, 0,
                                             "cannot read drop-in directory: %s", strerror(e));
                        }
                        break;
                }
                size_t l = strlen(de->d_name);
                char *p;
                struct stat st;
                if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
                        continue;
                if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (stat(p, &st) < 0 || !S_ISREG(st.st_mode) || n >= 256) {
                        free(p);
                        continue;
                }
                if (n + 1 >= cap) {
                        size_t nc = cap ? cap * 2 : 16;
                        char **nn = realloc(names, nc * sizeof(char *));
                        if (!nn) {
                                free(p);
                                r = -ENOMEM;
                                break;
                        }
                        names = nn;
                        cap = nc;
                }
                names[n++] = p;
        }
        if (r >= 0 && n > 0)
                qsort(names, n, sizeof(char *), cmp_str);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = ob_config_apply_file(c, names[i], d);
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

int ob_config_load(const char *main_path, const char *dropin_dir, ObConfig **ret, ObConfigDiags *d)
{
        _cleanup_config_ ObConfig *c = ob_config_new();
        int r;

        if (!c)
                return -ENOMEM;
        r = load_files(c, main_path, dropin_dir, d);
        if (r < 0)
                return r;
        r = ob_config_finish(c, main_path, d);
        if (r < 0)
                return r;
        if (d->n_errors > 0)
                return -EINVAL;
        if (ob_config_digest(main_path, dropin_dir, c->sha256) < 0)
                c->sha256[0] = 0;
        *ret = TAKE_PTR(c);
        return 0;
}

int ob_config_load_lenient(const char *main_path, ObConfig **ret, ObConfigDiags *d)
{
        _cleanup_config_ ObConfig *c = ob_config_new();
        int r;

        if (!c)
                return -ENOMEM;
        r = load_files(c, main_path, NULL, d);
        if (r == -ENOMEM)
                return r;
        /* what was valid stays; the rest keeps its defaults */
        r = ob_config_finish(c, main_path, d);
        if (r == -ENOMEM)
                return r;
        *ret = TAKE_PTR(c);
        return d->n_errors > 0 ? -EINVAL : 0;
}

/* ------------------------------------------------------------------ output */

json_object *ob_config_value_to_json(const ObConfig *c, const ObConfigKey *k)
{
        const void *f = cfield(c, k);
        char buf[32];

        switch (k->type) {
        case OB_CONFIG_STRING:
        case OB_CONFIG_PATH: {
                const char *s = *(char *const *)f;
                return s ? json_object_new_string(s) : json_object_new_null();
        }
        case OB_CONFIG_BOOL:
                return json_object_new_boolean(*(const bool *)f);
        case OB_CONFIG_UINT:
                return json_object_new_int64(*(const uint32_t *)f);
        case OB_CONFIG_HANDLE:
                if (*(const uint32_t *)f == 0)
                        return json_object_new_null();
                snprintf(buf, sizeof(buf), "0x%08x", *(const uint32_t *)f);
                return json_object_new_string(buf);
        case OB_CONFIG_DOUBLE:
                snprintf(buf, sizeof(buf), "%g", *(const double *)f);
                return json_object_new_double_s(*(const double *)f, buf);
        case OB_CONFIG_ENUM: {
                int e = *(const int *)f;
                return e >= 0 ? json_object_new_string(k->values[e]) : json_object_new_null();
        }
        case OB_CONFIG_DURATION:
                format_duration(*(const uint64_t *)f, buf, sizeof(buf));
                return json_object_new_string(buf);
        case OB_CONFIG_STRLIST: {
                char *const *l = *(char **const *)f;
                json_object *a = json_object_new_array();
                for (size_t i = 0; a && l && l[i]; i++)
                        json_object_array_add(a, json_object_new_string(l[i]));
                return a;
        }
        case OB_CONFIG_STRMAP: {
                char *const *l = *(char **const *)f;
                json_object *o = json_object_new_object();
                for (size_t i = 0; o && l && l[i] && l[i + 1]; i += 2)
                        json_object_object_add(o, l[i], json_object_new_string(l[i + 1]));
                return o;
        }
        case _OB_CONFIG_TYPE_MAX:
                break;
        }
        return json_object_new_null();
}

json_object *ob_config_to_json(const ObConfig *c)
{
        json_object *root = json_object_new_object();
        for (size_t i = 0; root && i < N_KEYS; i++) {
                json_object *e = json_object_new_object();
                if (!e) {
                        json_object_put(root);
                        return NULL;
                }
                json_object_object_add(e, "value", ob_config_value_to_json(c, &keys[i]));
                json_object_object_add(
                        e, "source", c->sources[i] ? json_object_new_string(c->sources[i]) : NULL);
                json_object_object_add(root, keys[i].name, e);
        }
        return root;
}
