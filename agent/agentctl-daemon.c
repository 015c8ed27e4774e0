/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agentctl's commands that talk to the running daemon over its control socket
 * (docs/control.md): status (from state.json when no daemon runs), rotate, retry, reprovision,
 * decommission and provision. The command table and the dispatch are agent/agentctl.c's.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentctl-daemon.h"
#include "cli.h"
#include "config-file.h"
#include "control-client.h"
#include "macro.h"
#include "onboard.h"
#include "store.h"

#define CALL_TIMEOUT_MS 10000
#define MAX_PEM_FILE    (64 * 1024)

static char *socket_path(const ObConfig *c)
{
        char *p = NULL;

        if (asprintf(&p, "%s/control.sock", c->paths.runtime_dir) < 0)
                return NULL;
        return p;
}

/* Why the daemon at sock (ob_control_call() returned r < 0, not -EREMOTEIO) did not answer;
 * the exit code. */
static int unreachable(const ObConfig *c, const char *sock, int r)
{
        if (r == -EACCES || r == -EPERM) {
                ob_cli_fail(OB_CLI_E_PERMISSION_DENIED,
                            "%s: permission denied (root or group %s only)", sock,
                            c->control.group ? c->control.group : "-");
                return OB_CLI_EXIT_NOPERM;
        }
        if (r == -ENOENT || r == -ECONNREFUSED)
                ob_cli_fail(OB_CLI_E_DAEMON_UNREACHABLE,
                            "the daemon is not running: nothing listens on %s (start it: "
                            "systemctl start onboard-agent)",
                            sock);
        else if (r == -ETIMEDOUT)
                ob_cli_fail(OB_CLI_E_TIMEOUT, "the daemon at %s did not answer within %d s", sock,
                            CALL_TIMEOUT_MS / 1000);
        else
                ob_cli_fail(OB_CLI_E_DAEMON_UNREACHABLE, "cannot reach the daemon at %s: %s", sock,
                            strerror(-r));
        return EXIT_FAILURE;
}

/*
 * A mutating request to the daemon: 0 and *ret (the reply's result), or the exit code after
 * saying why (refused: 1 or 77; no daemon or no socket access: 1 or 77). args is consumed.
 */
static int call_daemon(const ObConfig *c, const char *name, json_object *args, json_object **ret)
{
        _cleanup_free_ char *sock = socket_path(c), *code = NULL, *msg = NULL;
        int r;

        if (!sock) {
                json_object_put(args);
                ob_cli_fail(OB_CLI_E_FAILED, "%s", strerror(ENOMEM));
                return EXIT_FAILURE;
        }
        r = ob_control_call(sock, name, args, CALL_TIMEOUT_MS, ret, &code, &msg);
        json_object_put(args);
        if (r == -EREMOTEIO)
                return ob_cli_daemon_refused(name, code, msg);
        if (r < 0)
                return unreachable(c, sock, r);
        return 0;
}

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;

        if (o && json_object_object_get_ex(o, key, &v) && v)
                return json_object_get_string(v);
        return NULL;
}

/* The string at key, or def when absent or null. */
static const char *jstr_or(json_object *o, const char *key, const char *def)
{
        const char *s = jstr(o, key);

        return s ? s : def;
}

