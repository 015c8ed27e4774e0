/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agentctl: the operator's window into onboard-agent. Commands come from one table
 * {name, handler, help, needs_root}; a name may be two words ("config check").
 *
 * Exit codes (documented in agentctl(8)): 0 ok, 1 failure, 64 usage error (EX_USAGE),
 * 77 permission denied (EX_NOPERM), 78 invalid configuration (EX_CONFIG).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentctl.h"
#include "check.h"
#include "cli.h"
#include "config-file.h"
#include "control-client.h"
#include "factory.h"
#include "fsops.h"
#include "log.h"
#include "macro.h"
#include "onboard.h"
#include "store.h"

#define EXIT_USAGE  64
#define EXIT_NOPERM 77
#define EXIT_CONFIG 78

#define DEFAULT_CONFIG SYSCONFDIR "/onboard-agent/config.json"

static const char *arg_config = DEFAULT_CONFIG;
static bool arg_json;

typedef struct Command {
        const char *name; /* one or two words */
        const char *args; /* for the usage text */
        int (*handler)(int argc, char *argv[]);
        const char *help;
        bool needs_root;
} Command;

static int cmd_help(int argc, char *argv[]);
static int cmd_config_check(int argc, char *argv[]);
static int cmd_config_show(int argc, char *argv[]);
static int cmd_config_keys(int argc, char *argv[]);
static int cmd_status(int argc, char *argv[]);
static int cmd_provision(int argc, char *argv[]);
static int cmd_rotate(int argc, char *argv[]);
static int cmd_retry(int argc, char *argv[]);
static int cmd_reprovision(int argc, char *argv[]);
static int cmd_decommission(int argc, char *argv[]);
static int cmd_check(int argc, char *argv[]);
static int cmd_factory_csr(int argc, char *argv[]);
static int cmd_factory_install_cert(int argc, char *argv[]);
static int cmd_factory_status(int argc, char *argv[]);

static const Command commands[] = {
        {"help", "", cmd_help, "Show this help", false},
        {"status", "[--json]", cmd_status,
         "Onboarding state, identity, certificate validity, last error and next retry", false},
        {"rotate", "[--json]", cmd_rotate,
         "Renew the certificate and key now (the current ones stay until the new ones work)", true},
        {"retry", "[--json]", cmd_retry,
         "End the current wait (retry backoff, activation, TPM) and try now", true},
        {"reprovision", "[--dry-run] [--json]", cmd_reprovision,
         "Delete the identity (keys, certificates, state) and onboard again", true},
        {"decommission", "--yes [--json]", cmd_decommission,
         "Delete the identity and stop onboarding until a reprovision", true},
        {"provision", "--claim-cert FILE --claim-key FILE", cmd_provision,
         "Hand a trusted user's temporary claim to the agent (fleet-trusted-user)", true},
        {"check", "[--json] [--skip ID]...", cmd_check,
         "Check config, state, TPM, keys, certificates, network and TLS; exit 0/3/1 "
         "(pass/warn/fail)",
         false},
        {"config check", "[--json]", cmd_config_check,
         "Validate the configuration; exit 0 (valid) or 78 (invalid)", false},
        {"config show", "[--json]", cmd_config_show,
         "Print the effective configuration, with defaults and the file each value came from",
         false},
        {"config keys", "[--json]", cmd_config_keys,
         "Print the reference of every configuration key (type, default, range, help)", false},
        {"factory csr", "[--subject DN] [--out FILE] [--json]", cmd_factory_csr,
         "Manufacturing: create the device key if absent and print a CSR for it", false},
        {"factory install-cert", "--cert FILE [--chain FILE] [--force] [--json]",
         cmd_factory_install_cert,
         "Manufacturing: check and install the signed device certificate (and CA chain)", false},
        {"factory status", "[--json]", cmd_factory_status,
         "Manufacturing: is the box ready to ship? exit 0 ready, 4 not ready", false},
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: agentctl [--json] [--config FILE] COMMAND [ARGS...]\n"
                   "\n"
                   "Commands:\n");
        for (size_t i = 0; i < OB_ELEMENTSOF(commands); i++) {
                char left[96];
                snprintf(left, sizeof(left), "%s %s", commands[i].name, commands[i].args);
                fprintf(f, "  %-28s %s%s\n", left, commands[i].help,
                        commands[i].needs_root ? " (root)" : "");
        }
        fprintf(f,
                "\n"
                "Options:\n"
                "  -c, --config FILE  configuration file (default %s)\n"
                "      --json         machine-readable output\n"
                "  -h, --help         show this help\n"
                "      --version      show the version\n"
                "\n"
                "Exit status: 0 ok, 1 failure, 64 usage error, 77 permission denied,\n"
                "78 invalid configuration; 'check': 0 pass, 3 warn, 1 fail;\n"
                "'factory status': 0 ready to ship, 4 not ready.\n",
                DEFAULT_CONFIG);
}

