/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checks of `agentctl check` (agent/check.h). Each check fills one ObCheckOutcome; what
 * several checks need (the configuration, state.json, the TPM, the device key, the endpoint's
 * addresses) is computed once, on first use, and kept in the context, so that skipping one
 * check (--skip) never disables another: a check whose input is missing says "skip" and names
 * the check that explains why.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "cli.h"
#include "config-file.h"
#include "conn-outcome.h"
#include "creds.h"
#include "factory-paths.h"
#include "fsops.h"
#include "handle-key.h"
#include "key-provider.h"
#include "onboard.h"
#include "provider-info.h"
#include "store.h"
#include "x509.h"
#ifdef HAVE_TPM
#include "tpm-key.h"
#endif

#define MAX_PEM_FILE       (64 * 1024)
#define MAX_NET_TIMEOUT_MS 10000
#define ALERT_WAIT_MS      300
#define CLAIM_WARN_DAYS    30
#define ADDR_MAX           64 /* a numeric IPv6 address in brackets and a port */
#define DAY_S              86400
#define ALPN_AWS           "\x0ex-amzn-mqtt-ca"

OB_DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(SSL_CTX *, SSL_CTX_free)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(SSL *, SSL_free)

/* A value computed once: not yet tried, or tried with result r (0 ok, negative errno). */
typedef struct Lazy {
        bool tried;
        int r;
} Lazy;

struct ObCheckContext {
        char *config_path;
        int64_t now_s;
        ObConfig *config; /* NULL: invalid (the config check says why) */
        Lazy config_lazy;
        char config_err[OB_CHECK_DETAIL_MAX];
        size_t config_warnings;

        Lazy state_lazy; /* -ENOENT: a fresh device */
        json_object *state;
        ObStoreLoadInfo info;
        const char *stage; /* "new" when there is no state */
        uint64_t gen;      /* the generation whose key and certificate count, 0 none */
        bool onboarded;

#ifdef HAVE_TPM
        Lazy tpm_lazy;
        ObTpm *tpm;
        char tpm_err[256];
        bool tpm_no_access; /* the device node exists, this user may not open it */
#endif
        Lazy key_lazy; /* -ENOENT: no device key yet */
        char key_path[512], cert_path[512];
        EVP_PKEY *device_pub;
        char key_err[OB_CHECK_DETAIL_MAX + 600];

        Lazy dns_lazy;
        struct addrinfo *addrs;
        char port[16];
        Lazy tcp_lazy;
        char tcp_detail[256];
};

_printf_(3, 4) static void say(ObCheckOutcome *o, ObHealthResult r, const char *fmt, ...)
{
        va_list ap;

        o->result = r;
        va_start(ap, fmt);
        vsnprintf(o->detail, sizeof(o->detail), fmt, ap);
        va_end(ap);
}

_printf_(2, 3) static void hint(ObCheckOutcome *o, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(o->hint, sizeof(o->hint), fmt, ap);
        va_end(ap);
}

static bool access_error(int r)
{
        return r == -EACCES || r == -EPERM;
}

/* The public half of a PEM private key file (software keys: the claim, a software device key). */
static int read_private_key_pub(const char *path, EVP_PKEY **ret)
{
        _cleanup_free_ char *pem = NULL;
        size_t n = 0;
        BIO *b;
        EVP_PKEY *k;
        int r;

        r = ob_fs_read_file(path, 0, MAX_PEM_FILE, &pem, &n);
        if (r < 0)
                return r;
        b = BIO_new_mem_buf(pem, (int)n);
        if (!b)
                return -ENOMEM;
        k = PEM_read_bio_PrivateKey_ex(b, NULL, NULL, NULL, NULL, "provider=default");
        BIO_free(b);
        OPENSSL_cleanse(pem, n);
        ERR_clear_error();
        if (!k)
                return -EBADMSG;
        *ret = k;
        return 0;
}

/* ------------------------------------------------------------------ shared inputs */

static int need_config(ObCheckContext *ctx)
{
        ObConfigDiags d = {0};
        int r;

        if (ctx->config_lazy.tried)
                return ctx->config_lazy.r;
        ctx->config_lazy.tried = true;
        r = ob_config_load(ctx->config_path, NULL, &ctx->config, &d);
        ctx->config_warnings = d.n_warnings;
        for (size_t i = 0; i < d.n; i++) {
                _cleanup_free_ char *line = NULL;
                /* the first error, or else the first warning */
                if ((r < 0) != (d.items[i].severity == OB_CONFIG_ERROR))
                        continue;
                if (ob_config_diag_format(&d.items[i], &line) >= 0)
                        snprintf(ctx->config_err, sizeof(ctx->config_err), "%s", line);
                break;
        }
        ob_config_diags_clear(&d);
        ctx->config_lazy.r = r;
        return r;
}

static bool no_config(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (need_config(ctx) >= 0)
                return false;
        say(o, OB_HEALTH_SKIP, "the configuration is not usable (see check config)");
        return true;
}

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;

        if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                return json_object_get_string(v);
        return NULL;
}

static uint64_t jgen(json_object *o, const char *key)
{
        json_object *s, *v;

        if (o && json_object_object_get_ex(o, key, &s) && s &&
            json_object_object_get_ex(s, "generation", &v) && json_object_is_type(v, json_type_int))
                return (uint64_t)json_object_get_int64(v);
        return 0;
}

static int need_state(ObCheckContext *ctx)
{
        _cleanup_(ob_store_freep) ObStore *store = NULL;
        int r;

        if (ctx->state_lazy.tried)
                return ctx->state_lazy.r;
        ctx->state_lazy.tried = true;
        ctx->stage = "new";
        r = ob_store_open(ctx->config->paths.state_dir, "state.json", NULL, &store);
        if (r >= 0)
                r = ob_store_load(store, &ctx->state, &ctx->info);
        if (r >= 0) {
                const char *s = jstr(ctx->state, "stage");
                ObOnboardStage st;
                if (s && ob_onboard_stage_from_string(s, &st) >= 0)
                        ctx->stage = ob_onboard_stage_to_string(st);
                /* a committed identity counts, also while a rotation builds the next slot
                 * (the stage then describes the rotation) */
                ctx->onboarded = (s && strcmp(ctx->stage, "onboarded") == 0) ||
                                 jgen(ctx->state, "current") > 0;
                ctx->gen =
                        ctx->onboarded ? jgen(ctx->state, "current") : jgen(ctx->state, "pending");
        }
        ctx->state_lazy.r = r;
        return r;
}

/* ------------------------------------------------------------------ config */

static void check_config(ObCheckContext *ctx, ObCheckOutcome *o)
{
        int r = need_config(ctx);

        if (r == -ENOMEM) {
                say(o, OB_HEALTH_FAIL, "out of memory");
                return;
        }
        if (r < 0) {
                say(o, OB_HEALTH_FAIL, "%s", ctx->config_err[0] ? ctx->config_err : "invalid");
                hint(o, "run 'agentctl config check' and fix %s", ctx->config_path);
                return;
        }
        if (ctx->config_warnings > 0) {
                say(o, OB_HEALTH_WARN, "%zu warning%s: %s", ctx->config_warnings,
                    ctx->config_warnings == 1 ? "" : "s", ctx->config_err);
                hint(o, "run 'agentctl config check' for every warning");
                return;
        }
        say(o, OB_HEALTH_PASS, "%s is valid (method %s)", ctx->config_path,
            ob_provisioning_method_to_string(ctx->config->provisioning.method));
}