static void print_status_human(json_object *st, const char *source)
{
        json_object *e = NULL, *v = NULL;
        const char *nb = jstr(st, "certificate_not_before"),
                   *na = jstr(st, "certificate_not_after");
        /* without a daemon the identity is what state.json last said, not a live fact */
        bool stopped = (json_object_object_get_ex(st, "daemon_running", &v) && v &&
                        !json_object_get_boolean(v)) ||
                       (json_object_object_get_ex(st, "identity_in_use", &v) && v &&
                        !json_object_get_boolean(v));
        const char *known = stopped ? " (last known)" : "";

        printf("State:        %s\n", jstr_or(st, "state", "?"));
        printf("Stage:        %s\n", jstr_or(st, "stage", "?"));
        printf("Method:       %s\n", jstr_or(st, "method", "-"));
        if (jstr(st, "serial") && jstr(st, "serial_source"))
                printf("Serial:       %s (from %s)\n", jstr_or(st, "serial", ""),
                       jstr_or(st, "serial_source", ""));
        else if (jstr(st, "serial"))
                printf("Serial:       %s\n", jstr_or(st, "serial", ""));
        printf("Thing:        %s%s\n", jstr_or(st, "thing_name", "-"),
               jstr(st, "thing_name") ? known : "");
        printf("Certificate:  %s%s\n", jstr_or(st, "certificate_id", "-"),
               jstr(st, "certificate_id") ? known : "");
        if (json_object_object_get_ex(st, "generation", &v) && v)
                printf("Generation:   %s\n", json_object_get_string(v));
        if (nb && na)
                printf("Valid:        %s .. %s\n", nb, na);
        if (json_object_object_get_ex(st, "last_error", &e) && e)
                printf("Last error:   %s (%s) at %s: %s\n", jstr_or(e, "code", "?"),
                       jstr_or(e, "class", "local"), jstr_or(e, "time", "?"),
                       jstr_or(e, "text", ""));
        {
                json_object *rot = NULL;
                if (json_object_object_get_ex(st, "rotation", &rot) && rot)
                        printf("Rotation:     in progress (%s)\n", jstr_or(rot, "stage", "?"));
        }
        if (jstr(st, "next_rotation"))
                printf("Next renewal: %s\n", jstr_or(st, "next_rotation", ""));
        if (json_object_object_get_ex(st, "checkin", &v) && v &&
            (jstr(v, "last") || jstr(v, "next")))
                printf("Check-in:     last %s, next %s\n", jstr_or(v, "last", "-"),
                       jstr_or(v, "next", "-"));
        if (json_object_object_get_ex(st, "shadow", &v) && v && jstr(v, "result"))
                printf("Shadow:       %s at %s\n", jstr_or(v, "result", ""),
                       jstr_or(v, "reported_at", "?"));
        if (json_object_object_get_ex(st, "job", &v) && v)
                printf("Job:          %s %s (%s)\n", jstr_or(v, "id", "?"),
                       jstr_or(v, "operation", "?"), jstr_or(v, "phase", "?"));
        if (json_object_object_get_ex(st, "rotation_policy", &v) && v)
                printf("Policy:       lifetime_fraction %s, days_before_expiry %s, max_age_days %s "
                       "(set by a job)\n",
                       jstr_or(v, "lifetime_fraction", "?"), jstr_or(v, "days_before_expiry", "?"),
                       jstr_or(v, "max_age_days", "?"));
        if (jstr(st, "healing"))
                printf("Healing:      through the claim (%s)\n", jstr_or(st, "healing", ""));
        if (jstr(st, "healed_at"))
                printf("Healed:       %s (%s)\n", jstr_or(st, "healed_at", ""),
                       jstr_or(st, "heal_reason", "?"));
        if (json_object_object_get_ex(st, "waiting_for", &v) && v)
                printf("Waiting for:  %s since %s: %s\n", jstr_or(v, "what", "?"),
                       jstr_or(v, "since", "?"), jstr_or(v, "detail", ""));
        if (jstr(st, "next_retry"))
                printf("Next retry:   %s%s%s%s\n", jstr_or(st, "next_retry", ""),
                       jstr(st, "attempts") ? " (attempt " : "", jstr_or(st, "attempts", ""),
                       jstr(st, "attempts") ? ")" : "");
        if (jstr(st, "rotation_note"))
                printf("Note:         %s\n", jstr_or(st, "rotation_note", ""));
        if (jstr(st, "tpm_note"))
                printf("TPM:          %s\n", jstr_or(st, "tpm_note", ""));
        printf("Daemon:       %s\n", source);
}

/*
 * The configuration for status, which needs only where the socket and the state are: an invalid
 * file on disk (edited while the daemon runs) must not hide the daemon. Its first error goes to
 * *ret_invalid (NULL when valid) and a warning to stderr. 0 or an exit code.
 */
static int load_for_status(const char *config_path, ObConfig **ret, char **ret_invalid)
{
        ObConfigDiags d = {0};
        int r;

        *ret_invalid = NULL;
        r = ob_config_load(config_path, NULL, ret, &d);
        if (r < 0 && r != -ENOMEM) {
                ob_config_diags_clear(&d);
                r = ob_config_load_lenient(config_path, ret, &d);
                (void)ob_config_diags_first_error(&d, ret_invalid);
                if (*ret) {
                        fprintf(stderr,
                                "agentctl: warning: %s is invalid (%s); run 'agentctl config "
                                "check'. Status from %s/control.sock (the paths valid there, or "
                                "the defaults)\n",
                                config_path, *ret_invalid ? *ret_invalid : "?",
                                (*ret)->paths.runtime_dir);
                        r = 0;
                }
        }
        if (r < 0 && r != -ENOMEM) {
                _cleanup_free_ char *why = NULL;
                (void)ob_config_diags_first_error(&d, &why);
                ob_cli_fail(OB_CLI_E_CONFIG_INVALID,
                            "invalid configuration: %s; run 'agentctl config check'",
                            why ? why : config_path);
        }
        ob_config_diags_clear(&d);
        return r == -ENOMEM ? EXIT_FAILURE : r < 0 ? OB_CLI_EXIT_CONFIG : 0;
}

