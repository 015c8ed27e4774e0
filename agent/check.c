/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checks of `agentctl check` (agent/check.h): their table, and the checks of the files
 * themselves (config, state-file, permissions). The other groups have a file each:
 * check-daemon.c (daemon, state, config-current), check-clock.c, check-tpm.c (tpm, srk,
 * da-lockout), check-identity.c (device-key, key-cert-match, cert-expiry, claim-cert, old-certs),
 * check-network.c (dns, tcp, tls-provider, tls), check-cloud.c. Each check fills one
 * ObCheckOutcome; what several checks need is computed once, on first use, and kept in the
 * context (agent/check-private.h, agent/check-common.c).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "check-clock.h"
#include "check-cloud.h"
#include "check-daemon.h"
#include "check-identity.h"
#include "check-network.h"
#include "check-tpm.h"
#include "check-private.h"
#include "cli.h"
#include "key-provider.h"
#include "onboard.h"
#include "provider-info.h"
#include "x509.h"

/* ------------------------------------------------------------------ config */

static void check_config(ObCheckContext *ctx, ObCheckOutcome *o)
{
        int r = ob_check_need_config(ctx);

        if (r == -ENOMEM) {
                ob_check_say(o, OB_HEALTH_FAIL, "out of memory");
                return;
        }
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s",
                             ctx->config_err[0] ? ctx->config_err : "invalid");
                ob_check_hint(o, "run 'agentctl config check' and fix %s", ctx->config_path);
                return;
        }
        if (ctx->config_warnings > 0) {
                ob_check_say(o, OB_HEALTH_WARN, "%zu warning%s: %s", ctx->config_warnings,
                             ctx->config_warnings == 1 ? "" : "s", ctx->config_err);
                ob_check_hint(o, "run 'agentctl config check' for every warning");
                return;
        }
        ob_check_say(o, OB_HEALTH_PASS, "%s is valid (method %s)", ctx->config_path,
                     ob_provisioning_method_to_string(ctx->config->provisioning.method));
}

/* ------------------------------------------------------------------ state-file */

static void check_state_file(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const char *dir;
        int r;

        if (ob_check_no_config(ctx, o))
                return;
        dir = ctx->config->paths.state_dir;
        r = ob_check_need_state(ctx);
        if (r == -ENOENT) {
                ob_check_say(o, OB_HEALTH_PASS, "no %s/state.json yet: a fresh device", dir);
                return;
        }
        if (ob_check_access_error(r)) {
                ob_check_say(o, OB_HEALTH_WARN, "%s/state.json is not readable by this user", dir);
                ob_check_hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r == -EPROTONOSUPPORT) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s/state.json was written by a newer agent", dir);
                ob_check_hint(o,
                              "install that agent version again; an older one never overwrites it");
                return;
        }
        if (r == -EBADMSG) {
                ob_check_say(o, OB_HEALTH_FAIL,
                             "%s/state.json and state.json.prev are both corrupt", dir);
                ob_check_hint(
                        o,
                        "the daemon refuses to start: keep both files for a bug report and follow "
                        "docs/state.md (recovery)");
                return;
        }
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s/state.json cannot be read: %s", dir,
                             strerror(-r));
                ob_check_hint(o, "check the file system that holds %s", dir);
                return;
        }
        if (ctx->info.source == OB_STORE_SOURCE_PREV) {
                ob_check_say(
                        o, OB_HEALTH_WARN,
                        "state.json is damaged (%s): the previous copy (generation %llu, stage %s) "
                        "is in use",
                        ctx->info.main_reason, (unsigned long long)ctx->info.generation,
                        ctx->stage);
                ob_check_hint(o,
                              "the agent rewrites state.json at its next save; a recurring damage "
                              "points at the storage (power cuts without data journaling?)");
                return;
        }
        ob_check_say(o, OB_HEALTH_PASS, "intact, generation %llu, stage %s",
                     (unsigned long long)ctx->info.generation, ctx->stage);
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

        if (ob_check_need_config(ctx) == -ENOMEM) {
                ob_check_say(o, OB_HEALTH_FAIL, "out of memory");
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
                if (ob_check_locate_device_files(ctx) >= 0 && !ob_key_path_is_handle(ctx->key_path))
                        perm_check(&p, "device key", ctx->key_path, S_IRWXO | S_IWGRP,
                                   ob_check_tpm_key(ctx) ? 0 : S_IRGRP,
                                   ob_check_tpm_key(ctx) ? "0600 or 0640" : "0600");
                if (c->provisioning.method == OB_METHOD_FLEET_CLAIM)
                        perm_check(&p, "claim key", c->provisioning.claim_key, S_IRWXO | S_IRWXG, 0,
                                   "0600");
                perm_check(&p, "owner auth", c->tpm.owner_auth_file, S_IRWXO | S_IRWXG, 0, "0600");
        }
        if (p.result != OB_HEALTH_PASS) {
                ob_check_say(o, p.result, "%s", p.text);
                ob_check_hint(o, "chmod as shown (the packaging's tmpfiles.d sets them: see "
                                 "docs/state.md, Permissions)");
                return;
        }
        if (p.no_access) {
                ob_check_say(o, OB_HEALTH_WARN, "some files could not be inspected by this user");
                ob_check_hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        ob_check_say(o, OB_HEALTH_PASS,
                     "configuration, state directory, state.json and keys are private");
}

/* ------------------------------------------------------------------ the table */

static const ObCheck checks[] = {
        {"config", "Configuration is valid", check_config},
        {"state-file", "state.json is intact", check_state_file},
        {"daemon", "The daemon runs and answers, same version", ob_check_daemon},
        {"state", "The device is onboarded (or what it waits for)", ob_check_state},
        {"config-current", "The daemon runs with the configuration on disk",
         ob_check_config_current},
        {"clock", "Wall clock is plausible (build date, server)", ob_check_clock},
        {"tpm", "TPM is reachable", ob_check_tpm},
        {"srk", "Storage root key is present", ob_check_srk},
        {"device-key", "Device key is present and loads", ob_check_device_key},
        {"key-cert-match", "Device certificate is for the device key", ob_check_key_cert_match},
        {"tls-provider", "OpenSSL's tpm2 provider can use the TPM key", ob_check_tls_provider},
        {"da-lockout", "TPM is not in dictionary-attack lockout", ob_check_da_lockout},
        {"cert-expiry", "Device certificate is valid, rotation not overdue", ob_check_cert_expiry},
        {"old-certs", "Rotated-away certificates get deactivated", ob_check_old_certs},
        {"claim-cert", "Claim certificate is usable", ob_check_claim_cert},
        {"dns", "Endpoint host name resolves", ob_check_dns},
        {"tcp", "Endpoint port accepts TCP", ob_check_tcp},
        {"tls", "TLS to the endpoint (SNI, server chain)", ob_check_tls},
        {"cloud", "AWS IoT Core accepts the identity (MQTT CONNECT)", ob_check_cloud},
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