/* ------------------------------------------------------------------ state-file */

static void check_state_file(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const char *dir;
        int r;

        if (no_config(ctx, o))
                return;
        dir = ctx->config->paths.state_dir;
        r = need_state(ctx);
        if (r == -ENOENT) {
                say(o, OB_HEALTH_PASS, "no %s/state.json yet: a fresh device", dir);
                return;
        }
        if (access_error(r)) {
                say(o, OB_HEALTH_WARN, "%s/state.json is not readable by this user", dir);
                hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r == -EPROTONOSUPPORT) {
                say(o, OB_HEALTH_FAIL, "%s/state.json was written by a newer agent", dir);
                hint(o, "install that agent version again; an older one never overwrites it");
                return;
        }
        if (r == -EBADMSG) {
                say(o, OB_HEALTH_FAIL, "%s/state.json and state.json.prev are both corrupt", dir);
                hint(o, "the daemon refuses to start: keep both files for a bug report and follow "
                        "docs/state.md (recovery)");
                return;
        }
        if (r < 0) {
                say(o, OB_HEALTH_FAIL, "%s/state.json cannot be read: %s", dir, strerror(-r));
                hint(o, "check the file system that holds %s", dir);
                return;
        }
        if (ctx->info.source == OB_STORE_SOURCE_PREV) {
                say(o, OB_HEALTH_WARN,
                    "state.json is damaged (%s): the previous copy (generation %llu, stage %s) "
                    "is in use",
                    ctx->info.main_reason, (unsigned long long)ctx->info.generation, ctx->stage);
                hint(o, "the agent rewrites state.json at its next save; a recurring damage "
                        "points at the storage (power cuts without data journaling?)");
                return;
        }
        say(o, OB_HEALTH_PASS, "intact, generation %llu, stage %s",
            (unsigned long long)ctx->info.generation, ctx->stage);
}

/* ------------------------------------------------------------------ clock */

static void check_clock(ObCheckContext *ctx, ObCheckOutcome *o)
{
        struct timex tx = {0};
        char now[32], floor[32];
        const char *sync = "";
        int s;

        ob_cli_iso_time(ctx->now_s, now, sizeof(now));
        ob_cli_iso_time(OB_BUILD_EPOCH, floor, sizeof(floor));
        s = adjtimex(&tx);
        if (s == TIME_ERROR)
                sync = "; the kernel says it is not synchronized";
        else if (s >= 0)
                sync = "; synchronized";
        if (!ob_clock_plausible(ctx->now_s, OB_BUILD_EPOCH)) {
                say(o, OB_HEALTH_FAIL, "the wall clock (%s) is before the build date (%s)%s", now,
                    floor, sync);
                hint(o, "set the time (NTP: systemd-timesyncd, chrony; or an RTC): the agent makes "
                        "no certificate decision before that");
                return;
        }
        say(o, OB_HEALTH_PASS, "%s, after the build date %s%s", now, floor, sync);
}

/* ------------------------------------------------------------------ TPM */

#ifdef HAVE_TPM
static bool tpm_backend(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (no_config(ctx, o))
                return false;
        if (ctx->config->key.backend == OB_KEY_BACKEND_SOFTWARE) {
                say(o, OB_HEALTH_SKIP, "key.backend is software: no TPM in use");
                return false;
        }
        return true;
}

static int need_tpm(ObCheckContext *ctx)
{
        const char *tcti = ctx->config->tpm.tcti ? ctx->config->tpm.tcti : OB_TPM_DEFAULT_TCTI;
        ObTpmOptions opts = {
                .tcti = tcti,
                .srk_handle = ctx->config->tpm.srk_handle,
                .owner_auth_file = ctx->config->tpm.owner_auth_file,
        };

        if (ctx->tpm_lazy.tried)
                return ctx->tpm_lazy.r;
        ctx->tpm_lazy.tried = true;
        /* "device:/dev/tpmrm0": say "no access" rather than "no TPM" when that is the reason */
        if (strncmp(tcti, "device:", 7) == 0 && access(tcti + 7, F_OK) == 0 &&
            access(tcti + 7, R_OK | W_OK) < 0 && access_error(-errno)) {
                ctx->tpm_no_access = true;
                snprintf(ctx->tpm_err, sizeof(ctx->tpm_err), "%s is not accessible to this user",
                         tcti + 7);
                return (ctx->tpm_lazy.r = -EACCES);
        }
        ctx->tpm_lazy.r = ob_tpm_open(&opts, &ctx->tpm, ctx->tpm_err, sizeof(ctx->tpm_err));
        /* a resource manager behind D-Bus (tabrmd) refuses other users without saying why:
         * without root, "no TPM" may well be "no access" */
        if (access_error(ctx->tpm_lazy.r) || (ctx->tpm_lazy.r == -ENODEV && geteuid() != 0))
                ctx->tpm_no_access = true;
        return ctx->tpm_lazy.r;
}

/* For the checks that need an open TPM: true when it is there, else o says skip. */
static bool have_tpm(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (!tpm_backend(ctx, o))
                return false;
        if (need_tpm(ctx) >= 0)
                return true;
        say(o, OB_HEALTH_SKIP, "the TPM is not reachable (see check tpm)");
        return false;
}

static void check_tpm(ObCheckContext *ctx, ObCheckOutcome *o)
{
        int r;

        if (!tpm_backend(ctx, o))
                return;
        r = need_tpm(ctx);
        if (r >= 0) {
                say(o, OB_HEALTH_PASS, "reachable through %s",
                    ctx->config->tpm.tcti ? ctx->config->tpm.tcti : OB_TPM_DEFAULT_TCTI);
                return;
        }
        if (ctx->tpm_no_access) {
                say(o, OB_HEALTH_WARN, "%s%s", ctx->tpm_err,
                    r == -ENODEV ? " (not root: maybe no access)" : "");
                hint(o, "run agentctl check as root or as a member of the tss group");
                return;
        }
        if (r == -EINVAL || (r < 0 && ctx->tpm_err[0] == 0)) {
                say(o, OB_HEALTH_FAIL, "cannot use the TPM options: %s", strerror(-r));
                hint(o, "check tpm.srk_handle and tpm.owner_auth_file (mode 0600)");
                return;
        }
        say(o, OB_HEALTH_FAIL, "%s", ctx->tpm_err);
        hint(o, "is there a TPM (/dev/tpmrm0, kernel tpm_tis/tpm_crb) or a resource manager "
                "(tpm2-abrmd)? check tpm.tcti");
}

