/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checks of `agentctl check` (agent/check.h) and their table. Each check fills one
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
#include "check-private.h"
#include "cli.h"
#include "key-provider.h"
#include "onboard.h"
#include "provider-info.h"
#include "x509.h"

#define ALERT_WAIT_MS   300
#define CLAIM_WARN_DAYS 30
#define DAY_S           86400

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

/* ------------------------------------------------------------------ TPM */

#ifdef HAVE_TPM

static void check_tpm(ObCheckContext *ctx, ObCheckOutcome *o)
{
        int r;

        if (!ob_check_tpm_backend(ctx, o))
                return;
        r = ob_check_need_tpm(ctx);
        if (r >= 0) {
                ob_check_say(o, OB_HEALTH_PASS, "reachable through %s",
                             ctx->config->tpm.tcti ? ctx->config->tpm.tcti : OB_TPM_DEFAULT_TCTI);
                return;
        }
        if (ctx->tpm_no_access) {
                ob_check_say(o, OB_HEALTH_WARN, "%s%s", ctx->tpm_err,
                             r == -ENODEV ? " (not root: maybe no access)" : "");
                ob_check_hint(o, "run agentctl check as root or as a member of the tss group");
                return;
        }
        if (r == -EINVAL || (r < 0 && ctx->tpm_err[0] == 0)) {
                ob_check_say(o, OB_HEALTH_FAIL, "cannot use the TPM options: %s", strerror(-r));
                ob_check_hint(o, "check tpm.srk_handle and tpm.owner_auth_file (mode 0600)");
                return;
        }
        ob_check_say(o, OB_HEALTH_FAIL, "%s", ctx->tpm_err);
        ob_check_hint(o,
                      "is there a TPM (/dev/tpmrm0, kernel tpm_tis/tpm_crb) or a resource manager "
                      "(tpm2-abrmd)? check tpm.tcti");
}

static void check_srk(ObCheckContext *ctx, ObCheckOutcome *o)
{
        uint32_t h;
        int r;

        if (!ob_check_have_tpm(ctx, o))
                return;
        h = ctx->config->tpm.srk_handle ? ctx->config->tpm.srk_handle : OB_TPM_DEFAULT_SRK;
        r = ob_tpm_check_srk(ctx->tpm);
        if (r >= 0) {
                ob_check_say(o, OB_HEALTH_PASS, "ECC P-256 storage key at 0x%08x", h);
                return;
        }
        if (r == -ENOENT && ob_tpm_srk_transient_if_full(ctx->tpm) > 0) {
                /* what the daemon does then (docs/tpm.md): the checks below use it too */
                ob_check_say(
                        o, OB_HEALTH_WARN,
                        "no SRK at 0x%08x and no free persistent handle: the agent runs on a "
                        "transient SRK (the same key), so the device key loads and signs, but TLS "
                        "with it (the tpm2 provider looks for the SRK at 0x%08x) waits",
                        h, h);
                ob_check_hint(
                        o,
                        "free a persistent handle: tpm2_getcap handles-persistent lists them, "
                        "tpm2_evictcontrol -C o -c HANDLE evicts one no longer needed; the agent "
                        "then persists the SRK at its next TPM use");
                return;
        }
        if (r == -ENOENT) {
                (void)ob_check_need_config(ctx);
                if (ob_check_need_state(ctx) >= 0 && ctx->gen > 0) {
                        ob_check_say(o, OB_HEALTH_FAIL, "no SRK at 0x%08x, but a device key exists",
                                     h);
                        ob_check_hint(o,
                                      "the TPM was cleared or tpm.srk_handle changed: restore the "
                                      "handle, or onboard the device again (docs/tpm.md)");
                } else {
                        ob_check_say(o, OB_HEALTH_WARN, "no SRK at 0x%08x yet", h);
                        ob_check_hint(o, "the agent creates it at its first start");
                }
                return;
        }
        ob_check_say(o, OB_HEALTH_FAIL, "%s", ob_tpm_last_error(ctx->tpm));
        if (r == -EEXIST)
                ob_check_hint(o, "configure another tpm.srk_handle or evict the object at 0x%08x",
                              h);
        else
                ob_check_hint(o, "see docs/tpm.md");
}

