/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check device-key, key-cert-match, cert-expiry, claim-cert, old-certs
 * (agent/check-identity.h): the identity on disk: the key loads, the certificate is for it and
 * valid, rotation is not overdue, the claim is usable, rotated-away certificates get retired.
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

#include "check-identity.h"
#include "check-private.h"
#include "cli.h"
#include "key-provider.h"
#include "onboard.h"
#include "x509.h"

#define CLAIM_WARN_DAYS 30
#define DAY_S           86400

/* ------------------------------------------------------------------ device key and cert */

void ob_check_device_key(ObCheckContext *ctx, ObCheckOutcome *o)
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

void ob_check_key_cert_match(ObCheckContext *ctx, ObCheckOutcome *o)
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

void ob_check_cert_expiry(ObCheckContext *ctx, ObCheckOutcome *o)
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

void ob_check_claim_cert(ObCheckContext *ctx, ObCheckOutcome *o)
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

/* ------------------------------------------------------------------ old certificates */

/* Rotation leaves the old certificate ACTIVE in the cloud unless something deactivates it: the
 * agent names it on rotation.old_cert_topic for a rule to act on (docs/rotation.md). */
void ob_check_old_certs(ObCheckContext *ctx, ObCheckOutcome *o)
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