/* Options a command accepts after its name: only --json for now. */
static int parse_command_options(const char *cmd, int argc, char *argv[])
{
        const ObCliOption options[] = {{"json", .flag = &arg_json}, {}};

        return ob_cli_parse_options(cmd, argc, argv, options) < 0 ? -EINVAL : 0;
}

/* The command table as JSON (help --json): {"usage", "commands": [{name, args, help, root}]}. */
static int usage_json(void)
{
        json_object *o = json_object_new_object(), *a = json_object_new_array();

        if (!o || !a) {
                json_object_put(o);
                json_object_put(a);
                ob_cli_fail(OB_CLI_E_FAILED, "help: %s", strerror(ENOMEM));
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < OB_ELEMENTSOF(commands); i++) {
                json_object *c = json_object_new_object();
                json_object_object_add(c, "name", json_object_new_string(commands[i].name));
                json_object_object_add(c, "args", json_object_new_string(commands[i].args));
                json_object_object_add(c, "help", json_object_new_string(commands[i].help));
                json_object_object_add(c, "root", json_object_new_boolean(commands[i].needs_root));
                json_object_array_add(a, c);
        }
        json_object_object_add(o, "usage",
                               json_object_new_string("agentctl [--json] [--config FILE] COMMAND "
                                                      "[ARGS...]"));
        json_object_object_add(o, "commands", a);
        ob_cli_print_json(o);
        json_object_put(o);
        return 0;
}

static int cmd_help(int argc, char *argv[])
{
        if (parse_command_options("help", argc, argv) < 0)
                return EXIT_USAGE;
        if (arg_json)
                return usage_json();
        usage(stdout);
        return 0;
}

/* Load the configuration. Returns 0 ok, -EINVAL invalid (diags hold why), -ENOMEM. */
static int load(ObConfig **ret, ObConfigDiags *d)
{
        return ob_config_load(arg_config, NULL, ret, d);
}

static int cmd_config_check(int argc, char *argv[])
{
        _cleanup_config_ ObConfig *c = NULL;
        ObConfigDiags d = {0};
        int r;

        if (parse_command_options("config check", argc, argv) < 0)
                return EXIT_USAGE;
        r = load(&c, &d);
        if (r == -ENOMEM) {
                ob_config_diags_clear(&d);
                return ob_log_error_errno(r, "Failed to load the configuration"), EXIT_FAILURE;
        }
        if (arg_json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "file", json_object_new_string(arg_config));
                json_object_object_add(o, "valid", json_object_new_boolean(r == 0));
                json_object_object_add(o, "errors", json_object_new_int((int)d.n_errors));
                json_object_object_add(o, "warnings", json_object_new_int((int)d.n_warnings));
                json_object_object_add(o, "diagnostics", ob_config_diags_to_json(&d));
                ob_cli_print_json(o);
                json_object_put(o);
        } else {
                (void)ob_config_diags_print(&d, stdout);
                if (r == 0)
                        printf("%s: configuration is valid (%zu warning%s)\n", arg_config,
                               d.n_warnings, d.n_warnings == 1 ? "" : "s");
                else
                        printf("%s: configuration is invalid (%zu error%s, %zu warning%s)\n",
                               arg_config, d.n_errors, d.n_errors == 1 ? "" : "s", d.n_warnings,
                               d.n_warnings == 1 ? "" : "s");
        }
        ob_config_diags_clear(&d);
        return r == 0 ? 0 : EXIT_CONFIG;
}