static void check_da_lockout(ObCheckContext *ctx, ObCheckOutcome *o)
{
        ObTpmDaStatus da;
        int r;

        if (!ob_check_have_tpm(ctx, o))
                return;
        r = ob_tpm_da_status(ctx->tpm, &da);
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s", ob_tpm_last_error(ctx->tpm));
                ob_check_hint(o, "see docs/tpm.md");
                return;
        }
        if (da.in_lockout) {
                /* a noDA device key (made since the template has noDA) signs on; an older key,
                 * or a vendor key without noDA, cannot; a key that does not load counts as
                 * stopped (the device-key check says why) */
                bool have_key = ob_check_locate_device_files(ctx) >= 0;
                bool stopped = have_key && ob_tpm_key_da_protected(ctx->tpm, ctx->key_path) != 0;
                ob_check_say(
                        o, stopped ? OB_HEALTH_FAIL : OB_HEALTH_WARN,
                        "in dictionary-attack lockout: %u of %u failed authorizations, one forgotten "
                        "every %u s; %s",
                        da.counter, da.max_tries, da.interval_s,
                        stopped    ? "the device key is DA-protected and cannot sign until it ends"
                        : have_key ? "the device key is noDA and still signs"
                                   : "no device key yet (the agent makes noDA keys)");
                ob_check_hint(o,
                              "wait, or clear it with the lockout authorization "
                              "(tpm2_dictionarylockout --clear-lockout); find what sends wrong "
                              "passwords%s",
                              stopped ? "; then `agentctl rotate` makes a noDA key" : "");
                return;
        }
        if (da.counter > 0) {
                ob_check_say(
                        o, OB_HEALTH_WARN,
                        "%u of %u failed authorizations counted (lockout at %u; one forgotten every "
                        "%u s)",
                        da.counter, da.max_tries, da.max_tries, da.interval_s);
                ob_check_hint(o, "something used a wrong TPM password (tpm.owner_auth_file?)");
                return;
        }
        ob_check_say(o, OB_HEALTH_PASS, "not locked out, 0 of %u failed authorizations",
                     da.max_tries);
}
#else
static void no_tpm_build(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (ob_check_no_config(ctx, o))
                return;
        if (ctx->config->key.backend == OB_KEY_BACKEND_SOFTWARE)
                ob_check_say(o, OB_HEALTH_SKIP, "key.backend is software: no TPM in use");
        else {
                ob_check_say(o, OB_HEALTH_FAIL,
                             "key.backend is tpm but agentctl was built without TPM "
                             "support");
                ob_check_hint(o, "build with tpm2-tss, or set key.backend to software");
        }
}
#define check_tpm          no_tpm_build
#define check_srk          no_tpm_build
#define check_da_lockout   no_tpm_build
#define check_tls_provider no_tpm_build
#endif

/* ------------------------------------------------------------------ device key and cert */

static void check_device_key(ObCheckContext *ctx, ObCheckOutcome *o)
{
        int r;

        if (ob_check_no_config(ctx, o))
                return;
        r = ob_check_need_device_key(ctx);
        if (r == -ENOENT && !ctx->key_path[0]) {
                ob_check_say(o, OB_HEALTH_SKIP, "no device key yet (stage %s)",
                             ctx->stage ? ctx->stage : "unknown");
                ob_check_hint(o,
                              ob_check_factory_method(ctx)
                                      ? "method %s uses the factory key: create it with agentctl "
                                        "factory csr"
                                      : "the agent creates it when onboarding starts",
                              ob_provisioning_method_to_string(ctx->config->provisioning.method));
                return;
        }
        if (r == -ENODEV) {
                ob_check_say(o, OB_HEALTH_SKIP, "the TPM is not reachable (see check tpm)");
                return;
        }
        if (ob_check_access_error(r) ||
            (r < 0 && ob_check_access_error(ob_check_need_state(ctx)))) {
                ob_check_say(o, OB_HEALTH_WARN, "%s",
                             ctx->key_err[0] ? ctx->key_err : "state.json is not readable");
                ob_check_hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s", ctx->key_err);
                ob_check_hint(o,
                              r == -EBADMSG || r == -EXDEV
                                      ? "the key does not belong to this TPM and SRK (TPM cleared, "
                                        "board swapped?): onboard the device again (docs/tpm.md)"
                              : r == -ENOLCK ? "the TPM is locked out: see check da-lockout"
                                             : "see docs/tpm.md");
                return;
        }
        ob_check_say(o, OB_HEALTH_PASS, "%s %s (%s)",
                     ob_check_tpm_key(ctx) ? "loads in the TPM:" : "readable:", ctx->key_path,
                     ctx->onboarded ? "current generation" : "pending, not onboarded yet");
}

