/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check daemon: the daemon runs and answers on its control socket (ping), and it is the same
 * version as this agentctl. check state: onboarded, or what the device waits for and since
 * when, from the daemon's status when it runs, else from state.json. check config-current: the
 * configuration on disk is valid and is what the daemon runs with (lib/config-digest.h).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "check-daemon.h"
#include "check-private.h"
#include "onboard.h"

static const char *jget(json_object *o, const char *key)
{
        json_object *v;

        if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                return json_object_get_string(v);
        return NULL;
}

void ob_check_daemon(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const char *dir;
        int r;

        /* also with an invalid configuration on disk: the daemon runs with the one it loaded */
        if (ob_check_need_config(ctx) == -ENOMEM) {
                ob_check_say(o, OB_HEALTH_FAIL, "out of memory");
                return;
        }
        dir = ob_check_runtime_dir(ctx);
        r = ob_check_need_daemon(ctx);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                ob_check_say(o, OB_HEALTH_FAIL, "not running: no daemon answers on %s/control.sock",
                             dir);
                ob_check_hint(o, "systemctl status onboard-agent; journalctl -u onboard-agent");
                return;
        }
        if (ob_check_access_error(r)) {
                ob_check_say(o, OB_HEALTH_WARN, "%s/control.sock refuses this user", dir);
                ob_check_hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "the daemon does not answer on %s/control.sock: %s",
                             dir, strerror(-r));
                ob_check_hint(o, "systemctl status onboard-agent (a hung daemon is restarted by "
                                 "its watchdog)");
                return;
        }
        if (!ctx->daemon_version || strcmp(ctx->daemon_version, PACKAGE_VERSION) != 0) {
                ob_check_say(o, OB_HEALTH_WARN, "the daemon runs version %s, this agentctl is %s",
                             ctx->daemon_version ? ctx->daemon_version : "(unknown)",
                             PACKAGE_VERSION);
                ob_check_hint(o, "the package was upgraded and the daemon not restarted: "
                                 "systemctl restart onboard-agent");
                return;
        }
        ob_check_say(o, OB_HEALTH_PASS, "running, answers on %s/control.sock, version %s", dir,
                     ctx->daemon_version);
}

void ob_check_state(ObCheckContext *ctx, ObCheckOutcome *o)
{
        _cleanup_(json_object_putp) json_object *stored = NULL;
        json_object *s, *le = NULL;
        const char *state, *code, *text, *since, *next;
        bool running;
        int r;

        if (ob_check_need_config(ctx) == -ENOMEM) {
                ob_check_say(o, OB_HEALTH_FAIL, "out of memory");
                return;
        }
        running = ob_check_need_daemon(ctx) >= 0;
        if (running)
                s = ctx->daemon_status;
        else if (ob_check_no_config(ctx, o))
                return;
        else {
                r = ob_check_need_state(ctx);
                if (r == -ENOENT) {
                        ob_check_say(o, OB_HEALTH_WARN,
                                     "no state yet and no daemon running: never onboarded");
                        ob_check_hint(o, "systemctl start onboard-agent");
                        return;
                }
                if (r < 0) {
                        ob_check_say(o, OB_HEALTH_SKIP,
                                     "state.json is not usable (see check "
                                     "state-file)");
                        return;
                }
                stored = ob_onboard_status_from_state(ctx->state);
                if (!stored) {
                        ob_check_say(o, OB_HEALTH_FAIL, "out of memory");
                        return;
                }
                s = stored;
        }
        state = jget(s, "state");
        if (!state)
                state = "unknown";
        (void)json_object_object_get_ex(s, "last_error", &le);
        code = jget(le, "code");
        text = jget(le, "text");
        since = jget(le, "time");
        next = jget(s, "next_retry");
        /* a check-in (docs/shadow.md) is a moment of being onboarded; one that failed is said */
        if (running && (strcmp(state, "onboarded") == 0 || strcmp(state, "checking-in") == 0) &&
            code && strncmp(code, "checkin-", 8) == 0) {
                ob_check_say(o, OB_HEALTH_WARN,
                             "onboarded as %s, but the last check-in failed at %s: %s: %s",
                             jget(s, "thing_name") ? jget(s, "thing_name") : "?",
                             since ? since : "?", code, text ? text : "");
                ob_check_hint(o,
                              "the next check-in retries at %s; a refusal of the current "
                              "certificate means it is revoked or inactive in AWS IoT",
                              next ? next : "the backoff's time");
                return;
        }
        if (running && (strcmp(state, "onboarded") == 0 || strcmp(state, "checking-in") == 0)) {
                ob_check_say(o, OB_HEALTH_PASS, "onboarded as %s (certificate %.12s...)",
                             jget(s, "thing_name") ? jget(s, "thing_name") : "?",
                             jget(s, "certificate_id") ? jget(s, "certificate_id") : "?");
                return;
        }
        if (!running) {
                const char *stage = jget(s, "stage");
                bool decommissioned = code && strcmp(code, "decommissioned") == 0;
                ob_check_say(o, decommissioned ? OB_HEALTH_FAIL : OB_HEALTH_WARN,
                             "the daemon is not running; last known stage %s%s%s%s%s",
                             stage ? stage : "new", code ? ", last error " : "", code ? code : "",
                             text ? ": " : "", text ? text : "");
                ob_check_hint(o, decommissioned
                                         ? "decommissioned by intent: agentctl reprovision "
                                           "onboards it again"
                                         : "systemctl start onboard-agent (see check daemon)");
                return;
        }
        if (strcmp(state, "failed") == 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "failed%s%s%s%s%s%s", code ? ": " : "",
                             code ? code : "", text ? ": " : "", text ? text : "",
                             since ? ", since " : "", since ? since : "");
                ob_check_hint(o, code && strcmp(code, "decommissioned") == 0
                                         ? "decommissioned by intent: agentctl reprovision "
                                           "onboards it again"
                                         : "fix the cause named, then agentctl reprovision or "
                                           "restart the daemon (docs/operations.md)");
                return;
        }
        ob_check_say(o, OB_HEALTH_WARN, "%s%s%s%s%s%s%s%s%s", state, code ? ", last error " : "",
                     code ? code : "", text ? ": " : "", text ? text : "", since ? ", since " : "",
                     since ? since : "", next ? ", next try " : "", next ? next : "");
        ob_check_hint(o, "not onboarded yet: agentctl status shows the progress; the journal "
                         "(journalctl -u onboard-agent) says why it waits");
}