static void check_srk(ObCheckContext *ctx, ObCheckOutcome *o)
{
        uint32_t h;
        int r;

        if (!have_tpm(ctx, o))
                return;
        h = ctx->config->tpm.srk_handle ? ctx->config->tpm.srk_handle : OB_TPM_DEFAULT_SRK;
        r = ob_tpm_check_srk(ctx->tpm);
        if (r >= 0) {
                say(o, OB_HEALTH_PASS, "ECC P-256 storage key at 0x%08x", h);
                return;
        }
        if (r == -ENOENT && ob_tpm_srk_transient_if_full(ctx->tpm) > 0) {
                /* what the daemon does then (docs/tpm.md): the checks below use it too */
                say(o, OB_HEALTH_WARN,
                    "no SRK at 0x%08x and no free persistent handle: the agent runs on a "
                    "transient SRK (the same key), so the device key loads and signs, but TLS "
                    "with it (the tpm2 provider looks for the SRK at 0x%08x) waits",
                    h, h);
                hint(o, "free a persistent handle: tpm2_getcap handles-persistent lists them, "
                        "tpm2_evictcontrol -C o -c HANDLE evicts one no longer needed; the agent "
                        "then persists the SRK at its next TPM use");
                return;
        }
        if (r == -ENOENT) {
                (void)need_config(ctx);
                if (need_state(ctx) >= 0 && ctx->gen > 0) {
                        say(o, OB_HEALTH_FAIL, "no SRK at 0x%08x, but a device key exists", h);
                        hint(o, "the TPM was cleared or tpm.srk_handle changed: restore the "
                                "handle, or onboard the device again (docs/tpm.md)");
                } else {
                        say(o, OB_HEALTH_WARN, "no SRK at 0x%08x yet", h);
                        hint(o, "the agent creates it at its first start");
                }
                return;
        }
        say(o, OB_HEALTH_FAIL, "%s", ob_tpm_last_error(ctx->tpm));
        if (r == -EEXIST)
                hint(o, "configure another tpm.srk_handle or evict the object at 0x%08x", h);
        else
                hint(o, "see docs/tpm.md");
}

static int locate_device_files(ObCheckContext *ctx);

static void check_da_lockout(ObCheckContext *ctx, ObCheckOutcome *o)
{
        ObTpmDaStatus da;
        int r;

        if (!have_tpm(ctx, o))
                return;
        r = ob_tpm_da_status(ctx->tpm, &da);
        if (r < 0) {
                say(o, OB_HEALTH_FAIL, "%s", ob_tpm_last_error(ctx->tpm));
                hint(o, "see docs/tpm.md");
                return;
        }
        if (da.in_lockout) {
                /* a noDA device key (made since the template has noDA) signs on; an older key,
                 * or a vendor key without noDA, cannot; a key that does not load counts as
                 * stopped (the device-key check says why) */
                bool have_key = locate_device_files(ctx) >= 0;
                bool stopped = have_key && ob_tpm_key_da_protected(ctx->tpm, ctx->key_path) != 0;
                say(o, stopped ? OB_HEALTH_FAIL : OB_HEALTH_WARN,
                    "in dictionary-attack lockout: %u of %u failed authorizations, one forgotten "
                    "every %u s; %s",
                    da.counter, da.max_tries, da.interval_s,
                    stopped    ? "the device key is DA-protected and cannot sign until it ends"
                    : have_key ? "the device key is noDA and still signs"
                               : "no device key yet (the agent makes noDA keys)");
                hint(o,
                     "wait, or clear it with the lockout authorization "
                     "(tpm2_dictionarylockout --clear-lockout); find what sends wrong "
                     "passwords%s",
                     stopped ? "; then `agentctl rotate` makes a noDA key" : "");
                return;
        }
        if (da.counter > 0) {
                say(o, OB_HEALTH_WARN,
                    "%u of %u failed authorizations counted (lockout at %u; one forgotten every "
                    "%u s)",
                    da.counter, da.max_tries, da.max_tries, da.interval_s);
                hint(o, "something used a wrong TPM password (tpm.owner_auth_file?)");
                return;
        }
        say(o, OB_HEALTH_PASS, "not locked out, 0 of %u failed authorizations", da.max_tries);
}
#else
static void no_tpm_build(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (no_config(ctx, o))
                return;
        if (ctx->config->key.backend == OB_KEY_BACKEND_SOFTWARE)
                say(o, OB_HEALTH_SKIP, "key.backend is software: no TPM in use");
        else {
                say(o, OB_HEALTH_FAIL,
                    "key.backend is tpm but agentctl was built without TPM "
                    "support");
                hint(o, "build with tpm2-tss, or set key.backend to software");
        }
}
#define check_tpm          no_tpm_build
#define check_srk          no_tpm_build
#define check_da_lockout   no_tpm_build
#define check_tls_provider no_tpm_build
#endif

/* ------------------------------------------------------------------ device key and cert */

static bool tpm_key(const ObCheckContext *ctx)
{
        return ctx->config->key.backend == OB_KEY_BACKEND_TPM;
}

static bool factory_method(const ObCheckContext *ctx)
{
        return ob_onboard_method_uses_factory_cert(ctx->config);
}

/*
 * Where the device key and certificate are: credentials/current (onboarded) or the pending
 * slot; a vendor's key at a persistent handle; for static/jitp/jitr before the first
 * connect, the factory files (configured, or <state_dir>/factory/) when they exist.
 * 0, or -ENOENT: none yet.
 */
static int locate_device_files(ObCheckContext *ctx)
{
        const ObConfig *c = ctx->config;
        const char *dir = c->paths.state_dir;
        int r;

        r = need_state(ctx);
        if (r < 0 && r != -ENOENT)
                return r;
        if (ctx->onboarded) {
                snprintf(ctx->key_path, sizeof(ctx->key_path), "%s/%s/%s/device.key", dir,
                         OB_CREDS_DIR, OB_CREDS_CURRENT);
                snprintf(ctx->cert_path, sizeof(ctx->cert_path), "%s/%s/%s/device.crt", dir,
                         OB_CREDS_DIR, OB_CREDS_CURRENT);
        } else if (ctx->gen > 0) {
                snprintf(ctx->key_path, sizeof(ctx->key_path), "%s/%s/%llu/device.key", dir,
                         OB_CREDS_DIR, (unsigned long long)ctx->gen);
                snprintf(ctx->cert_path, sizeof(ctx->cert_path), "%s/%s/%llu/device.crt", dir,
                         OB_CREDS_DIR, (unsigned long long)ctx->gen);
        } else if (factory_method(ctx)) {
                _cleanup_(ob_factory_paths_done) ObFactoryPaths fp = {0};

                if (ob_factory_paths(c, &fp) < 0)
                        return -ENOMEM;
                if (access(fp.cert, F_OK) == 0)
                        snprintf(ctx->cert_path, sizeof(ctx->cert_path), "%s", fp.cert);
                if (fp.key_handle || access(fp.key, F_OK) == 0)
                        snprintf(ctx->key_path, sizeof(ctx->key_path), "%s", fp.key);
        }
        if (ctx->key_path[0] && !ob_key_path_is_handle(ctx->key_path)) {
                /* a slot made from the vendor's key has no key file: the handle (as the agent) */
                _cleanup_free_ char *k = ob_factory_slot_key(c, ctx->key_path);
                if (!k)
                        return -ENOMEM;
                snprintf(ctx->key_path, sizeof(ctx->key_path), "%s", k);
        }
        return ctx->key_path[0] ? 0 : -ENOENT;
}