static void check_key_cert_match(ObCheckContext *ctx, ObCheckOutcome *o)
{
        _cleanup_(X509_freep) X509 *cert = NULL;
        int r;

        if (ob_check_no_config(ctx, o))
                return;
        r = ob_check_need_device_key(ctx);
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_SKIP, "no usable device key (see check device-key)");
                return;
        }
        if (!ctx->cert_path[0]) {
                ob_check_say(o, OB_HEALTH_SKIP, "no device certificate yet (stage %s)", ctx->stage);
                if (ob_check_factory_method(ctx))
                        ob_check_hint(o, "install one with agentctl factory install-cert");
                return;
        }
        r = ob_x509_from_file(ctx->cert_path, &cert);
        if (r == -ENOENT && !ctx->onboarded) {
                ob_check_say(o, OB_HEALTH_SKIP, "no device certificate yet (stage %s)", ctx->stage);
                return;
        }
        if (ob_check_access_error(r)) {
                ob_check_say(o, OB_HEALTH_WARN, "%s is not readable by this user", ctx->cert_path);
                ob_check_hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s: %s", ctx->cert_path,
                             r == -EBADMSG ? "not a PEM certificate" : strerror(-r));
                ob_check_hint(o, "the credentials are damaged: onboard the device again");
                return;
        }
        if (ob_x509_matches_key(cert, ctx->device_pub) < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s is not for the key %s", ctx->cert_path,
                             ctx->key_path);
                ob_check_hint(o, "the credentials are mixed up: onboard the device again");
                return;
        }
        ob_check_say(o, OB_HEALTH_PASS, "%s carries the device key's public half", ctx->cert_path);
}