int ob_agentctl_status(const char *config_path, bool json, int argc, char *argv[])
{
        const ObCliOption json_only[] = {{"json", .flag = &json}, {}};
        _cleanup_config_ ObConfig *c = NULL;
        _cleanup_free_ char *sock = NULL, *code = NULL, *msg = NULL, *invalid = NULL;
        json_object *st = NULL, *state = NULL;
        char source[512];
        int r;

        if (ob_cli_parse_options("status", argc, argv, json_only) < 0)
                return OB_CLI_EXIT_USAGE;
        r = load_for_status(config_path, &c, &invalid);
        if (r != 0)
                return r;
        sock = socket_path(c);
        if (!sock)
                return EXIT_FAILURE;

        r = ob_control_call(sock, "status", NULL, CALL_TIMEOUT_MS, &st, &code, &msg);
        if (r == -EREMOTEIO)
                return ob_cli_daemon_refused("status", code, msg);
        if (r >= 0) {
                snprintf(source, sizeof(source), "running");
        } else if (r == -ENOENT || r == -ECONNREFUSED) {
                /* the daemon is not running: the state file still says where things are */
                _cleanup_(ob_store_freep) ObStore *store = NULL;

                r = ob_store_open(c->paths.state_dir, "state.json", NULL, &store);
                if (r >= 0)
                        r = ob_store_load(store, &state, NULL);
                if (r == -ENOENT) {
                        state = NULL; /* a fresh device */
                } else if (r == -EACCES) {
                        ob_cli_fail(OB_CLI_E_PERMISSION_DENIED,
                                    "the daemon is not running and %s/state.json is not readable "
                                    "by this user",
                                    c->paths.state_dir);
                        return OB_CLI_EXIT_NOPERM;
                } else if (r < 0) {
                        ob_cli_fail(OB_CLI_E_IO,
                                    "the daemon is not running and %s/state.json cannot be read: "
                                    "%s",
                                    c->paths.state_dir, strerror(-r));
                        return EXIT_FAILURE;
                }
                st = ob_onboard_status_from_state(state);
                json_object_put(state);
                if (!st)
                        return EXIT_FAILURE;
                /* nothing retries while no daemon runs: a saved retry time is no promise */
                json_object_object_add(st, "next_retry", NULL);
                snprintf(source, sizeof(source), "not running (read from %s/state.json)",
                         c->paths.state_dir);
        } else
                return unreachable(c, sock, r);

        /* what runs is not what is on disk: a reload or restart would refuse it */
        if (invalid)
                json_object_object_add(st, "config_invalid", json_object_new_string(invalid));
        if (json)
                ob_cli_print_json(st);
        else {
                print_status_human(st, source);
                if (invalid)
                        printf("Config:       %s is INVALID on disk: %s\n", config_path, invalid);
        }
        json_object_put(st);
        return 0;
}

/* A root verb without arguments that answers with the status: say what it started ("what: STATE
 * (follow it ...)"), and a warning the daemon attached (a request taken but not saved). */
static int call_simple_verb(const char *config_path, bool json, const char *verb, const char *what,
                            int argc, char *argv[])
{
        const ObCliOption json_only[] = {{"json", .flag = &json}, {}};
        _cleanup_config_ ObConfig *c = NULL;
        json_object *st = NULL;
        int r;

        if (ob_cli_parse_options(verb, argc, argv, json_only) < 0)
                return OB_CLI_EXIT_USAGE;
        r = ob_cli_load_config(config_path, false, &c);
        if (r == 0)
                r = call_daemon(c, verb, NULL, &st);
        if (r != 0)
                return r;
        if (json)
                ob_cli_print_json(st);
        else
                printf("%s: %s (follow it with 'agentctl status')\n", what,
                       jstr_or(st, "state", "?"));
        if (!json && jstr(st, "warning")) /* taken, but not saved */
                fprintf(stderr, "agentctl: warning: %s\n", jstr(st, "warning"));
        json_object_put(st);
        return 0;
}

int ob_agentctl_retry(const char *config_path, bool json, int argc, char *argv[])
{
        return call_simple_verb(config_path, json, "retry", "Trying now", argc, argv);
}

