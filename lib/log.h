/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging facade. lib/ code logs at debug level at most (it returns errors instead); the agent
 * logs once, where an error is handled. The sink is pluggable: stderr by default, journald when
 * the agent installs it (agent/journal.c).
 */
#pragma once

#include <stdarg.h>

#include "macro.h"

/* syslog(3) priorities, so journald and stderr agree. */
typedef enum ObLogLevel {
        OB_LOG_ERR = 3,
        OB_LOG_WARNING = 4,
        OB_LOG_NOTICE = 5,
        OB_LOG_INFO = 6,
        OB_LOG_DEBUG = 7,
} ObLogLevel;

/*
 * A sink receives one formatted message. message_id is a 32-hex-digit MESSAGE_ID for events
 * operators alert on, or NULL. fields is a NULL-terminated list of "KEY=value" strings (structured
 * journald fields), or NULL.
 */
typedef void (*ObLogSink)(ObLogLevel level, const char *message_id, const char *const *fields,
                          const char *message, void *userdata);

/* Messages above this level are dropped before formatting. Default: OB_LOG_INFO. */
void ob_log_set_max_level(ObLogLevel level);
ObLogLevel ob_log_get_max_level(void);

/* Parse "err", "warning", "notice", "info", "debug". Returns 0 or -EINVAL. */
int ob_log_level_from_string(const char *s, ObLogLevel *ret);
const char *ob_log_level_to_string(ObLogLevel level);

/* Install a sink; NULL restores the stderr sink. */
void ob_log_set_sink(ObLogSink sink, void *userdata);

/* The default sink: "<level>: message" on stderr, one line. */
void ob_log_sink_stderr(ObLogLevel level, const char *message_id, const char *const *fields,
                        const char *message, void *userdata);

/*
 * Log a message. Always returns -abs(error) when error != 0, else 0, so handlers can write
 * "return ob_log_errno(OB_LOG_ERR, r, "...")". When error != 0, ": <strerror>" is appended.
 */
int ob_log_full(ObLogLevel level, int error, const char *message_id, const char *const *fields,
                const char *fmt, ...) _printf_(5, 6);
int ob_log_fullv(ObLogLevel level, int error, const char *message_id, const char *const *fields,
                 const char *fmt, va_list ap) _printf_(5, 0);

#define ob_log(level, ...)               ob_log_full((level), 0, NULL, NULL, __VA_ARGS__)
#define ob_log_errno(level, error, ...)  ob_log_full((level), (error), NULL, NULL, __VA_ARGS__)
#define ob_log_debug(...)                ob_log(OB_LOG_DEBUG, __VA_ARGS__)
#define ob_log_info(...)                 ob_log(OB_LOG_INFO, __VA_ARGS__)
#define ob_log_notice(...)               ob_log(OB_LOG_NOTICE, __VA_ARGS__)
#define ob_log_warning(...)              ob_log(OB_LOG_WARNING, __VA_ARGS__)
#define ob_log_error(...)                ob_log(OB_LOG_ERR, __VA_ARGS__)
#define ob_log_error_errno(error, ...)   ob_log_errno(OB_LOG_ERR, (error), __VA_ARGS__)
#define ob_log_warning_errno(error, ...) ob_log_errno(OB_LOG_WARNING, (error), __VA_ARGS__)
#define ob_log_debug_errno(error, ...)   ob_log_errno(OB_LOG_DEBUG, (error), __VA_ARGS__)