static void check_cert_expiry(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const ObConfig *c;
        _cleanup_(X509_freep) X509 *cert = NULL;
        int64_t nb, na, due;
        char a[32], b[32];
        int r;

        if (ob_check_no_config(ctx, o))
                return;
        c = ctx->config;
        r = ob_check_locate_device_files(ctx);
        if (ob_check_access_error(r) || ob_check_access_error(ob_check_need_state(ctx))) {
                ob_check_say(o, OB_HEALTH_WARN, "state.json is not readable by this user");
                ob_check_hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (!ctx->onboarded && !(ob_check_factory_method(ctx) && ctx->cert_path[0])) {
                ob_check_say(o, OB_HEALTH_SKIP, "not onboarded yet (stage %s)", ctx->stage);
                if (ob_check_factory_method(ctx))
                        ob_check_hint(o,
                                      "no factory certificate: install one with agentctl factory "
                                      "install-cert");
                return;
        }
        r = ob_x509_from_file(ctx->cert_path, &cert);
        if (ob_check_access_error(r)) {
                ob_check_say(o, OB_HEALTH_WARN, "%s is not readable by this user", ctx->cert_path);
                ob_check_hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r >= 0)
                r = ob_x509_validity(cert, &nb, &na);
        if (r >= 0)
                r = ob_health_rotation_due(nb, na, c->rotation.lifetime_fraction,
                                           c->rotation.days_before_expiry, c->rotation.max_age_days,
                                           &due);
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s: %s", ctx->cert_path,
                             r == -EINVAL ? "validity period is empty" : strerror(-r));
                ob_check_hint(o, "the credentials are damaged: onboard the device again");
                return;
        }
        switch (ob_health_cert_validity(ctx->now_s, nb, na, due)) {
        case OB_HEALTH_FAIL:
                if (ctx->now_s < nb) {
                        ob_check_say(o, OB_HEALTH_FAIL, "not valid before %s",
                                     ob_cli_iso_time(nb, a, sizeof(a)));
                        ob_check_hint(o, "the wall clock is behind: see check clock");
                } else {
                        ob_check_say(o, OB_HEALTH_FAIL, "expired %s",
                                     ob_cli_iso_time(na, a, sizeof(a)));
                        ob_check_hint(o,
                                      ob_check_factory_method(ctx)
                                              ? "the device cannot connect any more: install a new "
                                                "certificate (agentctl factory install-cert) and "
                                                "reprovision"
                                              : "the device cannot connect any more: it must be "
                                                "onboarded again (docs/operations.md)");
                }
                return;
        case OB_HEALTH_WARN:
                ob_check_say(o, OB_HEALTH_WARN, "expires %s; inside the rotation window since %s",
                             ob_cli_iso_time(na, a, sizeof(a)), ob_cli_iso_time(due, b, sizeof(b)));
                if (!ob_onboard_can_rotate(c))
                        ob_check_hint(
                                o,
                                "method %s has no fleet provisioning template to renew with "
                                "(set rotation.template): install a new certificate before it "
                                "expires",
                                ob_provisioning_method_to_string(c->provisioning.method));
                else if (c->rotation.enabled)
                        ob_check_hint(o, "the agent should be rotating it: see 'agentctl status' "
                                         "(last_error) and its log");
                else
                        ob_check_hint(o,
                                      "rotation.enabled is false: renew the certificate before it "
                                      "expires");
                return;
        case OB_HEALTH_PASS:
        case OB_HEALTH_SKIP:
        case _OB_HEALTH_RESULT_MAX:
                break;
        }
        if (!ob_onboard_can_rotate(c))
                ob_check_say(o, OB_HEALTH_PASS,
                             "valid until %s; no automatic renewal (method %s has no "
                             "fleet provisioning template)",
                             ob_cli_iso_time(na, a, sizeof(a)),
                             ob_provisioning_method_to_string(c->provisioning.method));
        else
                ob_check_say(o, OB_HEALTH_PASS, "valid until %s; rotation due %s",
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

        if (ob_check_no_config(ctx, o))
                return;
        c = ctx->config;
        if (c->provisioning.method == OB_METHOD_FLEET_TRUSTED_USER) {
                ob_check_say(o, OB_HEALTH_SKIP,
                             "fleet-trusted-user: a temporary claim comes with "
                             "'agentctl provision'");
                return;
        }
        if (c->provisioning.method != OB_METHOD_FLEET_CLAIM || !c->provisioning.claim_cert) {
                ob_check_say(o, OB_HEALTH_SKIP, "method %s uses no claim certificate",
                             ob_provisioning_method_to_string(c->provisioning.method));
                return;
        }
        (void)ob_check_need_state(ctx);
        r = ob_x509_from_file(c->provisioning.claim_cert, &cert);
        if (r == -ENOENT && ctx->onboarded) {
                ob_check_say(o, OB_HEALTH_PASS, "%s is gone; not needed: the device is onboarded",
                             c->provisioning.claim_cert);
                return;
        }
        if (ob_check_access_error(r)) {
                ob_check_say(o, OB_HEALTH_WARN, "%s is not readable by this user",
                             c->provisioning.claim_cert);
                ob_check_hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r >= 0)
                r = ob_x509_validity(cert, &nb, &na);
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s: %s", c->provisioning.claim_cert,
                             r == -EBADMSG ? "not a PEM certificate" : strerror(-r));
                ob_check_hint(o, "install the batch claim certificate (provisioning.claim_cert)");
                return;
        }
        (void)ob_x509_subject_cn(cert, &cn);
        if (ctx->now_s >= na || ctx->now_s < nb) {
                bool expired = ctx->now_s >= na;
                ob_check_say(o, ctx->onboarded ? OB_HEALTH_WARN : OB_HEALTH_FAIL,
                             "%s (CN=%s) %s %s", c->provisioning.claim_cert, cn ? cn : "?",
                             expired ? "expired" : "is not valid before",
                             ob_cli_iso_time(expired ? na : nb, a, sizeof(a)));
                ob_check_hint(o,
                              expired ? "install a current claim certificate and key from the "
                                        "manufacturer%s"
                                      : "the wall clock is behind: see check clock%s",
                              ctx->onboarded ? " (only needed to onboard again)" : "");
                return;
        }
        r = ob_check_read_key_pub(c->provisioning.claim_key, &key);
        if (ob_check_access_error(r)) {
                ob_check_say(o, OB_HEALTH_WARN, "%s is not readable by this user",
                             c->provisioning.claim_key);
                ob_check_hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r < 0 || ob_x509_matches_key(cert, key) < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s: %s", c->provisioning.claim_key,
                             r < 0 ? (r == -EBADMSG ? "not a private key" : strerror(-r))
                                   : "does not match the claim certificate");
                ob_check_hint(o, "install the claim key that belongs to %s",
                              c->provisioning.claim_cert);
                return;
        }
        if (na - ctx->now_s < (int64_t)CLAIM_WARN_DAYS * DAY_S && !ctx->onboarded) {
                ob_check_say(o, OB_HEALTH_WARN, "CN=%s expires %s, in less than %d days",
                             cn ? cn : "?", ob_cli_iso_time(na, a, sizeof(a)), CLAIM_WARN_DAYS);
                ob_check_hint(o, "onboard soon, or get a newer claim from the manufacturer");
                return;
        }
        ob_check_say(o, OB_HEALTH_PASS, "CN=%s valid until %s, key matches", cn ? cn : "?",
                     ob_cli_iso_time(na, a, sizeof(a)));
}