int ob_agentctl_rotate(const char *config_path, bool json, int argc, char *argv[])
{
        return call_simple_verb(config_path, json, "rotate", "Rotation started", argc, argv);
}

/* reprovision / decommission: the daemon forgets the identity (agent/daemon.c). */
static int forget(const char *config_path, bool json, const char *name, int argc, char *argv[],
                  bool decommission)
{
        _cleanup_config_ ObConfig *c = NULL;
        json_object *args, *st = NULL, *deleted = NULL;
        bool dry_run = false, yes = false;
        /* --dry-run for reprovision, --yes for decommission */
        const ObCliOption options[] = {
                {decommission ? "yes" : "dry-run", .flag = decommission ? &yes : &dry_run},
                {"json", .flag = &json},
                {},
        };
        int r;

        if (ob_cli_parse_options(name, argc, argv, options) < 0)
                return OB_CLI_EXIT_USAGE;
        if (decommission && !yes)
                return ob_cli_usage_error("decommission deletes the device's identity for good: "
                                          "confirm with --yes");
        r = ob_cli_load_config(config_path, false, &c);
        if (r != 0)
                return r;
        args = json_object_new_object();
        if (!args)
                return EXIT_FAILURE;
        json_object_object_add(args, "dry_run", json_object_new_boolean(dry_run));
        if (decommission)
                json_object_object_add(args, "confirm", json_object_new_boolean(true));
        r = call_daemon(c, name, args, &st);
        if (r != 0)
                return r;
        if (json) {
                ob_cli_print_json(st);
        } else {
                printf("%s %s:\n", dry_run ? "Would delete" : "Deleted",
                       decommission ? "(decommission)" : "(reprovision)");
                if (json_object_object_get_ex(st, "deleted", &deleted))
                        for (size_t i = 0; i < json_object_array_length(deleted); i++)
                                printf("  %s\n", json_object_get_string(
                                                         json_object_array_get_idx(deleted, i)));
                if (!dry_run)
                        printf("State: %s\n", jstr_or(st, "state", "?"));
        }
        json_object_put(st);
        return 0;
}

int ob_agentctl_reprovision(const char *config_path, bool json, int argc, char *argv[])
{
        return forget(config_path, json, "reprovision", argc, argv, false);
}

int ob_agentctl_decommission(const char *config_path, bool json, int argc, char *argv[])
{
        return forget(config_path, json, "decommission", argc, argv, true);
}

static int read_pem_file(const char *what, const char *path, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        int r;

        r = ob_cli_read_input("provision", what, path, MAX_PEM_FILE, &buf, NULL);
        if (r < 0)
                return r;
        if (!strstr(buf, "-----BEGIN ")) {
                ob_cli_complain("provision: %s %s is not a PEM file", what, path);
                return -EBADMSG;
        }
        *ret = TAKE_PTR(buf);
        return 0;
}
int ob_agentctl_provision(const char *config_path, bool json, int argc, char *argv[])
{
        _cleanup_config_ ObConfig *c = NULL;
        _cleanup_free_ char *crt = NULL, *key = NULL;
        const char *crt_path = NULL, *key_path = NULL;
        const ObCliOption options[] = {
                {"claim-cert", .arg = &crt_path},
                {"claim-key", .arg = &key_path},
                {"json", .flag = &json},
                {},
        };
        json_object *args, *st = NULL;
        int r;

        if (ob_cli_parse_options("provision", argc, argv, options) < 0)
                return OB_CLI_EXIT_USAGE;
        if (!crt_path || !key_path)
                return ob_cli_usage_error("provision needs --claim-cert FILE and --claim-key FILE");
        r = ob_cli_load_config(config_path, false, &c);
        if (r != 0)
                return r;
        if (read_pem_file("claim certificate", crt_path, &crt) < 0 ||
            read_pem_file("claim key", key_path, &key) < 0)
                return EXIT_FAILURE;
        args = json_object_new_object();
        if (!args)
                return EXIT_FAILURE;
        json_object_object_add(args, "claim_cert", json_object_new_string(crt));
        json_object_object_add(args, "claim_key", json_object_new_string(key));
        if (!crt || !key)
                return EXIT_FAILURE;
        ob_explicit_bzero(key, strlen(key));
        /* json-c copied the key: the request buffer goes with args */
        r = call_daemon(c, "provision", args, &st);
        if (r != 0)
                return r;
        if (json)
                ob_cli_print_json(st);
        else
                printf("Claim accepted: %s\n", jstr_or(st, "state", "?"));
        json_object_put(st);
        return 0;
}