static int need_device_key(ObCheckContext *ctx)
{
        int r;

        if (ctx->key_lazy.tried)
                return ctx->key_lazy.r;
        ctx->key_lazy.tried = true;
        r = locate_device_files(ctx);
        if (r < 0)
                return (ctx->key_lazy.r = r);
        if (tpm_key(ctx)) {
#ifdef HAVE_TPM
                r = need_tpm(ctx);
                if (r < 0)
                        return (ctx->key_lazy.r = -ENODEV);
                r = ob_tpm_load_key(ctx->tpm, ctx->key_path, &ctx->device_pub);
                if (r < 0)
                        snprintf(ctx->key_err, sizeof(ctx->key_err), "%s",
                                 ob_tpm_last_error(ctx->tpm));
#else
                r = -EOPNOTSUPP;
#endif
        } else {
                r = read_private_key_pub(ctx->key_path, &ctx->device_pub);
        }
        if (r < 0 && !ctx->key_err[0])
                snprintf(ctx->key_err, sizeof(ctx->key_err), "%s: %s", ctx->key_path,
                         r == -EBADMSG ? "not a private key" : strerror(-r));
        return (ctx->key_lazy.r = r);
}

static void check_device_key(ObCheckContext *ctx, ObCheckOutcome *o)
{
        int r;

        if (no_config(ctx, o))
                return;
        r = need_device_key(ctx);
        if (r == -ENOENT && !ctx->key_path[0]) {
                say(o, OB_HEALTH_SKIP, "no device key yet (stage %s)",
                    ctx->stage ? ctx->stage : "unknown");
                hint(o,
                     factory_method(ctx)
                             ? "method %s uses the factory key: create it with agentctl "
                               "factory csr"
                             : "the agent creates it when onboarding starts",
                     ob_provisioning_method_to_string(ctx->config->provisioning.method));
                return;
        }
        if (r == -ENODEV) {
                say(o, OB_HEALTH_SKIP, "the TPM is not reachable (see check tpm)");
                return;
        }
        if (access_error(r) || (r < 0 && access_error(need_state(ctx)))) {
                say(o, OB_HEALTH_WARN, "%s",
                    ctx->key_err[0] ? ctx->key_err : "state.json is not readable");
                hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r < 0) {
                say(o, OB_HEALTH_FAIL, "%s", ctx->key_err);
                hint(o, r == -EBADMSG || r == -EXDEV
                                ? "the key does not belong to this TPM and SRK (TPM cleared, "
                                  "board swapped?): onboard the device again (docs/tpm.md)"
                        : r == -ENOLCK ? "the TPM is locked out: see check da-lockout"
                                       : "see docs/tpm.md");
                return;
        }
        say(o, OB_HEALTH_PASS, "%s %s (%s)",
            tpm_key(ctx) ? "loads in the TPM:" : "readable:", ctx->key_path,
            ctx->onboarded ? "current generation" : "pending, not onboarded yet");
}

static void check_key_cert_match(ObCheckContext *ctx, ObCheckOutcome *o)
{
        _cleanup_(X509_freep) X509 *cert = NULL;
        int r;

        if (no_config(ctx, o))
                return;
        r = need_device_key(ctx);
        if (r < 0) {
                say(o, OB_HEALTH_SKIP, "no usable device key (see check device-key)");
                return;
        }
        if (!ctx->cert_path[0]) {
                say(o, OB_HEALTH_SKIP, "no device certificate yet (stage %s)", ctx->stage);
                if (factory_method(ctx))
                        hint(o, "install one with agentctl factory install-cert");
                return;
        }
        r = ob_x509_from_file(ctx->cert_path, &cert);
        if (r == -ENOENT && !ctx->onboarded) {
                say(o, OB_HEALTH_SKIP, "no device certificate yet (stage %s)", ctx->stage);
                return;
        }
        if (access_error(r)) {
                say(o, OB_HEALTH_WARN, "%s is not readable by this user", ctx->cert_path);
                hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r < 0) {
                say(o, OB_HEALTH_FAIL, "%s: %s", ctx->cert_path,
                    r == -EBADMSG ? "not a PEM certificate" : strerror(-r));
                hint(o, "the credentials are damaged: onboard the device again");
                return;
        }
        if (ob_x509_matches_key(cert, ctx->device_pub) < 0) {
                say(o, OB_HEALTH_FAIL, "%s is not for the key %s", ctx->cert_path, ctx->key_path);
                hint(o, "the credentials are mixed up: onboard the device again");
                return;
        }
        say(o, OB_HEALTH_PASS, "%s carries the device key's public half", ctx->cert_path);
}