/* ------------------------------------------------------------------ dns, tcp */

static void check_dns(ObCheckContext *ctx, ObCheckOutcome *o)
{
        char ip[INET6_ADDRSTRLEN];
        int r;

        if (ob_check_no_config(ctx, o))
                return;
        r = ob_check_need_dns(ctx);
        if (r != 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s: %s", ctx->config->endpoint.host,
                             r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
                ob_check_hint(o, "check endpoint.host (aws iot describe-endpoint --endpoint-type "
                                 "iot:Data-ATS) and the resolver (/etc/resolv.conf)");
                return;
        }
        if (getnameinfo(ctx->addrs->ai_addr, ctx->addrs->ai_addrlen, ip, sizeof(ip), NULL, 0,
                        NI_NUMERICHOST) != 0)
                snprintf(ip, sizeof(ip), "?");
        ob_check_say(o, OB_HEALTH_PASS, "%s resolves to %s%s", ctx->config->endpoint.host, ip,
                     ctx->addrs->ai_next ? " (and more)" : "");
}

static void check_tcp(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (!ob_check_have_addresses(ctx, o))
                return;
        if (ob_check_need_tcp(ctx) >= 0) {
                ob_check_say(o, OB_HEALTH_PASS, "%s", ctx->tcp_detail);
                return;
        }
        ob_check_say(o, OB_HEALTH_FAIL, "%s", ctx->tcp_detail);
        ob_check_hint(o,
                      "a firewall or proxy in the way? outbound TCP %u must be open (endpoint.alpn "
                      "uses 443)",
                      ctx->config->endpoint.port);
}

/* ------------------------------------------------------------------ tls */

#ifdef HAVE_TPM
/* The tpm2 provider OpenSSL uses for TLS with the TPM key loads, and is not a version known
 * to be unusable here (tpm2-openssl < 1.2.0 with a 32-bit long: lib/provider-compat.h). */
