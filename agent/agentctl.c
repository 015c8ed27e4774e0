/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agentctl: the operator's window into onboard-agent. Commands come from one table
 * {name, handler, help, needs_root}; a name may be two words ("config check").
 *
 * The commands that talk to the daemon are agent/agentctl-daemon.c's, the manufacturing ones
 * agent/factory*.c's, the checks agent/check*.c's.
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

#include "agentctl-daemon.h"
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
        /* the configuration file and --json, as given before the command or (--json) anywhere;
         * the handlers in this file read the same from arg_config and arg_json */
        int (*handler)(const char *config_path, bool json, int argc, char *argv[]);
        const char *help;
        bool needs_root;
} Command;

static int cmd_help(const char *config_path, bool json, int argc, char *argv[]);
static int cmd_config_check(const char *config_path, bool json, int argc, char *argv[]);
static int cmd_config_show(const char *config_path, bool json, int argc, char *argv[]);
static int cmd_config_keys(const char *config_path, bool json, int argc, char *argv[]);
static int cmd_check(const char *config_path, bool json, int argc, char *argv[]);

static const Command commands[] = {
        {"help", "", cmd_help, "Show this help", false},
        {"status", "[--json]", ob_agentctl_status,
         "Onboarding state, identity, certificate validity, last error and next retry", false},
        {"rotate", "[--json]", ob_agentctl_rotate,
         "Renew the certificate and key now (the current ones stay until the new ones work)", true},
        {"retry", "[--json]", ob_agentctl_retry,
         "End the current wait (retry backoff, activation, TPM) and try now", true},
        {"reprovision", "[--dry-run] [--json]", ob_agentctl_reprovision,
         "Delete the identity (keys, certificates, state) and onboard again", true},
        {"decommission", "--yes [--json]", ob_agentctl_decommission,
         "Delete the identity and stop onboarding until a reprovision", true},
        {"provision", "--claim-cert FILE --claim-key FILE", ob_agentctl_provision,
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
        {"factory csr", "[--subject DN] [--out FILE] [--json]", ob_factory_csr,
         "Manufacturing: create the device key if absent and print a CSR for it", false},
        {"factory install-cert", "--cert FILE [--chain FILE] [--force] [--json]",
         ob_factory_install_cert,
         "Manufacturing: check and install the signed device certificate (and CA chain)", false},
        {"factory status", "[--json]", ob_factory_status,
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

static int cmd_help(const char *config_path, bool json, int argc, char *argv[])
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

static int cmd_config_check(const char *config_path, bool json, int argc, char *argv[])
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

static int cmd_config_show(const char *config_path, bool json, int argc, char *argv[])
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

static int cmd_config_keys(const char *config_path, bool json, int argc, char *argv[])
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

/* ------------------------------------------------------------------ check */

#define MAX_CHECKS 32

static int cmd_check(const char *config_path, bool json, int argc, char *argv[])
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
        return cmd->handler(arg_config, arg_json, argc - optind - (words - 1),
                            argv + optind + (words - 1));
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