static void check_cert_expiry(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const ObConfig *c;
        _cleanup_(X509_freep) X509 *cert = NULL;
        int64_t nb, na, due;
        char a[32], b[32];
        int r;

        if (no_config(ctx, o))
                return;
        c = ctx->config;
        r = locate_device_files(ctx);
        if (access_error(r) || access_error(need_state(ctx))) {
                say(o, OB_HEALTH_WARN, "state.json is not readable by this user");
                hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (!ctx->onboarded && !(factory_method(ctx) && ctx->cert_path[0])) {
                say(o, OB_HEALTH_SKIP, "not onboarded yet (stage %s)", ctx->stage);
                if (factory_method(ctx))
                        hint(o, "no factory certificate: install one with agentctl factory "
                                "install-cert");
                return;
        }
        r = ob_x509_from_file(ctx->cert_path, &cert);
        if (access_error(r)) {
                say(o, OB_HEALTH_WARN, "%s is not readable by this user", ctx->cert_path);
                hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r >= 0)
                r = ob_x509_validity(cert, &nb, &na);
        if (r >= 0)
                r = ob_health_rotation_due(nb, na, c->rotation.lifetime_fraction,
                                           c->rotation.days_before_expiry, c->rotation.max_age_days,
                                           &due);
        if (r < 0) {
                say(o, OB_HEALTH_FAIL, "%s: %s", ctx->cert_path,
                    r == -EINVAL ? "validity period is empty" : strerror(-r));
                hint(o, "the credentials are damaged: onboard the device again");
                return;
        }
        switch (ob_health_cert_validity(ctx->now_s, nb, na, due)) {
        case OB_HEALTH_FAIL:
                if (ctx->now_s < nb) {
                        say(o, OB_HEALTH_FAIL, "not valid before %s",
                            ob_cli_iso_time(nb, a, sizeof(a)));
                        hint(o, "the wall clock is behind: see check clock");
                } else {
                        say(o, OB_HEALTH_FAIL, "expired %s", ob_cli_iso_time(na, a, sizeof(a)));
                        hint(o, factory_method(ctx)
                                        ? "the device cannot connect any more: install a new "
                                          "certificate (agentctl factory install-cert) and "
                                          "reprovision"
                                        : "the device cannot connect any more: it must be "
                                          "onboarded again (docs/operations.md)");
                }
                return;
        case OB_HEALTH_WARN:
                say(o, OB_HEALTH_WARN, "expires %s; inside the rotation window since %s",
                    ob_cli_iso_time(na, a, sizeof(a)), ob_cli_iso_time(due, b, sizeof(b)));
                if (!ob_onboard_can_rotate(c))
                        hint(o,
                             "method %s has no fleet provisioning template to renew with "
                             "(set rotation.template): install a new certificate before it "
                             "expires",
                             ob_provisioning_method_to_string(c->provisioning.method));
                else if (c->rotation.enabled)
                        hint(o, "the agent should be rotating it: see 'agentctl status' "
                                "(last_error) and its log");
                else
                        hint(o, "rotation.enabled is false: renew the certificate before it "
                                "expires");
                return;
        case OB_HEALTH_PASS:
        case OB_HEALTH_SKIP:
        case _OB_HEALTH_RESULT_MAX:
                break;
        }
        if (!ob_onboard_can_rotate(c))
                say(o, OB_HEALTH_PASS,
                    "valid until %s; no automatic renewal (method %s has no "
                    "fleet provisioning template)",
                    ob_cli_iso_time(na, a, sizeof(a)),
                    ob_provisioning_method_to_string(c->provisioning.method));
        else
                say(o, OB_HEALTH_PASS, "valid until %s; rotation due %s",
                    ob_cli_iso_time(na, a, sizeof(a)), ob_cli_iso_time(due, b, sizeof(b)));
}

/* ------------------------------------------------------------------ claim-cert */

static void check_claim_cert(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const ObConfig *c;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *cn = NULL;
        int64_t nb, na;
        char a[32];
        int r;

        if (no_config(ctx, o))
                return;
        c = ctx->config;
        if (c->provisioning.method == OB_METHOD_FLEET_TRUSTED_USER) {
                say(o, OB_HEALTH_SKIP,
                    "fleet-trusted-user: a temporary claim comes with "
                    "'agentctl provision'");
                return;
        }
        if (c->provisioning.method != OB_METHOD_FLEET_CLAIM || !c->provisioning.claim_cert) {
                say(o, OB_HEALTH_SKIP, "method %s uses no claim certificate",
                    ob_provisioning_method_to_string(c->provisioning.method));
                return;
        }
        (void)need_state(ctx);
        r = ob_x509_from_file(c->provisioning.claim_cert, &cert);
        if (r == -ENOENT && ctx->onboarded) {
                say(o, OB_HEALTH_PASS, "%s is gone; not needed: the device is onboarded",
                    c->provisioning.claim_cert);
                return;
        }
        if (access_error(r)) {
                say(o, OB_HEALTH_WARN, "%s is not readable by this user",
                    c->provisioning.claim_cert);
                hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r >= 0)
                r = ob_x509_validity(cert, &nb, &na);
        if (r < 0) {
                say(o, OB_HEALTH_FAIL, "%s: %s", c->provisioning.claim_cert,
                    r == -EBADMSG ? "not a PEM certificate" : strerror(-r));
                hint(o, "install the batch claim certificate (provisioning.claim_cert)");
                return;
        }
        (void)ob_x509_subject_cn(cert, &cn);
        if (ctx->now_s >= na || ctx->now_s < nb) {
                bool expired = ctx->now_s >= na;
                say(o, ctx->onboarded ? OB_HEALTH_WARN : OB_HEALTH_FAIL, "%s (CN=%s) %s %s",
                    c->provisioning.claim_cert, cn ? cn : "?",
                    expired ? "expired" : "is not valid before",
                    ob_cli_iso_time(expired ? na : nb, a, sizeof(a)));
                hint(o,
                     expired ? "install a current claim certificate and key from the "
                               "manufacturer%s"
                             : "the wall clock is behind: see check clock%s",
                     ctx->onboarded ? " (only needed to onboard again)" : "");
                return;
        }
        r = read_private_key_pub(c->provisioning.claim_key, &key);
        if (access_error(r)) {
                say(o, OB_HEALTH_WARN, "%s is not readable by this user",
                    c->provisioning.claim_key);
                hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r < 0 || ob_x509_matches_key(cert, key) < 0) {
                say(o, OB_HEALTH_FAIL, "%s: %s", c->provisioning.claim_key,
                    r < 0 ? (r == -EBADMSG ? "not a private key" : strerror(-r))
                          : "does not match the claim certificate");
                hint(o, "install the claim key that belongs to %s", c->provisioning.claim_cert);
                return;
        }
        if (na - ctx->now_s < (int64_t)CLAIM_WARN_DAYS * DAY_S && !ctx->onboarded) {
                say(o, OB_HEALTH_WARN, "CN=%s expires %s, in less than %d days", cn ? cn : "?",
                    ob_cli_iso_time(na, a, sizeof(a)), CLAIM_WARN_DAYS);
                hint(o, "onboard soon, or get a newer claim from the manufacturer");
                return;
        }
        say(o, OB_HEALTH_PASS, "CN=%s valid until %s, key matches", cn ? cn : "?",
            ob_cli_iso_time(na, a, sizeof(a)));
}

/* ------------------------------------------------------------------ dns, tcp */

static int need_dns(ObCheckContext *ctx)
{
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        int r;

        if (ctx->dns_lazy.tried)
                return ctx->dns_lazy.r;
        ctx->dns_lazy.tried = true;
        snprintf(ctx->port, sizeof(ctx->port), "%u", ctx->config->endpoint.port);
        r = getaddrinfo(ctx->config->endpoint.host, ctx->port, &hints, &ctx->addrs);
        return (ctx->dns_lazy.r = r == 0 ? 0 : r);
}

static void check_dns(ObCheckContext *ctx, ObCheckOutcome *o)
{
        char ip[INET6_ADDRSTRLEN];
        int r;

        if (no_config(ctx, o))
                return;
        r = need_dns(ctx);
        if (r != 0) {
                say(o, OB_HEALTH_FAIL, "%s: %s", ctx->config->endpoint.host,
                    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
                hint(o, "check endpoint.host (aws iot describe-endpoint --endpoint-type "
                        "iot:Data-ATS) and the resolver (/etc/resolv.conf)");
                return;
        }
        if (getnameinfo(ctx->addrs->ai_addr, ctx->addrs->ai_addrlen, ip, sizeof(ip), NULL, 0,
                        NI_NUMERICHOST) != 0)
                snprintf(ip, sizeof(ip), "?");
        say(o, OB_HEALTH_PASS, "%s resolves to %s%s", ctx->config->endpoint.host, ip,
            ctx->addrs->ai_next ? " (and more)" : "");
}

static int timeout_ms(const ObCheckContext *ctx)
{
        return (int)OB_MIN(ctx->config->endpoint.connect_timeout_ms, (uint64_t)MAX_NET_TIMEOUT_MS);
}

/* Connect to one address within the timeout: a connected blocking socket, or negative errno. */
static int connect_one(const struct addrinfo *a, int tmo_ms)
{
        _cleanup_close_ int fd = -1;
        struct pollfd p;
        int err = 0, r;
        socklen_t l = sizeof(err);

        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0)
                return -errno;
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
                if (errno != EINPROGRESS)
                        return -errno;
                p = (struct pollfd){.fd = fd, .events = POLLOUT};
                do
                        r = poll(&p, 1, tmo_ms);
                while (r < 0 && errno == EINTR);
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        return -errno;
                if (err != 0)
                        return -err;
        }
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* Connect to the first address that answers; ret_addr names it. */
static int connect_endpoint(ObCheckContext *ctx, char *ret_addr, size_t n)
{
        int r = -EHOSTUNREACH;

        for (const struct addrinfo *a = ctx->addrs; a; a = a->ai_next) {
                char ip[INET6_ADDRSTRLEN];
                if (getnameinfo(a->ai_addr, a->ai_addrlen, ip, sizeof(ip), NULL, 0,
                                NI_NUMERICHOST) != 0)
                        snprintf(ip, sizeof(ip), "?");
                snprintf(ret_addr, n, "%s%s%s:%s", strchr(ip, ':') ? "[" : "", ip,
                         strchr(ip, ':') ? "]" : "", ctx->port);
                r = connect_one(a, timeout_ms(ctx));
                if (r >= 0)
                        return r;
        }
        return r;
}

static bool have_addresses(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (no_config(ctx, o))
                return false;
        if (need_dns(ctx) == 0)
                return true;
        say(o, OB_HEALTH_SKIP, "%s does not resolve (see check dns)", ctx->config->endpoint.host);
        return false;
}

static int need_tcp(ObCheckContext *ctx)
{
        char addr[ADDR_MAX];
        struct timespec t0, t1;
        int fd;

        if (ctx->tcp_lazy.tried)
                return ctx->tcp_lazy.r;
        ctx->tcp_lazy.tried = true;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        fd = connect_endpoint(ctx, addr, sizeof(addr));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (fd < 0) {
                snprintf(ctx->tcp_detail, sizeof(ctx->tcp_detail), "%s: %s", addr,
                         fd == -ETIMEDOUT ? "no answer within the connect timeout" : strerror(-fd));
                return (ctx->tcp_lazy.r = fd);
        }
        close(fd);
        snprintf(ctx->tcp_detail, sizeof(ctx->tcp_detail), "connected to %s in %lld ms", addr,
                 (long long)(t1.tv_sec - t0.tv_sec) * 1000 +
                         (long long)(t1.tv_nsec - t0.tv_nsec) / 1000000);
        return (ctx->tcp_lazy.r = 0);
}

static void check_tcp(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (!have_addresses(ctx, o))
                return;
        if (need_tcp(ctx) >= 0) {
                say(o, OB_HEALTH_PASS, "%s", ctx->tcp_detail);
                return;
        }
        say(o, OB_HEALTH_FAIL, "%s", ctx->tcp_detail);
        hint(o,
             "a firewall or proxy in the way? outbound TCP %u must be open (endpoint.alpn "
             "uses 443)",
             ctx->config->endpoint.port);
}

/* ------------------------------------------------------------------ tls */

typedef struct VerifyNote {
        int error; /* the first verification error */
        char subject[200];
} VerifyNote;

static int verify_note_index = -1;

static void name_text(X509_NAME *n, char *buf, size_t size)
{
        BIO *b = BIO_new(BIO_s_mem());
        int k;

        buf[0] = 0;
        if (!b)
                return;
        if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
                k = BIO_read(b, buf, (int)size - 1);
                buf[k > 0 ? k : 0] = 0;
        }
        BIO_free(b);
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
        SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
        VerifyNote *n = ssl ? SSL_get_ex_data(ssl, verify_note_index) : NULL;

        if (!ok && n && n->error == 0) {
                X509 *c = X509_STORE_CTX_get_current_cert(x);
                n->error = X509_STORE_CTX_get_error(x);
                if (c)
                        name_text(X509_get_subject_name(c), n->subject, sizeof(n->subject));
        }
        return ok;
}

