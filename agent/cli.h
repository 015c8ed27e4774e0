/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What agentctl's commands share (agent/agentctl.c, agent/factory.c, agent/check.c): messages
 * on stderr prefixed "agentctl: ", --json output, bounded reads of the files an operator names,
 * and times shown as ISO 8601 UTC.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "macro.h"

#define OB_CLI_EXIT_USAGE 64

/* "agentctl: <message>" on stderr. */
_printf_(1, 2) void ob_cli_complain(const char *fmt, ...);

/* "agentctl: <message> (see 'agentctl help')" on stderr; returns OB_CLI_EXIT_USAGE. */
_printf_(1, 2) int ob_cli_usage_error(const char *fmt, ...);

/* o as pretty JSON on stdout, one object, then a newline. */
void ob_cli_print_json(json_object *o);

/* Read the file at path that the operator named (at most max bytes, a regular file) into *ret
 * (NUL-terminated; *ret_len, if not NULL, its length). On failure says why, as
 * "agentctl: <context>: <what> <path>: <why>", and returns the negative errno. */
int ob_cli_read_input(const char *context, const char *what, const char *path, size_t max,
                      char **ret, size_t *ret_len);

/* t (seconds since the epoch) as "YYYY-MM-DDTHH:MM:SSZ" in buf, or "@<t>" when it is out of
 * range; returns buf. */
const char *ob_cli_iso_time(int64_t t, char *buf, size_t size);
