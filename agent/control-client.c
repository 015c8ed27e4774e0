/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control-client.h"
#include "control-limits.h"
#include "ctl-proto.h"
#include "macro.h"

#define CONNECT_RETRY_MS 10 /* while the server's listen backlog is full */
#define READ_INITIAL     4096
/* The server's busy refusal of a connection (docs/control.md): tried again for this long, after
 * 20 ms, 40 ms, ... at most 320 ms, each with up to as much again of jitter. */
#define BUSY_RETRY_MS     2000
#define BUSY_DELAY_MIN_MS 20
#define BUSY_DELAY_MAX_MS 320

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (-1: no deadline), 0 once it passed. */
static int remaining(int64_t deadline)
{
        int64_t left;
        if (deadline < 0)
                return -1;
        left = deadline - now_ms();
        return left <= 0 ? 0 : (int)OB_MIN(left, (int64_t)INT32_MAX);
}

/* Wait for events on fd until deadline: 0 ready, -ETIMEDOUT, negative errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
        for (;;) {
                struct pollfd p = {.fd = fd, .events = events};
                int t = remaining(deadline);
                if (t == 0)
                        return -ETIMEDOUT;
                int n = poll(&p, 1, t);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return ob_negative_errno();
                if (n > 0)
                        return 0; /* readiness or an error: the next call tells which */
        }
}

static int connect_to(const char *path, int64_t deadline, int *ret_fd)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t n = strlen(path);
        int r;

        if (n == 0)
                return -EINVAL;
        if (n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return ob_negative_errno();
        for (;;) {
                if (connect(fd, (struct sockaddr *)&sa,
                            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1)) >= 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return ob_negative_errno();
                /* the backlog is full: a Unix socket does not queue the attempt; retry */
                r = remaining(deadline);
                if (r == 0)
                        return -ETIMEDOUT;
                (void)poll(NULL, 0, r < 0 ? CONNECT_RETRY_MS : OB_MIN(r, CONNECT_RETRY_MS));
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return errno == EPIPE ? -ECONNRESET : ob_negative_errno();
                        int r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Read one line (newline included) of at most OB_CTL_MAX_LINE bytes. */
static int read_line(int fd, int64_t deadline, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;

        for (;;) {
                if (len == size) {
                        if (size >= OB_CTL_MAX_LINE)
                                return -EBADMSG; /* no newline within the limit */
                        size_t nsize = OB_MIN(OB_MAX(size * 2, (size_t)READ_INITIAL),
                                              (size_t)OB_CTL_MAX_LINE);
                        char *p = realloc(buf, nsize);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        size = nsize;
                }
                ssize_t n = recv(fd, buf + len, size - len, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return ob_negative_errno();
                        int r = wait_fd(fd, POLLIN, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n == 0)
                        return len == 0 ? -ECONNRESET : -EBADMSG;
                char *nl = memchr(buf + len, '\n', (size_t)n);
                len += (size_t)n;
                if (nl) {
                        /* one request, one reply: anything after the newline is a protocol
                         * error, but the reply itself is complete */
                        *ret_len = (size_t)(nl - buf) + 1;
                        *ret = TAKE_PTR(buf);
                        return 0;
                }
        }
}

/* One connection, one request: ob_control_call() without the busy retry. */
static int call_once(const char *socket_path, const char *request, int64_t deadline,
                     json_object **ret_result, char **ret_code, char **ret_message)
{
        _cleanup_free_ char *reply = NULL, *code = NULL, *message = NULL;
        _cleanup_close_ int fd = -1;
        json_object *result = NULL;
        size_t len = 0;
        int r;

        r = connect_to(socket_path, deadline, &fd);
        if (r < 0)
                return r;
        r = send_all(fd, request, strlen(request), deadline);
        if (r < 0 && r != -ECONNRESET)
                return r;
        /* even when the daemon closed early (busy), its reply may be waiting */
        int q = read_line(fd, deadline, &reply, &len);
        if (q < 0)
                return r < 0 ? r : q;
        r = ob_ctl_parse_reply(reply, len, &result, &code, &message);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;
        if (r == 0) {
                if (ret_result)
                        *ret_result = result;
                else
                        json_object_put(result);
                return 0;
        }
        if (ret_code)
                *ret_code = TAKE_PTR(code);
        if (ret_message)
                *ret_message = TAKE_PTR(message);
        return -EREMOTEIO;
}

/* The server refused the connection itself (before reading the request): safe to try again. */
static bool refused_busy(const char *code, const char *message)
{
        return code && message && strcmp(code, OB_CTL_E_BUSY) == 0 &&
               strncmp(message, OB_CONTROL_BUSY_MESSAGE, strlen(OB_CONTROL_BUSY_MESSAGE)) == 0;
}

int ob_control_call(const char *socket_path, const char *command, json_object *args, int timeout_ms,
                    json_object **ret_result, char **ret_code, char **ret_message)
{
        int64_t start = now_ms(), deadline = timeout_ms < 0 ? -1 : start + timeout_ms;
        int64_t delay = BUSY_DELAY_MIN_MS;
        unsigned seed = (unsigned)start ^ ((unsigned)getpid() << 16);
        _cleanup_free_ char *request = NULL;
        int r;

        if (!socket_path || !command)
                return -EINVAL;
        r = ob_ctl_format_request(command, args, &request);
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_free_ char *code = NULL, *message = NULL;
                int64_t wait;

                r = call_once(socket_path, request, deadline, ret_result, &code, &message);
                wait = delay + (int64_t)(rand_r(&seed) % (unsigned)(delay + 1));
                if (r != -EREMOTEIO || !refused_busy(code, message) ||
                    now_ms() + wait > start + BUSY_RETRY_MS ||
                    (deadline >= 0 && now_ms() + wait >= deadline)) {
                        if (r == -EREMOTEIO && ret_code)
                                *ret_code = TAKE_PTR(code);
                        if (r == -EREMOTEIO && ret_message)
                                *ret_message = TAKE_PTR(message);
                        return r;
                }
                (void)poll(NULL, 0, (int)wait);
                delay = OB_MIN(delay * 2, (int64_t)BUSY_DELAY_MAX_MS);
        }
}