static void chain_text(SSL *ssl, char *buf, size_t size)
{
        STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
        size_t used = 0;

        buf[0] = 0;
        for (int i = 0; chain && i < sk_X509_num(chain) && used + 1 < size; i++) {
                char s[200];
                name_text(X509_get_subject_name(sk_X509_value(chain, i)), s, sizeof(s));
                used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " <- " : "", s);
        }
}

static const char *ssl_error_text(char *buf, size_t n)
{
        unsigned long e = ERR_peek_last_error();

        if (e)
                ERR_error_string_n(e, buf, n);
        else
                snprintf(buf, n, "%s", errno ? strerror(errno) : "connection closed");
        ERR_clear_error();
        return buf;
}

/* Which client certificate the TLS check presents: the device's when onboarded, else the
 * claim's, else none. *ret_what says which and why. */
static void client_credentials(ObCheckContext *ctx, const char **ret_cert, const char **ret_key,
                               bool *ret_tpm, char *what, size_t n)
{
        const ObConfig *c = ctx->config;

        *ret_cert = *ret_key = NULL;
        *ret_tpm = false;
        if (need_device_key(ctx) >= 0 && ctx->onboarded && ctx->cert_path[0]) {
                *ret_cert = ctx->cert_path;
                *ret_key = ctx->key_path;
                *ret_tpm = tpm_key(ctx);
                snprintf(what, n, "device (%s key)", *ret_tpm ? "TPM" : "software");
                return;
        }
        if (ctx->onboarded) {
                snprintf(what, n, "none (device key not usable: see check device-key)");
                return;
        }
        if (c->provisioning.method == OB_METHOD_STATIC && need_device_key(ctx) >= 0 &&
            ctx->cert_path[0]) {
                *ret_cert = ctx->cert_path;
                *ret_key = ctx->key_path;
                *ret_tpm = tpm_key(ctx);
                snprintf(what, n, "factory certificate (%s key)", *ret_tpm ? "TPM" : "software");
                return;
        }
        if (c->provisioning.method == OB_METHOD_JITP || c->provisioning.method == OB_METHOD_JITR) {
                /* a check must not register the certificate (the first connect does) */
                snprintf(what, n, "none (%s: the agent's first connect registers the certificate)",
                         ob_provisioning_method_to_string(c->provisioning.method));
                return;
        }
        if (c->provisioning.method == OB_METHOD_FLEET_CLAIM && c->provisioning.claim_cert &&
            c->provisioning.claim_key && access(c->provisioning.claim_cert, R_OK) == 0 &&
            access(c->provisioning.claim_key, R_OK) == 0) {
                *ret_cert = c->provisioning.claim_cert;
                *ret_key = c->provisioning.claim_key;
                snprintf(what, n, "claim");
                return;
        }
        snprintf(what, n, "none");
}

/* The provider OpenSSL must prefer for the key (docs: DESIGN "provider choice per
 * connection"). 0, or -ENOPKG when the tpm2 provider is not installed. */
static OSSL_PROVIDER *tpm2; /* loaded once, for the life of agentctl */

static int select_provider(ObCheckContext *ctx, bool tpm)
{
        if (tpm && !tpm2) {
                if (ctx->config->tpm.tcti)
                        (void)setenv("TPM2OPENSSL_TCTI", ctx->config->tpm.tcti, 1);
                tpm2 = OSSL_PROVIDER_load(NULL, "tpm2");
                if (!tpm2) {
                        ERR_clear_error();
                        return -ENOPKG;
                }
        }
        return EVP_set_default_properties(NULL, ob_tls_default_properties(tpm)) ? 0 : -EINVAL;
}

#ifdef HAVE_TPM
/* The tpm2 provider OpenSSL uses for TLS with the TPM key loads, and is not a version known
 * to be unusable here (tpm2-openssl < 1.2.0 with a 32-bit long: lib/provider-compat.h). */
static void check_tls_provider(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const char *cert = NULL, *key = NULL;
        char who[96], version[32];
        bool tpm = false;

        if (!tpm_backend(ctx, o))
                return;
        /* before onboarding TLS still uses the claim, but the device key will be made in the
         * TPM: an operator checking a new gateway learns now that it could never connect */
        client_credentials(ctx, &cert, &key, &tpm, who, sizeof(who));
        if (select_provider(ctx, true) < 0) {
                say(o, OB_HEALTH_FAIL, "the OpenSSL tpm2 provider cannot be loaded");
                hint(o, "install tpm2-openssl (the agent needs it for TLS with the TPM key)");
                return;
        }
        if (ob_provider_tpm2_unusable(tpm2, version, sizeof(version))) {
                say(o, OB_HEALTH_FAIL,
                    "tpm2-openssl %s cannot use persistent TPM handles with a %zu-bit long "
                    "(\"handle value is out of range\"): no TLS with the TPM key works",
                    version, sizeof(long) * 8);
                hint(o, "upgrade tpm2-openssl to 1.2.0 or later (docs/tpm.md, supported "
                        "versions)");
                return;
        }
        say(o, OB_HEALTH_PASS, "tpm2-openssl %s%s", version,
            tpm ? "" : " (for the device key; TLS presents no TPM key yet)");
}
#endif

