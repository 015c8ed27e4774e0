/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check tpm, srk, da-lockout (agent/check-tpm.h): the TPM answers, the storage root key is there,
 * the TPM is not locked out. A build without TPM support says so for each of them.
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

#include "check-private.h"
#include "check-tpm.h"
#include "cli.h"
#include "key-provider.h"

#ifdef HAVE_TPM

void ob_check_tpm(ObCheckContext *ctx, ObCheckOutcome *o)
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

void ob_check_srk(ObCheckContext *ctx, ObCheckOutcome *o)
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

void ob_check_da_lockout(ObCheckContext *ctx, ObCheckOutcome *o)
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
void ob_check_no_tpm(ObCheckContext *ctx, ObCheckOutcome *o)
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
#endif
