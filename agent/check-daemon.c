/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check daemon: the daemon runs and answers on its control socket (ping), and it is the same
 * version as this agentctl. check state: onboarded, or what the device waits for and since
 * when, from the daemon's status when it runs, else from state.json.
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
        int r;

        if (ob_check_no_config(ctx, o))
                return;
        r = ob_check_need_daemon(ctx);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                ob_check_say(o, OB_HEALTH_FAIL, "not running: no daemon answers on %s/control.sock",
                             ctx->config->paths.runtime_dir);
                ob_check_hint(o, "systemctl status onboard-agent; journalctl -u onboard-agent");
                return;
        }
        if (ob_check_access_error(r)) {
                ob_check_say(o, OB_HEALTH_WARN, "%s/control.sock refuses this user",
                             ctx->config->paths.runtime_dir);
                ob_check_hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "the daemon does not answer on %s/control.sock: %s",
                             ctx->config->paths.runtime_dir, strerror(-r));
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
        ob_check_say(o, OB_HEALTH_PASS, "running, answers on %s/control.sock, version %s",
                     ctx->config->paths.runtime_dir, ctx->daemon_version);
}

void ob_check_state(ObCheckContext *ctx, ObCheckOutcome *o)
{
        _cleanup_(json_object_putp) json_object *stored = NULL;
        json_object *s, *le = NULL;
        const char *state, *code, *text, *since, *next;
        bool running;
        int r;

        if (ob_check_no_config(ctx, o))
                return;
        running = ob_check_need_daemon(ctx) >= 0;
        if (running)
                s = ctx->daemon_status;
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
        if (running && strcmp(state, "onboarded") == 0) {
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