static void check_tls(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const ObConfig *c;
        _cleanup_(SSL_CTX_freep) SSL_CTX *sctx = NULL;
        _cleanup_(SSL_freep) SSL *ssl = NULL;
        _cleanup_close_ int fd = -1;
        const char *cert = NULL, *key = NULL;
        VerifyNote note = {0};
        char addr[ADDR_MAX], who[96], chain[OB_CHECK_DETAIL_MAX / 2], err[256];
        bool tpm = false, refused = false;
        struct timeval tv;
        int r, tmo;

        if (!have_addresses(ctx, o))
                return;
        if (need_tcp(ctx) < 0) {
                say(o, OB_HEALTH_SKIP, "no TCP connection (see check tcp)");
                return;
        }
        c = ctx->config;
        client_credentials(ctx, &cert, &key, &tpm, who, sizeof(who));
        if (select_provider(ctx, tpm) < 0) {
                say(o, OB_HEALTH_FAIL, "the OpenSSL tpm2 provider cannot be loaded");
                hint(o, "install tpm2-openssl (the agent needs it for TLS with the TPM key)");
                return;
        }
        sctx = SSL_CTX_new(TLS_client_method());
        if (!sctx) {
                say(o, OB_HEALTH_FAIL, "OpenSSL: %s", ssl_error_text(err, sizeof(err)));
                return;
        }
        (void)SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION);
        if (!c->endpoint.root_ca || SSL_CTX_load_verify_file(sctx, c->endpoint.root_ca) != 1) {
                say(o, OB_HEALTH_FAIL, "endpoint.root_ca %s cannot be read: %s",
                    c->endpoint.root_ca ? c->endpoint.root_ca : "(unset)",
                    ssl_error_text(err, sizeof(err)));
                hint(o, "install the Amazon root CA file named by endpoint.root_ca");
                return;
        }
        if (cert && (SSL_CTX_use_certificate_chain_file(sctx, cert) != 1 ||
                     (ob_key_path_is_handle(key)
                              ? ob_handle_key_use(sctx, key)
                              : SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM)) != 1)) {
                say(o, OB_HEALTH_FAIL, "cannot use the %s certificate %s with its key: %s", who,
                    cert, ssl_error_text(err, sizeof(err)));
                hint(o, "see checks device-key and key-cert-match");
                return;
        }
        SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, verify_cb);
        ssl = SSL_new(sctx);
        if (!ssl || SSL_set_tlsext_host_name(ssl, c->endpoint.host) != 1 ||
            SSL_set1_host(ssl, c->endpoint.host) != 1 ||
            (c->endpoint.alpn &&
             SSL_set_alpn_protos(ssl, (const unsigned char *)ALPN_AWS, sizeof(ALPN_AWS) - 1))) {
                say(o, OB_HEALTH_FAIL, "OpenSSL: %s", ssl_error_text(err, sizeof(err)));
                return;
        }
        if (verify_note_index < 0)
                verify_note_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        SSL_set_ex_data(ssl, verify_note_index, &note);

        fd = connect_endpoint(ctx, addr, sizeof(addr));
        if (fd < 0) {
                say(o, OB_HEALTH_FAIL, "%s: %s", addr, strerror(-fd));
                hint(o, "see check tcp");
                return;
        }
        tmo = timeout_ms(ctx);
        tv = (struct timeval){.tv_sec = tmo / 1000, .tv_usec = (tmo % 1000) * 1000};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        SSL_set_fd(ssl, fd);
        errno = 0;
        r = SSL_connect(ssl);
        if (r != 1) {
                if (note.error != 0) {
                        say(o, OB_HEALTH_FAIL, "server certificate %s: %s", note.subject,
                            X509_verify_cert_error_string(note.error));
                        if (note.error == X509_V_ERR_HOSTNAME_MISMATCH)
                                hint(o,
                                     "the server is not %s: check endpoint.host and any "
                                     "proxy in the way",
                                     c->endpoint.host);
                        else
                                hint(o, "check endpoint.root_ca (Amazon Root CA 1 for ATS "
                                        "endpoints), the clock, and any TLS-inspecting proxy");
                } else {
                        const ObTlsAlert *a;

                        say(o, OB_HEALTH_FAIL, "TLS handshake with %s failed: %s", addr,
                            ssl_error_text(err, sizeof(err)));
                        /* the same table as the daemon's (lib/conn-outcome.c) */
                        if ((a = ob_conn_tls_alert(err)))
                                hint(o,
                                     "the server's alert \"%s\": %s; client certificate "
                                     "presented: %s",
                                     a->name, a->means, who);
                        else
                                hint(o,
                                     "client certificate presented: %s; the server may refuse "
                                     "it, or not speak TLS on port %u",
                                     who, c->endpoint.port);
                }
                return;
        }
        chain_text(ssl, chain, sizeof(chain));

        /* TLS 1.3: a refused client certificate comes as an alert after the handshake. Wait
         * briefly for one; nothing is sent (no MQTT CONNECT, it would kick the daemon off). */
        tv = (struct timeval){.tv_sec = 0, .tv_usec = ALERT_WAIT_MS * 1000};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        {
                char b;
                errno = 0;
                r = SSL_peek(ssl, &b, 1);
                if (r <= 0) {
                        int e = SSL_get_error(ssl, r);
                        refused =
                                e == SSL_ERROR_SSL || e == SSL_ERROR_ZERO_RETURN ||
                                (e == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK);
                        if (refused)
                                ssl_error_text(err, sizeof(err));
                }
                ERR_clear_error();
        }
        if (refused && cert) {
                say(o, OB_HEALTH_FAIL, "%s, server %s, refused the %s certificate: %s",
                    SSL_get_version(ssl), chain, who, err);
                hint(o, ctx->onboarded ? "is the device certificate still ACTIVE in AWS IoT?"
                                       : "is the claim certificate registered and ACTIVE?");
                return;
        }
        (void)SSL_shutdown(ssl);
        say(o, OB_HEALTH_PASS, "%s with %s (SNI %s), server %s; verified; client certificate: %s%s",
            SSL_get_version(ssl), addr, c->endpoint.host, chain, who,
            refused ? " (the server wants one)" : "");
}

/* ------------------------------------------------------------------ permissions */

typedef struct PermNote {
        ObHealthResult result;
        char text[OB_CHECK_DETAIL_MAX];
        size_t used;
        bool no_access;
} PermNote;

_printf_(3, 4) static void perm_add(PermNote *p, ObHealthResult r, const char *fmt, ...)
{
        va_list ap;
        int k;

        if (r > p->result)
                p->result = r;
        if (p->used + 3 >= sizeof(p->text))
                return;
        if (p->used > 0)
                p->used += (size_t)snprintf(p->text + p->used, sizeof(p->text) - p->used, "; ");
        va_start(ap, fmt);
        k = vsnprintf(p->text + p->used, sizeof(p->text) - p->used, fmt, ap);
        va_end(ap);
        if (k > 0)
                p->used = OB_MIN(p->used + (size_t)k, sizeof(p->text) - 1);
}

