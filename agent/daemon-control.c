/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's control verbs (docs/control.md): what agentctl asks, answered from the running
 * machine, or before there is one (waiting for the TPM) from what the daemon knows then.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "config-digest.h"
#include "ctl-proto.h"
#include "daemon-private.h"
#include "isotime.h"
#include "log.h"
#include "onboard.h"
#include "store.h"
#ifdef HAVE_TPM
#include "tpm-key.h"
#endif

OB_DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

/* Status before the run is set up (waiting for the TPM): the state by name, what it waits for,
 * since when and the next attempt; the identity is the last known one, from state.json. */
static json_object *status_without_machine(Daemon *d)
{
        _cleanup_(ob_store_freep) ObStore *store = NULL;
        _cleanup_(json_object_putp) json_object *state = NULL;
        ObStoreLoadInfo info = {0};
        json_object *o, *w;

        if (ob_store_open(d->config->paths.state_dir, "state.json", NULL, &store) >= 0)
                (void)ob_store_load(store, &state, &info);
        o = ob_onboard_status_from_state(state);
        if (!o)
                return NULL;
        json_object_object_add(
                o, "state",
                json_object_new_string(d->tpm_wait_since_ms ? "waiting-for-tpm" : "starting"));
        json_object_object_add(o, "daemon_running", json_object_new_boolean(true));
        json_object_object_add(o, "identity_in_use", json_object_new_boolean(false));
        if (d->config->sha256[0]) /* agentctl check config-current */
                json_object_object_add(o, "config",
                                       ob_config_digest_to_json(d->config_path, d->config->sha256));
        if (d->tpm_wait_since_ms) {
                w = json_object_new_object();
                if (!w) {
                        json_object_put(o);
                        return NULL;
                }
                json_object_object_add(w, "what", json_object_new_string("tpm"));
#ifdef HAVE_TPM
                json_object_object_add(w, "tcti",
                                       json_object_new_string(d->config->tpm.tcti
                                                                      ? d->config->tpm.tcti
                                                                      : OB_TPM_DEFAULT_TCTI));
#endif
                json_object_object_add(w, "detail", json_object_new_string(d->tpm_wait_error));
                json_object_object_add(w, "since", ob_isotime_json(d->tpm_wait_since_ms / 1000));
                json_object_object_add(o, "waiting_for", w);
                json_object_object_add(o, "next_retry", ob_isotime_json(d->tpm_next_ms / 1000));
        }
        return o;
}

/* Status now: the machine's, or, while there is none, what the daemon waits for. */
static json_object *status_now(Daemon *d)
{
        return d->ob ? ob_onboard_status(d->ob, ob_daemon_now_ms()) : status_without_machine(d);
}

/* The control verbs while there is no machine yet: status says why; retry tries the TPM now;
 * the rest are refused with what the daemon waits for. */
static int control_without_machine(Daemon *d, const ObCtlCommand *cmd, json_object **ret_result,
                                   char *code, size_t code_size, char *message, size_t message_size)
{
        if (strcmp(cmd->name, "retry") == 0 && d->tpm_wait_since_ms) {
                int r;

                ob_log_notice("retry requested: opening the TPM now");
                r = ob_daemon_start_run(d);
                if (r < 0) {
                        d->failed = true;
                        (void)sd_event_exit(d->event, r);
                        snprintf(code, code_size, "internal");
                        snprintf(message, message_size, "the daemon cannot start: %s",
                                 strerror(-r));
                        return r;
                }
                *ret_result = status_now(d);
                return *ret_result ? 0 : -ENOMEM;
        }
        if (strcmp(cmd->name, "reload") == 0) {
                int r = ob_daemon_reload(d);

                if (r < 0) {
                        snprintf(code, code_size, r == -EINVAL ? "reload-refused" : "internal");
                        snprintf(message, message_size, "%s",
                                 r == -EINVAL ? d->reload_error : strerror(-r));
                        return r;
                }
                *ret_result = status_now(d);
                return *ret_result ? 0 : -ENOMEM;
        }
        if (strcmp(cmd->name, "status") == 0) {
                *ret_result = status_without_machine(d);
                return *ret_result ? 0 : -ENOMEM;
        }
        snprintf(code, code_size, "not-ready");
        if (d->tpm_wait_since_ms)
                snprintf(message, message_size,
                         "the daemon is waiting for the TPM (%s): %s is done once it answers "
                         "(agentctl retry tries at once)",
                         d->tpm_wait_error, cmd->name);
        else
                snprintf(message, message_size, "the daemon is starting: try %s again", cmd->name);
        return -EAGAIN;
}

