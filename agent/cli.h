/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What agentctl's commands share (agent/agentctl.c, agent/factory.c, agent/check.c): messages
 * on stderr prefixed "agentctl: ", --json output, bounded reads of the files an operator names,
 * and times shown as ISO 8601 UTC.
 *
 * Errors are said in one place: every helper below that complains also records the first error
 * (a stable code and the message), and so does the log sink agentctl installs (level err). With
 * --json, ob_cli_finish() prints it as {"ok":false,"error":{...}} on stdout when the command
 * failed and printed no JSON of its own: every outcome is one JSON document.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <getopt.h>
#include <json-c/json.h>

#include "config-file.h"
#include "log.h"
#include "macro.h"

#define OB_CLI_EXIT_USAGE  64
#define OB_CLI_EXIT_NOPERM 77
#define OB_CLI_EXIT_CONFIG 78

/* agentctl's own error codes (agentctl(8), "JSON ERRORS"; docs/control.md). The daemon's codes
 * pass through as it sent them. A complaint without a code gets the one of its exit status:
 * 64 usage, 77 permission-denied, 78 config-invalid, else failed. */
#define OB_CLI_E_USAGE              "usage"
#define OB_CLI_E_PERMISSION_DENIED  "permission-denied"
#define OB_CLI_E_CONFIG_INVALID     "config-invalid"
#define OB_CLI_E_DAEMON_UNREACHABLE "daemon-unreachable"
#define OB_CLI_E_TIMEOUT            "timeout"
#define OB_CLI_E_DAEMON_RUNNING     "daemon-running"
#define OB_CLI_E_BUSY               "busy"
#define OB_CLI_E_IO                 "io"
#define OB_CLI_E_FAILED             "failed"

/* Errors go out as JSON on stdout too (--json anywhere on the command line). */
void ob_cli_set_json(bool json);

/* "agentctl: <message>" on stderr; recorded as the error (code from the exit status). */
_printf_(1, 2) void ob_cli_complain(const char *fmt, ...);

/* The same with a code (OB_CLI_E_*; NULL: from the exit status). */
_printf_(2, 3) void ob_cli_fail(const char *code, const char *fmt, ...);

/* "agentctl: <what> refused: <code>: <message>" on stderr; the daemon's code and message, as
 * it sent them, are the error ("source": "daemon"). Returns the exit code: 77 for
 * permission-denied, else 1. */
int ob_cli_daemon_refused(const char *what, const char *code, const char *message);

/* "agentctl: <message> (see 'agentctl help')" on stderr, recorded with code usage; returns
 * OB_CLI_EXIT_USAGE. */
_printf_(1, 2) int ob_cli_usage_error(const char *fmt, ...);

/* getopt_long() over a command's own options (argv[0] is the command's last word; set optind = 0
 * before the first call; every option's val is non-zero): the next option's val, 0 when the
 * options are done and no operand follows (commands take none), or -1 after saying what is wrong
 * as a usage error "<cmd>: unknown option '--x'", "<cmd>: option '--x' needs an argument" or
 * "<cmd>: unexpected argument 'x'" (the caller returns OB_CLI_EXIT_USAGE). */
int ob_cli_next_option(const char *cmd, int argc, char *argv[], const struct option *options);

#define OB_CLI_OPTIONS_MAX 16

/* A command's option, for ob_cli_parse_options(): "--name VALUE" stores VALUE at *arg, "--name"
 * (no arg) sets *flag. */
typedef struct ObCliOption {
        const char *name; /* without "--"; NULL ends the table */
        const char **arg;
        bool *flag;
} ObCliOption;

/* Parse a command's options (at most OB_CLI_OPTIONS_MAX; argv[0] is the command's last word)
 * into the places the table names. 0, or -1 after saying what is wrong as ob_cli_next_option()
 * does (the caller returns OB_CLI_EXIT_USAGE). */
int ob_cli_parse_options(const char *cmd, int argc, char *argv[], const ObCliOption *options);

/* A log sink (ob_log_set_sink()): the stderr sink, and messages at err recorded as the error. */
void ob_cli_log_sink(ObLogLevel level, const char *message_id, const char *const *fields,
                     const char *message, void *userdata);

/* o as pretty JSON on stdout, one object, then a newline; no error document follows it. */
void ob_cli_print_json(json_object *o);

/* The end of agentctl: with --json, a failed command (exit_code != 0) that printed no JSON
 * prints the error document. Returns exit_code. */
int ob_cli_finish(int exit_code);

/* Load the configuration at path. On failure prints the diagnostics on stderr (with warnings:
 * also on success), says why (config-invalid, naming the first error) and returns the exit
 * code (78, or 1 out of memory); 0 and *ret otherwise. */
int ob_cli_load_config(const char *path, bool warnings, ObConfig **ret);

/* Read the file at path that the operator named (at most max bytes, a regular file) into *ret
 * (NUL-terminated; *ret_len, if not NULL, its length). On failure says why, as
 * "agentctl: <context>: <what> <path>: <why>" (code io), and returns the negative errno. */
int ob_cli_read_input(const char *context, const char *what, const char *path, size_t max,
                      char **ret, size_t *ret_len);

/* t (seconds since the epoch) as "YYYY-MM-DDTHH:MM:SSZ" in buf, or "@<t>" when it is out of
 * range; returns buf. */
const char *ob_cli_iso_time(int64_t t, char *buf, size_t size);
