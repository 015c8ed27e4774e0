/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "fsops.h"
#include "isotime.h"

/* The first error of this run, for ob_cli_finish(). */
static struct {
        bool json;        /* errors go out as JSON too */
        bool printed;     /* a JSON document is on stdout already */
        bool failed;      /* an error is recorded */
        bool from_daemon; /* the code and message are the daemon's */
        char code[33];    /* "" until a complaint names one */
        char message[1024];
} first;

void ob_cli_set_json(bool json)
{
        first.json = json;
}

static void record(const char *code, bool from_daemon, const char *fmt, va_list ap)
{
        if (first.failed)
                return;
        first.failed = true;
        first.from_daemon = from_daemon;
        snprintf(first.code, sizeof(first.code), "%s", code ? code : "");
        vsnprintf(first.message, sizeof(first.message), fmt, ap);
}

/* "agentctl: ", the message, tail on stderr; recorded (without the tail) as the error. */
static void say(const char *code, const char *tail, const char *fmt, va_list ap)
{
        va_list aq;

        va_copy(aq, ap);
        record(code, false, fmt, aq);
        va_end(aq);
        fprintf(stderr, "agentctl: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "%s\n", tail);
}

void ob_cli_complain(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        say(NULL, "", fmt, ap);
        va_end(ap);
}

void ob_cli_fail(const char *code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        say(code, "", fmt, ap);
        va_end(ap);
}

_printf_(3, 4) static void record_f(const char *code, bool from_daemon, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        record(code, from_daemon, fmt, ap);
        va_end(ap);
}

int ob_cli_daemon_refused(const char *what, const char *code, const char *message)
{
        code = code && code[0] ? code : "?";
        message = message ? message : "";
        fprintf(stderr, "agentctl: %s refused: %s: %s\n", what, code, message);
        record_f(code, true, "%s", message[0] ? message : what);
        return strcmp(code, "permission-denied") == 0 ? OB_CLI_EXIT_NOPERM : EXIT_FAILURE;
}

int ob_cli_next_option(const char *cmd, int argc, char *argv[], const struct option *options)
{
        int opt;

        opterr = 0;
        /* "+": stop at the first operand; ":": a missing argument is ':', not '?' */
        opt = getopt_long(argc, argv, "+:", options, NULL);
        if (opt == ':') {
                (void)ob_cli_usage_error("%s: option '%s' needs an argument", cmd,
                                         argv[optind - 1]);
                return -1;
        }
        if (opt == '?') {
                (void)ob_cli_usage_error("%s: unknown option '%s'", cmd, argv[optind - 1]);
                return -1;
        }
        if (opt > 0)
                return opt;
        if (optind < argc) {
                (void)ob_cli_usage_error("%s: unexpected argument '%s'", cmd, argv[optind]);
                return -1;
        }
        return 0;
}

int ob_cli_parse_options(const char *cmd, int argc, char *argv[], const ObCliOption *options)
{
        struct option o[OB_CLI_OPTIONS_MAX + 1] = {};
        size_t n;
        int opt;

        for (n = 0; n < OB_CLI_OPTIONS_MAX && options[n].name; n++)
                /* val: the index + 1, below ':' and '?' */
                o[n] = (struct option){options[n].name,
                                       options[n].arg ? required_argument : no_argument, NULL,
                                       (int)n + 1};
        optind = 0;
        while ((opt = ob_cli_next_option(cmd, argc, argv, o)) > 0) {
                const ObCliOption *x = &options[opt - 1];
                if (x->arg)
                        *x->arg = optarg;
                else
                        *x->flag = true;
        }
        return opt;
}

int ob_cli_usage_error(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        say(OB_CLI_E_USAGE, " (see 'agentctl help')", fmt, ap);
        va_end(ap);
        return OB_CLI_EXIT_USAGE;
}

void ob_cli_log_sink(ObLogLevel level, const char *message_id, const char *const *fields,
                     const char *message, void *userdata)
{
        ob_log_sink_stderr(level, message_id, fields, message, userdata);
        if (level <= OB_LOG_ERR)
                record_f(NULL, false, "%s", message);
}

void ob_cli_print_json(json_object *o)
{
        first.printed = true;
        printf("%s\n",
               json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const char *code_for_exit(int exit_code)
{
        switch (exit_code) {
        case OB_CLI_EXIT_USAGE:
                return OB_CLI_E_USAGE;
        case OB_CLI_EXIT_NOPERM:
                return OB_CLI_E_PERMISSION_DENIED;
        case OB_CLI_EXIT_CONFIG:
                return OB_CLI_E_CONFIG_INVALID;
        default:
                return OB_CLI_E_FAILED;
        }
}

int ob_cli_finish(int exit_code)
{
        json_object *o, *e;
        char fallback[64];

        if (!first.json || exit_code == 0 || first.printed)
                return exit_code;
        snprintf(fallback, sizeof(fallback), "failed (exit status %d)", exit_code);
        o = json_object_new_object();
        e = json_object_new_object();
        if (!o || !e) {
                json_object_put(o);
                json_object_put(e);
                printf("{ \"ok\": false, \"error\": { \"code\": \"%s\", \"message\": \"out of "
                       "memory\", \"exit\": %d } }\n",
                       code_for_exit(exit_code), exit_code);
                return exit_code;
        }
        json_object_object_add(
                e, "code",
                json_object_new_string(first.code[0] ? first.code : code_for_exit(exit_code)));
        json_object_object_add(e, "message",
                               json_object_new_string(first.failed ? first.message : fallback));
        json_object_object_add(e, "source",
                               json_object_new_string(first.from_daemon ? "daemon" : "agentctl"));
        json_object_object_add(e, "exit", json_object_new_int(exit_code));
        json_object_object_add(o, "ok", json_object_new_boolean(false));
        json_object_object_add(o, "error", e);
        ob_cli_print_json(o);
        json_object_put(o);
        fflush(stdout);
        return exit_code;
}

int ob_cli_load_config(const char *path, bool warnings, ObConfig **ret)
{
        _cleanup_free_ char *why = NULL;
        ObConfigDiags d = {0};
        int r;

        r = ob_config_load(path, NULL, ret, &d);
        if (r != -ENOMEM && (r < 0 || warnings))
                (void)ob_config_diags_print(&d, stderr);
        if (r < 0 && r != -ENOMEM)
                (void)ob_config_diags_first_error(&d, &why);
        ob_config_diags_clear(&d);
        if (r == -ENOMEM) {
                ob_cli_fail(OB_CLI_E_FAILED, "cannot load the configuration: %s", strerror(ENOMEM));
                return EXIT_FAILURE;
        }
        if (r < 0) {
                /* stderr has every diagnostic above; the record names the first */
                fprintf(stderr,
                        "agentctl: %s: invalid configuration, run 'agentctl config check'\n", path);
                record_f(OB_CLI_E_CONFIG_INVALID, false,
                         "invalid configuration: %s; run 'agentctl config check'",
                         why ? why : path);
                return OB_CLI_EXIT_CONFIG;
        }
        return 0;
}

int ob_cli_read_input(const char *context, const char *what, const char *path, size_t max,
                      char **ret, size_t *ret_len)
{
        int r = ob_fs_read_file(path, 0, max, ret, ret_len);
        if (r == -EFBIG)
                ob_cli_fail(OB_CLI_E_IO, "%s: %s %s is larger than %zu bytes", context, what, path,
                            max);
        else if (r < 0)
                ob_cli_fail(OB_CLI_E_IO, "%s: %s %s: %s", context, what, path,
                            r == -EINVAL ? "not a regular file" : strerror(-r));
        return r;
}

const char *ob_cli_iso_time(int64_t t, char *buf, size_t size)
{
        ob_isotime_format(t, buf, size);
        return buf;
}