void ob_check_config_current(ObCheckContext *ctx, ObCheckOutcome *o)
{
        json_object *c = NULL;
        const char *file, *sha, *hex;
        int r;

        r = ob_check_need_config(ctx);
        if (r == -ENOMEM) {
                ob_check_say(o, OB_HEALTH_FAIL, "out of memory");
                return;
        }
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s on disk is invalid: %s%s", ctx->config_path,
                             ctx->config_err[0] ? ctx->config_err : "see check config",
                             ob_check_need_daemon(ctx) >= 0
                                     ? "; the daemon keeps running with the configuration it "
                                       "loaded, a reload or restart would be refused"
                                     : "");
                ob_check_hint(o, "fix it (agentctl config check), then systemctl reload "
                                 "onboard-agent");
                return;
        }
        hex = ctx->config->sha256; /* of the files just loaded, as the daemon's
                                      (lib/config-digest.h) */
        if (!hex[0]) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s cannot be read again", ctx->config_path);
                return;
        }
        if (ob_check_need_daemon(ctx) < 0) {
                ob_check_say(o, OB_HEALTH_SKIP, "the daemon is not running (see check daemon)");
                return;
        }
        (void)json_object_object_get_ex(ctx->daemon_status, "config", &c);
        file = jget(c, "file");
        sha = jget(c, "sha256");
        if (!file || !sha) {
                ob_check_say(o, OB_HEALTH_WARN,
                             "the daemon does not say which configuration it runs (version %s)",
                             ctx->daemon_version ? ctx->daemon_version : "unknown");
                ob_check_hint(o, "see check daemon: restart it after an upgrade");
                return;
        }
        if (strcmp(file, ctx->config_path) != 0) {
                ob_check_say(o, OB_HEALTH_WARN, "the daemon runs with %s, this check reads %s",
                             file, ctx->config_path);
                ob_check_hint(o, "agentctl --config %s check", file);
                return;
        }
        if (strcmp(sha, hex) != 0) {
                ob_check_say(o, OB_HEALTH_WARN,
                             "%s (or a drop-in in config.d) was changed on disk since the daemon "
                             "loaded it: the daemon runs with the previous content",
                             file);
                ob_check_hint(o, "systemctl reload onboard-agent");
                return;
        }
        ob_check_say(o, OB_HEALTH_PASS,
                     "the daemon runs with what is on disk: %s and its drop-ins (sha256 "
                     "%.12s...)",
                     file, sha);
}
