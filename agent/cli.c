/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "fsops.h"
#include "isotime.h"

/* "agentctl: ", the message, tail. */
static void say(const char *tail, const char *fmt, va_list ap)
{
        fprintf(stderr, "agentctl: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "%s\n", tail);
}

void ob_cli_complain(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        say("", fmt, ap);
        va_end(ap);
}

int ob_cli_usage_error(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        say(" (see 'agentctl help')", fmt, ap);
        va_end(ap);
        return OB_CLI_EXIT_USAGE;
}

void ob_cli_print_json(json_object *o)
{
        printf("%s\n",
               json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
}

int ob_cli_read_input(const char *context, const char *what, const char *path, size_t max,
                      char **ret, size_t *ret_len)
{
        int r = ob_fs_read_file(path, 0, max, ret, ret_len);
        if (r == -EFBIG)
                ob_cli_complain("%s: %s %s is larger than %zu bytes", context, what, path, max);
        else if (r < 0)
                ob_cli_complain("%s: %s %s: %s", context, what, path,
                                r == -EINVAL ? "not a regular file" : strerror(-r));
        return r;
}

const char *ob_cli_iso_time(int64_t t, char *buf, size_t size)
{
        ob_isotime_format(t, buf, size);
        return buf;
}