/* Check one path's mode: bits in fail_mask are a failure, in warn_mask a warning. */
static void perm_check(PermNote *p, const char *what, const char *path, mode_t fail_mask,
                       mode_t warn_mask, const char *want)
{
        struct stat st;

        if (!path)
                return;
        if (stat(path, &st) < 0) {
                if (errno == EACCES)
                        p->no_access = true;
                return; /* missing files are other checks' business */
        }
        if (st.st_mode & fail_mask)
                perm_add(p, OB_HEALTH_FAIL, "%s %s is %04o (want %s)", what, path,
                         (unsigned)(st.st_mode & 07777), want);
        else if (st.st_mode & warn_mask)
                perm_add(p, OB_HEALTH_WARN, "%s %s is %04o (want %s)", what, path,
                         (unsigned)(st.st_mode & 07777), want);
}

static void check_permissions(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const ObConfig *c;
        PermNote p = {.result = OB_HEALTH_PASS};
        char path[600];
        const char *dir;

        if (need_config(ctx) == -ENOMEM) {
                say(o, OB_HEALTH_FAIL, "out of memory");
                return;
        }
        /* the configuration is checked even when it is invalid: it is a file like the others */
        perm_check(&p, "config", ctx->config_path, S_IWOTH, S_IWGRP, "not writable by others");
        c = ctx->config;
        if (c) {
                dir = c->paths.state_dir;
                perm_check(&p, "state dir", dir, S_IRWXO, S_IWGRP, "0700, or 0750");
                snprintf(path, sizeof(path), "%s/state.json", dir);
                perm_check(&p, "state", path, S_IRWXO | S_IWGRP, S_IRGRP, "0600");
                if (locate_device_files(ctx) >= 0 && !ob_key_path_is_handle(ctx->key_path))
                        perm_check(&p, "device key", ctx->key_path, S_IRWXO | S_IWGRP,
                                   tpm_key(ctx) ? 0 : S_IRGRP,
                                   tpm_key(ctx) ? "0600 or 0640" : "0600");
                if (c->provisioning.method == OB_METHOD_FLEET_CLAIM)
                        perm_check(&p, "claim key", c->provisioning.claim_key, S_IRWXO | S_IRWXG, 0,
                                   "0600");
                perm_check(&p, "owner auth", c->tpm.owner_auth_file, S_IRWXO | S_IRWXG, 0, "0600");
        }
        if (p.result != OB_HEALTH_PASS) {
                say(o, p.result, "%s", p.text);
                hint(o, "chmod as shown (the packaging's tmpfiles.d sets them: see "
                        "docs/state.md, Permissions)");
                return;
        }
        if (p.no_access) {
                say(o, OB_HEALTH_WARN, "some files could not be inspected by this user");
                hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        say(o, OB_HEALTH_PASS, "configuration, state directory, state.json and keys are private");
}

/* ------------------------------------------------------------------ old certificates */

/* Rotation leaves the old certificate ACTIVE in the cloud unless something deactivates it: the
 * agent names it on rotation.old_cert_topic for a rule to act on (docs/rotation.md). */
static void check_old_certs(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const ObConfig *c;

        if (no_config(ctx, o))
                return;
        c = ctx->config;
        if (!c->rotation.enabled || !ob_onboard_can_rotate(c)) {
                say(o, OB_HEALTH_SKIP, "no rotation: no old certificates");
                return;
        }
        if (c->rotation.old_cert_topic) {
                say(o, OB_HEALTH_PASS, "each rotation names the old certificate on %s",
                    c->rotation.old_cert_topic);
                return;
        }
        say(o, OB_HEALTH_WARN,
            "rotation.old_cert_topic is unset: every rotated-away certificate stays ACTIVE in "
            "AWS IoT Core unless the cloud side deactivates it");
        hint(o, "set rotation.old_cert_topic and deactivate on it with an IoT rule and Lambda, "
                "or run aws iot update-certificate --new-status INACTIVE for each old "
                "certificate (docs/rotation.md, \"Deactivating old certificates\")");
}

/* ------------------------------------------------------------------ the table */

static const ObCheck checks[] = {
        {"config", "Configuration is valid", check_config},
        {"state-file", "state.json is intact", check_state_file},
        {"clock", "Wall clock is plausible", check_clock},
        {"tpm", "TPM is reachable", check_tpm},
        {"srk", "Storage root key is present", check_srk},
        {"device-key", "Device key is present and loads", check_device_key},
        {"key-cert-match", "Device certificate is for the device key", check_key_cert_match},
        {"tls-provider", "OpenSSL's tpm2 provider can use the TPM key", check_tls_provider},
        {"da-lockout", "TPM is not in dictionary-attack lockout", check_da_lockout},
        {"cert-expiry", "Device certificate is valid, rotation not overdue", check_cert_expiry},
        {"old-certs", "Rotated-away certificates get deactivated", check_old_certs},
        {"claim-cert", "Claim certificate is usable", check_claim_cert},
        {"dns", "Endpoint host name resolves", check_dns},
        {"tcp", "Endpoint port accepts TCP", check_tcp},
        {"tls", "TLS to the endpoint (SNI, server chain)", check_tls},
        {"permissions", "Files and folders are private", check_permissions},
};

const ObCheck *ob_check_table(size_t *ret_n)
{
        *ret_n = OB_ELEMENTSOF(checks);
        return checks;
}

const ObCheck *ob_check_find(const char *id)
{
        for (size_t i = 0; i < OB_ELEMENTSOF(checks); i++)
                if (strcmp(checks[i].id, id) == 0)
                        return &checks[i];
        return NULL;
}

int ob_check_context_new(const char *config_path, int64_t now_s, ObCheckContext **ret)
{
        ObCheckContext *ctx = calloc(1, sizeof(*ctx));

        if (!ctx)
                return -ENOMEM;
        ctx->config_path = strdup(config_path);
        if (!ctx->config_path) {
                free(ctx);
                return -ENOMEM;
        }
        ctx->now_s = now_s;
        /* Randomness always from the default provider, set before anything draws random bytes
         * (agent/transport-paho.c explains why); then the default provider itself. */
        (void)RAND_set_DRBG_type(NULL, "CTR-DRBG", "provider=default", "AES-256-CTR", NULL);
        (void)RAND_set_seed_source_type(NULL, "SEED-SRC", "provider=default");
        /* loaded once for the process; the static keeps it reachable (not a leak) */
        static OSSL_PROVIDER *deflt;
        if (!deflt)
                deflt = OSSL_PROVIDER_load(NULL, "default");
        *ret = ctx;
        return 0;
}

ObCheckContext *ob_check_context_free(ObCheckContext *ctx)
{
        if (!ctx)
                return NULL;
        json_object_put(ctx->state);
        EVP_PKEY_free(ctx->device_pub);
#ifdef HAVE_TPM
        ob_tpm_close(ctx->tpm);
#endif
        if (ctx->addrs)
                freeaddrinfo(ctx->addrs);
        ob_config_free(ctx->config);
        free(ctx->config_path);
        free(ctx);
        return NULL;
}