static int cmd_config_show(int argc, char *argv[])
{
        _cleanup_config_ ObConfig *c = NULL;
        const ObConfigKey *keys;
        size_t n;
        int r;

        if (parse_command_options("config show", argc, argv) < 0)
                return EXIT_USAGE;
        r = ob_cli_load_config(arg_config, true, &c);
        if (r != 0)
                return r;
        if (arg_json) {
                json_object *o = ob_config_to_json(c);
                if (!o)
                        return EXIT_FAILURE;
                ob_cli_print_json(o);
                json_object_put(o);
                return 0;
        }
        keys = ob_config_keys(&n);
        for (size_t i = 0; i < n; i++) {
                json_object *v = ob_config_value_to_json(c, &keys[i]);
                printf("%-34s = %-40s # %s\n", keys[i].name,
                       json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE),
                       c->sources[i] ? c->sources[i] : "default");
                json_object_put(v);
        }
        return 0;
}

static int cmd_config_keys(int argc, char *argv[])
{
        const ObConfigKey *keys;
        json_object *a = NULL;
        size_t n;

        if (parse_command_options("config keys", argc, argv) < 0)
                return EXIT_USAGE;
        keys = ob_config_keys(&n);
        if (arg_json)
                a = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                const ObConfigKey *k = &keys[i];
                char range[256], req[128];
                ob_config_key_range(k, range, sizeof(range));
                ob_config_key_required(k, req, sizeof(req));
                if (a) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "name", json_object_new_string(k->name));
                        json_object_object_add(
                                o, "type",
                                json_object_new_string(ob_config_type_to_string(k->type)));
                        json_object_object_add(o, "default",
                                               k->def ? json_object_new_string(k->def) : NULL);
                        json_object_object_add(o, "range", json_object_new_string(range));
                        json_object_object_add(o, "required", json_object_new_string(req));
                        json_object_object_add(o, "help", json_object_new_string(k->help));
                        json_object_array_add(a, o);
                } else
                        printf("%s (%s)\n    default: %s; range: %s; required: %s\n    %s\n",
                               k->name, ob_config_type_to_string(k->type),
                               k->def ? k->def : "unset", range[0] ? range : "-", req, k->help);
        }
        if (a) {
                ob_cli_print_json(a);
                json_object_put(a);
        }
        return 0;
}

/* ------------------------------------------------------------------ talking to the daemon */

#define CALL_TIMEOUT_MS 10000
#define MAX_PEM_FILE    (64 * 1024)

static char *socket_path(const ObConfig *c)
{
        char *p = NULL;

        if (asprintf(&p, "%s/control.sock", c->paths.runtime_dir) < 0)
                return NULL;
        return p;
}

/* Load the configuration for a command that needs it; says why not. 0 or an exit code. */
static int load_or_complain(ObConfig **ret)
{
        return ob_cli_load_config(arg_config, false, ret);
}

/* Why the daemon at sock (ob_control_call() returned r < 0, not -EREMOTEIO) did not answer;
 * the exit code. */
