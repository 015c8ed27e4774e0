/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static ObLogLevel max_level = OB_LOG_INFO;
static ObLogSink sink = ob_log_sink_stderr;
static void *sink_userdata;

static const char *const level_names[] = {
        [OB_LOG_ERR] = "err",   [OB_LOG_WARNING] = "warning", [OB_LOG_NOTICE] = "notice",
        [OB_LOG_INFO] = "info", [OB_LOG_DEBUG] = "debug",
};

void ob_explicit_bzero(void *p, size_t n)
{
        if (p && n > 0)
                explicit_bzero(p, n);
}

char *ob_secret_free(char *s)
{
        if (s) {
                ob_explicit_bzero(s, strlen(s));
                free(s);
        }
        return NULL;
}

void ob_log_set_max_level(ObLogLevel level)
{
        max_level = level;
}

ObLogLevel ob_log_get_max_level(void)
{
        return max_level;
}

int ob_log_level_from_string(const char *s, ObLogLevel *ret)
{
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < OB_ELEMENTSOF(level_names); i++)
                if (level_names[i] && strcmp(level_names[i], s) == 0) {
                        *ret = (ObLogLevel)i;
                        return 0;
                }
        return -EINVAL;
}

const char *ob_log_level_to_string(ObLogLevel level)
{
        if ((size_t)level < OB_ELEMENTSOF(level_names) && level_names[level])
                return level_names[level];
        return "unknown";
}

void ob_log_set_sink(ObLogSink s, void *userdata)
{
        sink = s ? s : ob_log_sink_stderr;
        sink_userdata = s ? userdata : NULL;
}

void ob_log_sink_stderr(ObLogLevel level, const char *message_id, const char *const *fields,
                        const char *message, void *userdata)
{
        fprintf(stderr, "%s: %s\n", ob_log_level_to_string(level), message);
}

/* Control characters as C escapes (\n, \r, \xNN; a tab stays): text from the cloud, a file or
 * a peer never forges a log line or a terminal sequence. Truncated at whole escapes. */
static const char *escape_controls(const char *src, char *dst, size_t dstsize)
{
        size_t j = 0;

        for (const char *p = src; *p; p++)
                if ((unsigned char)*p < 0x20 ? *p != '\t' : *p == 0x7f)
                        goto escape;
        return src;
escape:
        for (const char *p = src; *p; p++) {
                unsigned char ch = (unsigned char)*p;
                char esc[5];

                if ((ch >= 0x20 && ch != 0x7f) || ch == '\t') {
                        if (j + 1 >= dstsize)
                                break;
                        dst[j++] = (char)ch;
                        continue;
                }
                if (ch == '\n' || ch == '\r')
                        snprintf(esc, sizeof(esc), "\\%c", ch == '\n' ? 'n' : 'r');
                else
                        snprintf(esc, sizeof(esc), "\\x%02x", ch);
                size_t l = strlen(esc);
                if (j + l >= dstsize)
                        break;
                memcpy(dst + j, esc, l);
                j += l;
        }
        dst[j] = 0;
        return dst;
}

int ob_log_fullv(ObLogLevel level, int error, const char *message_id, const char *const *fields,
                 const char *fmt, va_list ap)
{
        int saved = errno;
        int ret = error == 0 ? 0 : -abs(error);

        if (level > max_level)
                goto out;

        char buf[2048];
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        if (n < 0)
                goto out;
        if (error != 0 && (size_t)n < sizeof(buf))
                snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(abs(error)));
        char esc[sizeof(buf) * 2];
        sink(level, message_id, fields, escape_controls(buf, esc, sizeof(esc)), sink_userdata);
out:
        errno = saved;
        return ret;
}

int ob_log_full(ObLogLevel level, int error, const char *message_id, const char *const *fields,
                const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = ob_log_fullv(level, error, message_id, fields, fmt, ap);
        va_end(ap);
        return r;
}