static void check_tls_provider(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const char *cert = NULL, *key = NULL;
        char who[96], version[32];
        bool tpm = false;

        if (!ob_check_tpm_backend(ctx, o))
                return;
        /* before onboarding TLS still uses the claim, but the device key will be made in the
         * TPM: an operator checking a new gateway learns now that it could never connect */
        ob_check_client_credentials(ctx, &cert, &key, &tpm, who, sizeof(who));
        if (ob_check_select_provider(ctx, true) < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "the OpenSSL tpm2 provider cannot be loaded");
                ob_check_hint(o,
                              "install tpm2-openssl (the agent needs it for TLS with the TPM key)");
                return;
        }
        if (ob_provider_tpm2_unusable(ob_check_tpm2_provider(), version, sizeof(version))) {
                ob_check_say(
                        o, OB_HEALTH_FAIL,
                        "tpm2-openssl %s cannot use persistent TPM handles with a %zu-bit long "
                        "(\"handle value is out of range\"): no TLS with the TPM key works",
                        version, sizeof(long) * 8);
                ob_check_hint(o, "upgrade tpm2-openssl to 1.2.0 or later (docs/tpm.md, supported "
                                 "versions)");
                return;
        }
        ob_check_say(o, OB_HEALTH_PASS, "tpm2-openssl %s%s", version,
                     tpm ? "" : " (for the device key; TLS presents no TPM key yet)");
}
#endif

static void check_tls(ObCheckContext *ctx, ObCheckOutcome *o)
{
        _cleanup_(ob_check_tls_close) ObCheckTls t = {.fd = -1};
        char chain[OB_CHECK_DETAIL_MAX / 2], err[256];
        bool refused = false;
        struct timeval tv;
        int r;

        if (ob_check_tls_open(ctx, o, &t) < 0)
                return;
        ob_check_chain_text(t.ssl, chain, sizeof(chain));

        /* TLS 1.3: a refused client certificate comes as an alert after the handshake. Wait
         * briefly for one; nothing is sent (no MQTT CONNECT, it would kick the daemon off). */
        tv = (struct timeval){.tv_sec = 0, .tv_usec = ALERT_WAIT_MS * 1000};
        (void)setsockopt(t.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        {
                char b;
                errno = 0;
                r = SSL_peek(t.ssl, &b, 1);
                if (r <= 0) {
                        int e = SSL_get_error(t.ssl, r);
                        refused =
                                e == SSL_ERROR_SSL || e == SSL_ERROR_ZERO_RETURN ||
                                (e == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK);
                        if (refused)
                                ob_check_ssl_error_text(err, sizeof(err));
                }
                ERR_clear_error();
        }
        if (refused && t.cert) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s, server %s, refused the %s certificate: %s",
                             SSL_get_version(t.ssl), chain, t.who, err);
                ob_check_hint(o, ctx->onboarded
                                         ? "is the device certificate still ACTIVE in AWS IoT?"
                                         : "is the claim certificate registered and ACTIVE?");
                return;
        }
        (void)SSL_shutdown(t.ssl);
        ob_check_say(o, OB_HEALTH_PASS,
                     "%s with %s (SNI %s), server %s; verified; client certificate: %s%s",
                     SSL_get_version(t.ssl), t.addr, ctx->config->endpoint.host, chain, t.who,
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

/* ------------------------------------------------------------------ old certificates */

/* Rotation leaves the old certificate ACTIVE in the cloud unless something deactivates it: the
 * agent names it on rotation.old_cert_topic for a rule to act on (docs/rotation.md). */
static void check_old_certs(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const ObConfig *c;

        if (ob_check_no_config(ctx, o))
                return;
        c = ctx->config;
        if (!c->rotation.enabled || !ob_onboard_can_rotate(c)) {
                ob_check_say(o, OB_HEALTH_SKIP, "no rotation: no old certificates");
                return;
        }
        if (c->rotation.old_cert_topic) {
                ob_check_say(o, OB_HEALTH_PASS, "each rotation names the old certificate on %s",
                             c->rotation.old_cert_topic);
                return;
        }
        ob_check_say(
                o, OB_HEALTH_WARN,
                "rotation.old_cert_topic is unset: every rotated-away certificate stays ACTIVE in "
                "AWS IoT Core unless the cloud side deactivates it");
        ob_check_hint(
                o, "set rotation.old_cert_topic and deactivate on it with an IoT rule and Lambda, "
                   "or run aws iot update-certificate --new-status INACTIVE for each old "
                   "certificate (docs/rotation.md, \"Deactivating old certificates\")");
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
