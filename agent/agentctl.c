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
#include <unistd.h>

#include "config-file.h"
#include "log.h"
#include "macro.h"

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

static const Command commands[] = {
        {"help", "", cmd_help, "Show this help", false},
        {"config check", "[--json]", cmd_config_check,
         "Validate the configuration; exit 0 (valid) or 78 (invalid)", false},
        {"config show", "[--json]", cmd_config_show,
         "Print the effective configuration, with defaults and the file each value came from",
         false},
        {"config keys", "[--json]", cmd_config_keys,
         "Print the reference of every configuration key (type, default, range, help)", false},
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: agentctl [--json] [--config FILE] COMMAND [ARGS...]\n"
                   "\n"
                   "Commands:\n");
        for (size_t i = 0; i < OB_ELEMENTSOF(commands); i++) {
                char left[64];
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
                "78 invalid configuration.\n",
                DEFAULT_CONFIG);
}

_printf_(1, 2) static int usage_error(const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "agentctl: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see 'agentctl help')\n");
        return EXIT_USAGE;
}

/* Options a command accepts after its name: only --json for now. */
static int parse_command_options(const char *cmd, int argc, char *argv[])
{
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {},
        };
        int c;

        optind = 0; /* reset getopt for the sub-argv (argv[0] is the command name) */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0) {
                if (c == 'j')
                        arg_json = true;
                else {
                        fprintf(stderr, "agentctl: %s: unknown option '%s' (see 'agentctl help')\n",
                                cmd, argv[optind - 1]);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "agentctl: %s: unexpected argument '%s' (see 'agentctl help')\n",
                        cmd, argv[optind]);
                return -EINVAL;
        }
        return 0;
}

static void print_json(json_object *o)
{
        printf("%s\n",
               json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int cmd_help(int argc, char *argv[])
{
        if (parse_command_options("help", argc, argv) < 0)
                return EXIT_USAGE;
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
                print_json(o);
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
        ObConfigDiags d = {0};
        const ObConfigKey *keys;
        size_t n;
        int r;

        if (parse_command_options("config show", argc, argv) < 0)
                return EXIT_USAGE;
        r = load(&c, &d);
        (void)ob_config_diags_print(&d, stderr);
        ob_config_diags_clear(&d);
        if (r == -ENOMEM)
                return ob_log_error_errno(r, "Failed to load the configuration"), EXIT_FAILURE;
        if (r < 0) {
                fprintf(stderr,
                        "agentctl: %s: invalid configuration, run 'agentctl config check'\n",
                        arg_config);
                return EXIT_CONFIG;
        }
        if (arg_json) {
                json_object *o = ob_config_to_json(c);
                if (!o)
                        return EXIT_FAILURE;
                print_json(o);
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
                print_json(a);
                json_object_put(a);
        }
        return 0;
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

int main(int argc, char *argv[])
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
                        usage(stdout);
                        return 0;
                case ARG_VERSION:
                        printf("agentctl %s\n", PACKAGE_VERSION);
                        return 0;
                case ':':
                        return usage_error("option '%s' needs an argument", argv[optind - 1]);
                default:
                        return usage_error("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }

        cmd = find_command(argc - optind, argv + optind, &words);
        if (!cmd) {
                if (is_command_group(argv[optind]) && optind + 1 < argc) {
                        char what[256];
                        snprintf(what, sizeof(what), "%s %s", argv[optind], argv[optind + 1]);
                        return usage_error("unknown command '%s'", what);
                }
                if (is_command_group(argv[optind]))
                        return usage_error("'%s' needs a subcommand", argv[optind]);
                return usage_error("unknown command '%s'", argv[optind]);
        }
        if (cmd->needs_root && geteuid() != 0) {
                fprintf(stderr, "agentctl: '%s' must be run as root\n", cmd->name);
                return EXIT_NOPERM;
        }
        /* the handler's argv[0] is the last word of the command name */
        return cmd->handler(argc - optind - (words - 1), argv + optind + (words - 1));
}
