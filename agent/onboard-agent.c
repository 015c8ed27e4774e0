/* SPDX-License-Identifier: Apache-2.0 */
/*
 * onboard-agent: the daemon's main. It parses the command line, loads and validates the
 * configuration and hands over to the event loop (agent/daemon.c). Started as "agentctl" (the
 * installed agentctl is a symbolic link to this program), it is agentctl (agent/agentctl.h).
 *
 * Exit codes: 0 ok, 1 failure, 64 usage error (EX_USAGE), 78 invalid configuration (EX_CONFIG,
 * listed in the unit's RestartPreventExitStatus so systemd does not restart-loop).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentctl.h"
#include "config-file.h"
#include "daemon.h"
#include "journal.h"
#include "log.h"
#include "macro.h"

#define EXIT_USAGE  64
#define EXIT_CONFIG 78

#define DEFAULT_CONFIG SYSCONFDIR "/onboard-agent/config.json"

static const char *arg_config = DEFAULT_CONFIG;
static bool arg_check_config;
static const char *arg_log_level;

static void help(void)
{
        printf("Usage: onboard-agent [OPTIONS]\n"
               "\n"
               "Onboard this device to AWS IoT Core with a TPM-held key and keep its identity\n"
               "healthy (see onboard-agent(8)).\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE     configuration file (default %s);\n"
               "                        drop-ins are read from the sibling config.d/*.json\n"
               "      --check-config    validate the configuration, print every problem, exit\n"
               "                        0 (valid) or 78 (invalid)\n"
               "      --log-level LEVEL err, warning, notice, info or debug (overrides log.level)\n"
               "  -h, --help            show this help\n"
               "      --version         show the version\n"
               "\n"
               "Exit status: 0 ok, 1 failure, 64 usage error, 78 invalid configuration.\n",
               DEFAULT_CONFIG);
}

static int parse_argv(int argc, char *argv[])
{
        enum { ARG_CHECK = 0x100, ARG_VERSION, ARG_LOG_LEVEL };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"check-config", no_argument, NULL, ARG_CHECK},
                {"log-level", required_argument, NULL, ARG_LOG_LEVEL},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {},
        };
        ObLogLevel l;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_CHECK:
                        arg_check_config = true;
                        break;
                case ARG_LOG_LEVEL:
                        if (ob_log_level_from_string(optarg, &l) < 0) {
                                fprintf(stderr,
                                        "onboard-agent: invalid --log-level '%s' (err, warning, "
                                        "notice, info, debug)\n",
                                        optarg);
                                return -EINVAL;
                        }
                        arg_log_level = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("onboard-agent %s\n", PACKAGE_VERSION);
                        return 0;
                case ':':
                        fprintf(stderr, "onboard-agent: option '%s' needs an argument\n",
                                argv[optind - 1]);
                        return -EINVAL;
                default:
                        fprintf(stderr, "onboard-agent: unknown option '%s' (see --help)\n",
                                argv[optind - 1]);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "onboard-agent: unexpected argument '%s' (see --help)\n",
                        argv[optind]);
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char *argv[])
{
        _cleanup_config_ ObConfig *config = NULL;
        ObConfigDiags diags = {0};
        ObLogLevel level;
        int r;

        if (argc > 0 && ob_agentctl_invoked_as(argv[0]))
                return ob_agentctl_main(argc, argv);

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;

        /* the daemon's lines go to the journal, or stderr with a timestamp, from the first one;
         * --check-config is a command: its diagnostics are plain lines */
        if (!arg_check_config)
                (void)ob_journal_setup();
        r = ob_config_load(arg_config, NULL, &config, &diags);
        if (arg_check_config)
                (void)ob_config_diags_print(&diags, stderr);
        else
                for (size_t i = 0; i < diags.n; i++) {
                        _cleanup_free_ char *line = NULL;
                        if (ob_config_diag_format(&diags.items[i], &line) >= 0)
                                ob_log(diags.items[i].severity == OB_CONFIG_ERROR ? OB_LOG_ERR
                                                                                  : OB_LOG_WARNING,
                                       "%s", line);
                }
        if (r == -ENOMEM) {
                ob_config_diags_clear(&diags);
                ob_log_error_errno(r, "Failed to load the configuration");
                return EXIT_FAILURE;
        }
        if (r < 0) {
                if (arg_check_config)
                        fprintf(stderr, "onboard-agent: %s: invalid configuration (%zu error%s)\n",
                                arg_config, diags.n_errors, diags.n_errors == 1 ? "" : "s");
                else
                        ob_log_error("%s: invalid configuration (%zu error%s)", arg_config,
                                     diags.n_errors, diags.n_errors == 1 ? "" : "s");
                ob_config_diags_clear(&diags);
                return EXIT_CONFIG;
        }
        ob_config_diags_clear(&diags);

        if (arg_check_config) {
                printf("%s: configuration is valid\n", arg_config);
                return EXIT_SUCCESS;
        }

        /* the command line wins over log.level; both were validated already */
        if (ob_log_level_from_string(
                    arg_log_level ? arg_log_level
                                  : ob_config_enum_name(ob_config_key_find("log.level", NULL),
                                                        config->log.level),
                    &level) == 0)
                ob_log_set_max_level(level);

        ob_log_info("onboard-agent %s: configuration loaded from %s (method %s)", PACKAGE_VERSION,
                    arg_config, ob_provisioning_method_to_string(config->provisioning.method));
        return ob_daemon_run(arg_config, TAKE_PTR(config));
}