int ob_daemon_control_handler(const ObCtlCommand *cmd, json_object *args, const ObControlPeer *peer,
                              void *userdata, json_object **ret_result, char *code,
                              size_t code_size, char *message, size_t message_size)
{
        Daemon *d = userdata;
        int r;

        if (!d->ob && strcmp(cmd->name, "ping") != 0)
                return control_without_machine(d, cmd, ret_result, code, code_size, message,
                                               message_size);
        if (strcmp(cmd->name, "status") == 0) {
                *ret_result = ob_onboard_status(d->ob, ob_daemon_now_ms());
                if (*ret_result && d->serial_source)
                        json_object_object_add(*ret_result, "serial_source",
                                               json_object_new_string(d->serial_source));
                if (*ret_result && d->config->sha256[0]) /* agentctl check config-current */
                        json_object_object_add(
                                *ret_result, "config",
                                ob_config_digest_to_json(d->config_path, d->config->sha256));
                if (*ret_result && d->srk_transient)
                        json_object_object_add(
                                *ret_result, "tpm_note",
                                json_object_new_string(
                                        "transient SRK: no free persistent TPM handle; TLS with "
                                        "the device key waits until one is freed (agentctl "
                                        "check srk)"));
                return *ret_result ? 0 : -ENOMEM;
        }
        if (strcmp(cmd->name, "ping") == 0) {
                *ret_result = json_object_new_object();
                json_object_object_add(*ret_result, "version",
                                       json_object_new_string(PACKAGE_VERSION));
                return 0;
        }
        if (strcmp(cmd->name, "provision") == 0) {
                json_object *c = NULL, *k = NULL;
                char err[256] = "";

                if (!args || !json_object_object_get_ex(args, "claim_cert", &c) ||
                    !json_object_object_get_ex(args, "claim_key", &k) ||
                    !json_object_is_type(c, json_type_string) ||
                    !json_object_is_type(k, json_type_string)) {
                        snprintf(code, code_size, "bad-request");
                        snprintf(message, message_size,
                                 "provision needs string arguments claim_cert and claim_key");
                        return -EINVAL;
                }
                r = ob_onboard_provide_claim(d->ob, json_object_get_string(c),
                                             json_object_get_string(k), ob_daemon_now_ms(), err,
                                             sizeof(err));
                ob_daemon_rearm(d);
                if (r < 0) {
                        snprintf(code, code_size, "%s",
                                 r == -EKEYEXPIRED  ? "claim-expired"
                                 : r == -EALREADY   ? "not-waiting-for-claim"
                                 : r == -EOPNOTSUPP ? "wrong-method"
                                                    : "claim-refused");
                        snprintf(message, message_size, "%s", err);
                        return r;
                }
                *ret_result = ob_onboard_status(d->ob, ob_daemon_now_ms());
                return 0;
        }
        if (strcmp(cmd->name, "rotate") == 0) {
                char err[256] = "";

                r = ob_onboard_rotate_now(d->ob, ob_daemon_now_ms(), err, sizeof(err));
                ob_daemon_rearm(d);
                if (r < 0) {
                        snprintf(code, code_size, "%s",
                                 r == -EALREADY     ? "rotation-running"
                                 : r == -EOPNOTSUPP ? "not-supported"
                                                    : "not-onboarded");
                        snprintf(message, message_size, "%s", err);
                        return r;
                }
                *ret_result = ob_onboard_status(d->ob, ob_daemon_now_ms());
                if (*ret_result && err[0]) /* taken, not saved: agentctl shows it */
                        json_object_object_add(*ret_result, "warning", json_object_new_string(err));
                return 0;
        }
        if (strcmp(cmd->name, "reload") == 0) {
                ob_log_notice("reload requested by uid %u (pid %d)", (unsigned)peer->uid,
                              (int)peer->pid);
                r = ob_daemon_reload(d);
                if (r == -EINVAL) {
                        json_object *e = NULL, *t = NULL;
                        _cleanup_(json_object_putp) json_object *st =
                                d->ob ? ob_onboard_status(d->ob, ob_daemon_now_ms()) : NULL;

                        snprintf(code, code_size, "reload-refused");
                        snprintf(message, message_size, "%s",
                                 st && json_object_object_get_ex(st, "last_error", &e) && e &&
                                                 json_object_object_get_ex(e, "text", &t) && t
                                         ? json_object_get_string(t)
                                         : "the configuration is invalid: the running one stays");
                        return r;
                }
                if (r < 0) {
                        snprintf(code, code_size, "internal");
                        snprintf(message, message_size, "the daemon cannot start again: %s",
                                 strerror(-r));
                        return r;
                }
                *ret_result = status_now(d);
                return *ret_result ? 0 : -ENOMEM;
        }
        if (strcmp(cmd->name, "retry") == 0) {
                char err[256] = "";

                ob_log_notice("retry requested by uid %u (pid %d)", (unsigned)peer->uid,
                              (int)peer->pid);
                r = ob_onboard_retry_now(d->ob, ob_daemon_now_ms(), err, sizeof(err));
                ob_daemon_rearm(d);
                ob_daemon_update_status(d);
                if (r < 0) {
                        snprintf(code, code_size, "%s",
                                 r == -EAGAIN ? "waiting-for-claim" : "nothing-to-retry");
                        snprintf(message, message_size, "%s", err);
                        return r;
                }
                *ret_result = ob_onboard_status(d->ob, ob_daemon_now_ms());
                return *ret_result ? 0 : -ENOMEM;
        }
        if (strcmp(cmd->name, "reprovision") == 0 || strcmp(cmd->name, "decommission") == 0) {
                bool decommission = cmd->name[0] == 'd';
                json_object *v = NULL, *deleted = NULL;
                bool dry_run = json_object_object_get_ex(args, "dry_run", &v) &&
                               json_object_get_boolean(v);

                if (decommission && !(json_object_object_get_ex(args, "confirm", &v) &&
                                      json_object_get_boolean(v))) {
                        snprintf(code, code_size, "bad-request");
                        snprintf(message, message_size,
                                 "decommission deletes the identity: it needs confirm=true");
                        return -EINVAL;
                }
                ob_log_notice("%s%s requested by uid %u (pid %d)", cmd->name,
                              dry_run ? " (dry run)" : "", (unsigned)peer->uid, (int)peer->pid);
                r = ob_onboard_forget(d->ob, decommission, dry_run, ob_daemon_now_ms(), &deleted);
                ob_daemon_rearm(d);
                ob_daemon_update_status(d);
                if (r < 0) {
                        snprintf(code, code_size, "internal");
                        snprintf(message, message_size, "%s failed: %s", cmd->name, strerror(-r));
                        return r;
                }
                *ret_result = ob_onboard_status(d->ob, ob_daemon_now_ms());
                if (*ret_result) {
                        json_object_object_add(*ret_result, "dry_run",
                                               json_object_new_boolean(dry_run));
                        json_object_object_add(*ret_result, "deleted", deleted);
                } else
                        json_object_put(deleted);
                return *ret_result ? 0 : -ENOMEM;
        }
        snprintf(code, code_size, "not-supported");
        snprintf(message, message_size, "%s is not implemented by this daemon yet", cmd->name);
        return -EOPNOTSUPP;
}
