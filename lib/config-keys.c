/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration keys: one table {name, type, default, range, help} that the loader, the
 * validator, `agentctl config keys` and the documentation read (docs/configuration.md). */
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

const ObConfigKey ob_config_key_table[] = {
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

        /* jobs */
        {.name = "jobs.poll_interval_minutes",
         .type = OB_CONFIG_DOUBLE,
         .offset = OFF(jobs.poll_interval_minutes),
         .def = "240",
         .dmin = 0,
         .dmax = 525600,
         .help = "While onboarded, check in with the current identity this often (plus up to "
                 "10 % of jitter): connect, report the named shadow, ask AWS IoT Jobs for the "
                 "next job and run it, disconnect (0 = never)."},

        /* shadow */
        {.name = "shadow.report",
         .type = OB_CONFIG_BOOL,
         .offset = OFF(shadow.report),
         .def = "true",
         .help = "Report the agent's health in the thing's named shadow onboard-agent when it "
                 "checks in, and check in soon after a change that matters (docs/shadow.md)."},
        /* recovery: self-healing identity (docs/self-healing.md) */
        {.name = "recovery.reonboard",
         .type = OB_CONFIG_BOOL,
         .offset = OFF(recovery.reonboard),
         .def = "false",
         .applies_to = M(OB_METHOD_FLEET_CLAIM) | M(OB_METHOD_FLEET_TRUSTED_USER),
         .help = "Re-onboard through the claim when the cloud refuses the current identity "
                 "persistently or its certificate expired. Unset: true for fleet-claim, false "
                 "for the other methods (agentctl config shows the effective value)."},
        {.name = "recovery.refusals",
         .type = OB_CONFIG_UINT,
         .offset = OFF(recovery.refusals),
         .def = "3",
         .min = 1,
         .max = 1000,
         .help = "Refusals of the current identity (revoked, inactive, unknown) that make it "
                 "heal; a successful connect resets the count."},
        {.name = "recovery.refusal_window_minutes",
         .type = OB_CONFIG_UINT,
         .offset = OFF(recovery.refusal_window_min),
         .def = "30",
         .min = 0,
         .max = 30 * 24 * 60,
         .help = "The first and the last of those refusals are at least this many minutes "
                 "apart, so a burst of transients cannot make it heal."},
};

const size_t ob_config_n_keys = OB_ELEMENTSOF(ob_config_key_table);

const ObConfigKey *ob_config_keys(size_t *ret_n)
{
        if (ret_n)
                *ret_n = ob_config_n_keys;
        return ob_config_key_table;
}

const ObConfigKey *ob_config_key_find(const char *name, size_t *ret_index)
{
        for (size_t i = 0; name && i < ob_config_n_keys; i++)
                if (strcmp(ob_config_key_table[i].name, name) == 0) {
                        if (ret_index)
                                *ret_index = i;
                        return &ob_config_key_table[i];
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

void ob_config_format_duration(uint64_t ms, char *buf, size_t n)
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
                ob_config_format_duration(k->min, a, sizeof(a));
                ob_config_format_duration(k->max, b, sizeof(b));
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
