/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "journal.h"
#include "log.h"

#define MAX_FIELDS 16

static void sink_journal(ObLogLevel level, const char *message_id, const char *const *fields,
                         const char *message, void *userdata)
{
        char prio[16], mid[48], msg[2100];
        struct iovec iov[MAX_FIELDS + 4];
        size_t n = 0;

        snprintf(msg, sizeof(msg), "MESSAGE=%s", message);
        iov[n++] = (struct iovec){msg, strlen(msg)};
        snprintf(prio, sizeof(prio), "PRIORITY=%d", (int)level);
        iov[n++] = (struct iovec){prio, strlen(prio)};
        if (message_id) {
                snprintf(mid, sizeof(mid), "MESSAGE_ID=%s", message_id);
                iov[n++] = (struct iovec){mid, strlen(mid)};
        }
        for (size_t i = 0; fields && fields[i] && i < MAX_FIELDS; i++)
                iov[n++] = (struct iovec){(void *)fields[i], strlen(fields[i])};
        if (sd_journal_sendv(iov, (int)n) < 0)
                ob_log_sink_stderr(level, message_id, fields, message, userdata);
}

/* JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected to stderr. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        char *end;

        if (!e)
                return false;
        errno = 0;
        dev = strtoull(e, &end, 10);
        if (errno || *end != ':')
                return false;
        ino = strtoull(end + 1, &end, 10);
        if (errno || *end || fstat(2, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Not under journald (a shell, a container, a serial console): each line starts with the UTC
 * time to the millisecond, so that a log file read later still says when. */
static void sink_stderr_timestamped(ObLogLevel level, const char *message_id,
                                    const char *const *fields, const char *message, void *userdata)
{
        struct timespec ts;
        struct tm tm;
        char when[32] = "";

        (void)message_id;
        (void)fields;
        (void)userdata;
        if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) &&
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm) > 0)
                fprintf(stderr, "%s.%03ldZ %s: %s\n", when, ts.tv_nsec / 1000000L,
                        ob_log_level_to_string(level), message);
        else
                fprintf(stderr, "%s: %s\n", ob_log_level_to_string(level), message);
}

bool ob_journal_setup(void)
{
        if (!stderr_is_journal()) {
                ob_log_set_sink(sink_stderr_timestamped, NULL);
                return false;
        }
        ob_log_set_sink(sink_journal, NULL);
        return true;
}