static int unreachable(const ObConfig *c, const char *sock, int r)
{
        if (r == -EACCES || r == -EPERM) {
                ob_cli_fail(OB_CLI_E_PERMISSION_DENIED,
                            "%s: permission denied (root or group %s only)", sock,
                            c->control.group ? c->control.group : "-");
                return EXIT_NOPERM;
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
static int load_for_status(ObConfig **ret, char **ret_invalid)
{
        ObConfigDiags d = {0};
        int r;

        *ret_invalid = NULL;
        r = load(ret, &d);
        if (r < 0 && r != -ENOMEM) {
                ob_config_diags_clear(&d);
                r = ob_config_load_lenient(arg_config, ret, &d);
                (void)ob_config_diags_first_error(&d, ret_invalid);
                if (*ret) {
                        fprintf(stderr,
                                "agentctl: warning: %s is invalid (%s); run 'agentctl config "
                                "check'. Status from %s/control.sock (the paths valid there, or "
                                "the defaults)\n",
                                arg_config, *ret_invalid ? *ret_invalid : "?",
                                (*ret)->paths.runtime_dir);
                        r = 0;
                }
        }
        if (r < 0 && r != -ENOMEM) {
                _cleanup_free_ char *why = NULL;
                (void)ob_config_diags_first_error(&d, &why);
                ob_cli_fail(OB_CLI_E_CONFIG_INVALID,
                            "invalid configuration: %s; run 'agentctl config check'",
                            why ? why : arg_config);
        }
        ob_config_diags_clear(&d);
        return r == -ENOMEM ? EXIT_FAILURE : r < 0 ? EXIT_CONFIG : 0;
}

static int cmd_status(int argc, char *argv[])
{
        _cleanup_config_ ObConfig *c = NULL;
        _cleanup_free_ char *sock = NULL, *code = NULL, *msg = NULL, *invalid = NULL;
        json_object *st = NULL, *state = NULL;
        char source[512];
        int r;

        if (parse_command_options("status", argc, argv) < 0)
                return EXIT_USAGE;
        r = load_for_status(&c, &invalid);
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
                        return EXIT_NOPERM;
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
        if (arg_json)
                ob_cli_print_json(st);
        else {
                print_status_human(st, source);
                if (invalid)
                        printf("Config:       %s is INVALID on disk: %s\n", arg_config, invalid);
        }
        json_object_put(st);
        return 0;
}

/* A root verb without arguments that answers with the status: say what it started ("what: STATE
 * (follow it ...)"), and a warning the daemon attached (a request taken but not saved). */
static int call_simple_verb(const char *verb, const char *what, int argc, char *argv[])
{
        _cleanup_config_ ObConfig *c = NULL;
        json_object *st = NULL;
        int r;

        if (parse_command_options(verb, argc, argv) < 0)
                return EXIT_USAGE;
        r = load_or_complain(&c);
        if (r == 0)
                r = call_daemon(c, verb, NULL, &st);
        if (r != 0)
                return r;
        if (arg_json)
                ob_cli_print_json(st);
        else
                printf("%s: %s (follow it with 'agentctl status')\n", what,
                       jstr_or(st, "state", "?"));
        if (!arg_json && jstr(st, "warning")) /* taken, but not saved */
                fprintf(stderr, "agentctl: warning: %s\n", jstr(st, "warning"));
        json_object_put(st);
        return 0;
}

static int cmd_retry(int argc, char *argv[])
{
        return call_simple_verb("retry", "Trying now", argc, argv);
}

static int cmd_rotate(int argc, char *argv[])
{
        return call_simple_verb("rotate", "Rotation started", argc, argv);
}

/* reprovision / decommission: the daemon forgets the identity (agent/daemon.c). */
static int forget(const char *name, int argc, char *argv[], bool decommission)
{
        _cleanup_config_ ObConfig *c = NULL;
        json_object *args, *st = NULL, *deleted = NULL;
        bool dry_run = false, yes = false;
        /* --dry-run for reprovision, --yes for decommission */
        const ObCliOption options[] = {
                {decommission ? "yes" : "dry-run", .flag = decommission ? &yes : &dry_run},
                {"json", .flag = &arg_json},
                {},
        };
        int r;

        if (ob_cli_parse_options(name, argc, argv, options) < 0)
                return EXIT_USAGE;
        if (decommission && !yes)
                return ob_cli_usage_error("decommission deletes the device's identity for good: "
                                          "confirm with --yes");
        r = load_or_complain(&c);
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
        if (arg_json) {
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

static int cmd_reprovision(int argc, char *argv[])
{
        return forget("reprovision", argc, argv, false);
}

static int cmd_decommission(int argc, char *argv[])
{
        return forget("decommission", argc, argv, true);
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
static int cmd_provision(int argc, char *argv[])
{
        _cleanup_config_ ObConfig *c = NULL;
        _cleanup_free_ char *crt = NULL, *key = NULL;
        const char *crt_path = NULL, *key_path = NULL;
        const ObCliOption options[] = {
                {"claim-cert", .arg = &crt_path},
                {"claim-key", .arg = &key_path},
                {"json", .flag = &arg_json},
                {},
        };
        json_object *args, *st = NULL;
        int r;

        if (ob_cli_parse_options("provision", argc, argv, options) < 0)
                return EXIT_USAGE;
        if (!crt_path || !key_path)
                return ob_cli_usage_error("provision needs --claim-cert FILE and --claim-key FILE");
        r = load_or_complain(&c);
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
        if (arg_json)
                ob_cli_print_json(st);
        else
                printf("Claim accepted: %s\n", jstr_or(st, "state", "?"));
        json_object_put(st);
        return 0;
}

/* ------------------------------------------------------------------ check */

#define MAX_CHECKS 32

static int cmd_check(int argc, char *argv[])
{
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"skip", required_argument, NULL, 's'},
                {},
        };
        _cleanup_(ob_check_context_freep) ObCheckContext *ctx = NULL;
        json_object *a = NULL;
        const ObCheck *table;
        size_t n;
        int opt;

        table = ob_check_table(&n);
        bool skip[MAX_CHECKS] = {false};
        ObHealthResult results[MAX_CHECKS];
        if (n > MAX_CHECKS)
                return EXIT_FAILURE; /* a table that outgrew the arrays: a build error, really */

        optind = 0;
        while ((opt = ob_cli_next_option("check", argc, argv, options)) > 0) {
                if (opt == 'j')
                        arg_json = true;
                else { /* 's' */
                        const ObCheck *k = ob_check_find(optarg);
                        if (!k)
                                return ob_cli_usage_error("check: unknown check id '%s'", optarg);
                        skip[k - table] = true;
                }
        }
        if (opt < 0)
                return EXIT_USAGE;
        if (ob_check_context_new(arg_config, (int64_t)time(NULL), &ctx) < 0 ||
            (arg_json && !(a = json_object_new_array()))) {
                ob_cli_fail(OB_CLI_E_FAILED, "check: %s", strerror(ENOMEM));
                return EXIT_FAILURE;
        }
        if (!arg_json)
                printf("%-15s %-6s %s\n", "CHECK", "RESULT", "DETAIL");
        for (size_t i = 0; i < n; i++) {
                ObCheckOutcome o = {.result = OB_HEALTH_SKIP};

                if (skip[i])
                        snprintf(o.detail, sizeof(o.detail), "skipped (--skip)");
                else
                        table[i].run(ctx, &o);
                results[i] = o.result;
                if (a) {
                        json_object *j = json_object_new_object();
                        json_object_object_add(j, "id", json_object_new_string(table[i].id));
                        json_object_object_add(j, "title", json_object_new_string(table[i].title));
                        json_object_object_add(
                                j, "result",
                                json_object_new_string(ob_health_result_to_string(o.result)));
                        json_object_object_add(j, "detail", json_object_new_string(o.detail));
                        json_object_object_add(j, "hint", json_object_new_string(o.hint));
                        json_object_array_add(a, j);
                } else {
                        const char *res = ob_health_result_to_string(o.result);
                        /* the bad ones stand out in upper case */
                        const char *up = o.result == OB_HEALTH_FAIL   ? "FAIL"
                                         : o.result == OB_HEALTH_WARN ? "WARN"
                                                                      : res;
                        printf("%-15s %-6s %s\n", table[i].id, up, o.detail);
                        if (o.hint[0] && o.result >= OB_HEALTH_WARN)
                                printf("%-15s %-6s -> %s\n", "", "", o.hint);
                }
                fflush(stdout);
        }

        ObHealthResult worst = ob_health_worst(results, n);
        if (a) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "checks", a);
                json_object_object_add(o, "worst",
                                       json_object_new_string(ob_health_result_to_string(worst)));
                ob_cli_print_json(o);
                json_object_put(o);
        } else
                printf("\nWorst result: %s\n", ob_health_result_to_string(worst));
        return ob_health_exit_code(worst);
}

/* ------------------------------------------------------------------ factory (agent/factory.c) */

static int cmd_factory_csr(int argc, char *argv[])
{
        return ob_factory_csr(arg_config, arg_json, argc, argv);
}

static int cmd_factory_install_cert(int argc, char *argv[])
{
        return ob_factory_install_cert(arg_config, arg_json, argc, argv);
}

static int cmd_factory_status(int argc, char *argv[])
{
        return ob_factory_status(arg_config, arg_json, argc, argv);
}

static const Command *find_command(int argc, char *argv[], int *ret_words)
{
        /* two-word names first ("config check"), then one word */
        for (int words = 2; words >= 1; words--) {
                char name[128];
                if (argc < words)
                        continue;
                if (words == 2)
                        snprintf(name, sizeof(name), "%s %s", argv[0], argv[1]);
                else
                        snprintf(name, sizeof(name), "%s", argv[0]);
                for (size_t i = 0; i < OB_ELEMENTSOF(commands); i++)
                        if (strcmp(commands[i].name, name) == 0) {
                                *ret_words = words;
                                return &commands[i];
                        }
        }
        return NULL;
}

static bool is_command_group(const char *word)
{
        size_t l = strlen(word);
        for (size_t i = 0; i < OB_ELEMENTSOF(commands); i++)
                if (strncmp(commands[i].name, word, l) == 0 && commands[i].name[l] == ' ')
                        return true;
        return false;
}

bool ob_agentctl_invoked_as(const char *argv0)
{
        const char *base;

        if (!argv0)
                return false;
        base = strrchr(argv0, '/');
        return strcmp(base ? base + 1 : argv0, "agentctl") == 0;
}

static int run(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100, ARG_JSON };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"json", no_argument, NULL, ARG_JSON},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {},
        };
        const Command *cmd;
        int c, words = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'h':
                        if (arg_json)
                                return usage_json();
                        usage(stdout);
                        return 0;
                case ARG_VERSION:
                        if (arg_json) {
                                json_object *o = json_object_new_object();
                                json_object_object_add(o, "version",
                                                       json_object_new_string(PACKAGE_VERSION));
                                ob_cli_print_json(o);
                                json_object_put(o);
                        } else
                                printf("agentctl %s\n", PACKAGE_VERSION);
                        return 0;
                case ':':
                        return ob_cli_usage_error("option '%s' needs an argument",
                                                  argv[optind - 1]);
                default:
                        return ob_cli_usage_error("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return ob_cli_usage_error("no command given");
        }

        cmd = find_command(argc - optind, argv + optind, &words);
        if (!cmd) {
                if (is_command_group(argv[optind]) && optind + 1 < argc) {
                        char what[256];
                        snprintf(what, sizeof(what), "%s %s", argv[optind], argv[optind + 1]);
                        return ob_cli_usage_error("unknown command '%s'", what);
                }
                if (is_command_group(argv[optind]))
                        return ob_cli_usage_error("'%s' needs a subcommand", argv[optind]);
                return ob_cli_usage_error("unknown command '%s'", argv[optind]);
        }
        if (cmd->needs_root && geteuid() != 0) {
                ob_cli_fail(OB_CLI_E_PERMISSION_DENIED, "'%s' must be run as root", cmd->name);
                return EXIT_NOPERM;
        }
        /* the handler's argv[0] is the last word of the command name */
        return cmd->handler(argc - optind - (words - 1), argv + optind + (words - 1));
}

int ob_agentctl_main(int argc, char *argv[])
{
        /* --json anywhere (global, or a command's option) makes every outcome JSON, also a usage
         * error found before the command parses its own options */
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "--json") == 0) {
                        arg_json = true;
                        ob_cli_set_json(true);
                }
        ob_log_set_sink(ob_cli_log_sink, NULL);
        return ob_cli_finish(run(argc, argv));
}
