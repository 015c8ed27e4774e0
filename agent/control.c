/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control-socket server. Each connection has a bounded input buffer (one line), a bounded
 * output buffer and a timer. A client is dropped when it is idle too long: no complete request
 * and no reply fully delivered for the idle timeout. A client that does not read its replies
 * stops being read from (back-pressure) and is dropped by the same timer, so a slow peer never
 * blocks the loop or grows memory. Who gets a connection at all is decided by its peer's uid
 * (agent/control-limits.c): a group member can hold a few, never root's.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "macro.h"

#define LISTEN_BACKLOG    32
#define ACCEPT_BURST      16 /* connections accepted per wake-up */
#define IN_INITIAL        4096
#define OUT_PENDING_MAX   OB_CTL_MAX_LINE        /* stop handling requests above this much unsent */
#define PEER_GROUPS_MAX   65536                  /* NGROUPS_MAX on Linux */
#define ACCEPT_RETRY_USEC (100 * UINT64_C(1000)) /* after EMFILE and friends */

typedef struct Client Client;

struct ObControlServer {
        sd_event *event;
        int fd;
        sd_event_source *listen_source, *retry_source;
        char *path;
        gid_t agent_group;
        uid_t daemon_uid;
        ObControlHandler handler;
        void *userdata;
        Client *clients;
        unsigned n_clients;
        ObControlLimits limits;
        uint64_t idle_usec;
};

struct Client {
        ObControlServer *server;
        Client *prev, *next;
        int fd;
        sd_event_source *io, *timer;
        ObControlPeer peer;
        gid_t *groups;
        size_t n_groups;
        char *in; /* received, not yet handled; at most OB_CTL_MAX_LINE */
        size_t in_len, in_size;
        char *out; /* replies not yet sent: out[out_off..out_len) */
        size_t out_len, out_off;
        bool eof;     /* the peer shut down its sending side */
        bool closing; /* no more requests: close once the output is flushed */
};

/* Disable and release (source_free() needs libsystemd 243). */
static sd_event_source *source_free(sd_event_source *src)
{
        if (src)
                (void)sd_event_source_set_enabled(src, SD_EVENT_OFF);
        return sd_event_source_unref(src);
}

static Client *client_free(Client *c)
{
        ObControlServer *s;

        if (!c)
                return NULL;
        s = c->server;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_clients--;
        source_free(c->io);
        source_free(c->timer);
        if (c->fd >= 0)
                close(c->fd);
        free(c->groups);
        free(c->in);
        free(c->out);
        free(c);
        return NULL;
}

static size_t out_pending(const Client *c)
{
        return c->out_len - c->out_off;
}

/* Push out what the socket takes now. Negative errno when the peer is gone. */
static int flush_out(Client *c)
{
        while (out_pending(c) > 0) {
                ssize_t n = send(c->fd, c->out + c->out_off, out_pending(c),
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return ob_negative_errno();
                }
                c->out_off += (size_t)n;
        }
        c->out_len = c->out_off = 0;
        return 0;
}

static void touch(Client *c)
{
        uint64_t now;
        if (sd_event_now(c->server->event, CLOCK_MONOTONIC, &now) >= 0)
                (void)sd_event_source_set_time(c->timer, now + c->server->idle_usec);
}

/* Queue one reply line (takes ownership). */
static int queue_line(Client *c, char *line)
{
        size_t n = strlen(line);
        char *p;

        if (c->out_off > 0 && c->out_off == c->out_len)
                c->out_len = c->out_off = 0;
        p = realloc(c->out, c->out_len + n);
        if (!p) {
                free(line);
                return -ENOMEM;
        }
        memcpy(p + c->out_len, line, n); /* NOLINT(bugprone-not-null-terminated-result): bytes */
        c->out = p;
        c->out_len += n;
        free(line);
        return 0;
}

static int queue_error(Client *c, const char *code, const char *message)
{
        char *line = NULL;
        int r = ob_ctl_format_reply_error(code, message, &line);
        if (r < 0)
                return r;
        return queue_line(c, line);
}

/* Handle one complete request line; queue its reply. Negative errno only for out-of-memory. */
static int handle_line(Client *c, const char *line, size_t len)
{
        ObControlServer *s = c->server;
        const ObCtlCommand *cmd = NULL;
        json_object *args = NULL, *result = NULL;
        const char *code = NULL;
        char err[256] = "", hcode[OB_CTL_MAX_CODE + 1] = "", hmsg[OB_CTL_MAX_MESSAGE + 1] = "";
        char *reply = NULL;
        int r;

        r = ob_ctl_parse_request_ex(line, len, &cmd, &args, &code, err, sizeof(err));
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                ob_log_debug("control: pid %d uid %u: %s: %s", (int)c->peer.pid,
                             (unsigned)c->peer.uid, code, err);
                return queue_error(c, code, err);
        }
        if (!ob_ctl_authorized(cmd->access, c->peer.uid, c->peer.gid, c->groups, c->n_groups,
                               s->daemon_uid, s->agent_group)) {
                json_object_put(args);
                ob_log_info("control: refused %s to pid %d uid %u: %s", cmd->name, (int)c->peer.pid,
                            (unsigned)c->peer.uid,
                            cmd->access == OB_CTL_MUTATE ? "needs root" : "not in the group");
                snprintf(err, sizeof(err), "%s needs %s", cmd->name,
                         cmd->access == OB_CTL_MUTATE ? "root" : "root or the agent's group");
                return queue_error(c, OB_CTL_E_PERMISSION_DENIED, err);
        }

        ob_log_debug("control: %s from pid %d uid %u", cmd->name, (int)c->peer.pid,
                     (unsigned)c->peer.uid);
        r = s->handler(cmd, args, &c->peer, s->userdata, &result, hcode, sizeof(hcode), hmsg,
                       sizeof(hmsg));
        json_object_put(args);
        if (r < 0) {
                json_object_put(result);
                hcode[sizeof(hcode) - 1] = hmsg[sizeof(hmsg) - 1] = '\0';
                return queue_error(c, ob_ctl_code_valid(hcode) ? hcode : ob_ctl_code_from_errno(r),
                                   hmsg[0] ? hmsg : strerror(-r));
        }
        r = ob_ctl_format_reply_ok(result, &reply);
        json_object_put(result);
        if (r == -EMSGSIZE)
                return queue_error(c, OB_CTL_E_TOO_LARGE, "reply too large");
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                ob_log_warning_errno(r, "control: %s: handler result not sendable", cmd->name);
                return queue_error(c, OB_CTL_E_INTERNAL, "result not sendable");
        }
        return queue_line(c, reply);
}

/* Handle the complete lines in the input buffer while the output has room. */
static int process_input(Client *c)
{
        int r;

        while (!c->closing && out_pending(c) < OUT_PENDING_MAX) {
                char *nl = c->in_len > 0 ? memchr(c->in, '\n', c->in_len) : NULL;
                if (nl) {
                        size_t n = (size_t)(nl - c->in) + 1;
                        r = handle_line(c, c->in, n);
                        if (r < 0)
                                return r;
                        memmove(c->in, c->in + n, c->in_len - n);
                        c->in_len -= n;
                        touch(c);
                } else if (c->in_len >= OB_CTL_MAX_LINE) {
                        /* no newline in a full buffer: the line is at least one byte over */
                        c->closing = true;
                        c->in_len = 0;
                        return queue_error(c, OB_CTL_E_TOO_LARGE, "request line too long");
                } else if (c->eof) {
                        /* the last request may lack its newline */
                        c->closing = true;
                        if (c->in_len > 0) {
                                r = handle_line(c, c->in, c->in_len);
                                c->in_len = 0;
                                return r;
                        }
                } else
                        break;
        }
        return 0;
}

static int read_input(Client *c)
{
        ssize_t n;

        if (c->in_len >= OB_CTL_MAX_LINE)
                return 0; /* process_input() decides */
        if (c->in_len == c->in_size) {
                size_t size =
                        OB_MIN(OB_MAX(c->in_size * 2, (size_t)IN_INITIAL), (size_t)OB_CTL_MAX_LINE);
                char *p = realloc(c->in, size);
                if (!p)
                        return -ENOMEM;
                c->in = p;
                c->in_size = size;
        }
        n = recv(c->fd, c->in + c->in_len, c->in_size - c->in_len, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : ob_negative_errno();
        if (n == 0)
                c->eof = true;
        c->in_len += (size_t)n;
        return 0;
}

/* After any event: drop the client or set the events it waits for. */
static void client_update(Client *c)
{
        uint32_t events = 0;

        if (c->closing && out_pending(c) == 0) {
                client_free(c);
                return;
        }
        if (out_pending(c) > 0)
                events |= EPOLLOUT;
        if (!c->closing && !c->eof && c->in_len < OB_CTL_MAX_LINE &&
            out_pending(c) < OUT_PENDING_MAX)
                events |= EPOLLIN;
        if (sd_event_source_set_io_events(c->io, events) < 0)
                client_free(c);
}

static int on_client_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
        Client *c = userdata;
        int r = 0;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR) && !c->eof && !c->closing)
                r = read_input(c);
        /* handle lines while the output drains; lines wait when it does not */
        while (r >= 0) {
                bool had_output;

                r = process_input(c);
                if (r < 0)
                        break;
                had_output = out_pending(c) > 0;
                r = flush_out(c);
                if (r < 0 || out_pending(c) > 0)
                        break;
                if (had_output)
                        touch(c); /* a reply fully delivered */
                if (c->closing || c->in_len == 0 || !memchr(c->in, '\n', c->in_len))
                        break;
        }
        if (r < 0) {
                ob_log_debug_errno(r, "control: dropping pid %d", (int)c->peer.pid);
                client_free(c);
                return 0;
        }
        client_update(c);
        return 0;
}

static int on_client_timeout(sd_event_source *src, uint64_t usec, void *userdata)
{
        Client *c = userdata;
        ob_log_debug("control: pid %d idle for too long, closing", (int)c->peer.pid);
        client_free(c);
        return 0;
}

/* Credentials at connect time: uid, gid, pid and the supplementary groups. */
static int peer_credentials(Client *c)
{
        struct ucred uc;
        socklen_t len = sizeof(uc);
        gid_t *g;

        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
                return ob_negative_errno();
        if (len != sizeof(uc))
                return -EIO;
        c->peer.uid = uc.uid;
        c->peer.gid = uc.gid;
        c->peer.pid = uc.pid;

        len = 64 * sizeof(gid_t);
        for (;;) {
                g = malloc(len);
                if (!g)
                        return -ENOMEM;
                if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) >= 0)
                        break;
                free(g);
                if (errno == ENOPROTOOPT) { /* kernel < 4.13: primary group only */
                        len = 0;
                        g = NULL;
                        break;
                }
                if (errno != ERANGE || len == 0 || len > PEER_GROUPS_MAX * sizeof(gid_t))
                        return ob_negative_errno();
                /* len now holds the size needed */
        }
        c->groups = g;
        c->n_groups = len / sizeof(gid_t);
        return 0;
}

static void refuse_busy(int fd, const char *reason)
{
        char *line = NULL, msg[160];

        snprintf(msg, sizeof(msg), OB_CONTROL_BUSY_MESSAGE ": %s", reason);
        if (ob_ctl_format_reply_error(OB_CTL_E_BUSY, msg, &line) >= 0)
                (void)send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
        free(line);
        close(fd);
}

/* Admit a connection by its peer's uid (agent/control-limits.h): 0, or -EBUSY and closed with
 * a busy reply. Connections are few (at most max_clients), so counting is a walk. */
static int admit(ObControlServer *s, int fd)
{
        struct ucred uc;
        socklen_t len = sizeof(uc);
        const char *reason = NULL;
        unsigned n_uid = 0;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 || len != sizeof(uc))
                uc.uid = (uid_t)-1; /* unknown: a non-root share (client_new() will fail) */
        for (Client *c = s->clients; c; c = c->next)
                n_uid += c->peer.uid == uc.uid;
        if (ob_control_limits_admit(&s->limits, uc.uid, s->n_clients, n_uid, &reason) >= 0)
                return 0;
        ob_log_debug("control: refusing pid %d uid %u (%u connections, %u of them its uid's): %s",
                     (int)uc.pid, (unsigned)uc.uid, s->n_clients, n_uid, reason);
        refuse_busy(fd, reason);
        return -EBUSY;
}

static int client_new(ObControlServer *s, int fd)
{
        uint64_t now;
        Client *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        c->server = s;
        c->fd = fd;
        c->next = s->clients;
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        s->n_clients++;

        r = peer_credentials(c);
        if (r < 0)
                goto fail;
        r = sd_event_add_io(s->event, &c->io, fd, EPOLLIN, on_client_io, c);
        if (r < 0)
                goto fail;
        r = sd_event_now(s->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                goto fail;
        r = sd_event_add_time(s->event, &c->timer, CLOCK_MONOTONIC, now + s->idle_usec, 0,
                              on_client_timeout, c);
        if (r < 0)
                goto fail;
        ob_log_debug("control: connection from pid %d uid %u gid %u (%zu groups)", (int)c->peer.pid,
                     (unsigned)c->peer.uid, (unsigned)c->peer.gid, c->n_groups);
        return 0;
fail:
        client_free(c);
        return r;
}

static int on_listen(sd_event_source *src, int fd, uint32_t revents, void *userdata);

static int on_accept_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
        ObControlServer *s = userdata;
        s->retry_source = source_free(s->retry_source);
        (void)sd_event_source_set_enabled(s->listen_source, SD_EVENT_ON);
        return 0;
}

static int on_listen(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
        ObControlServer *s = userdata;

        for (int i = 0; i < ACCEPT_BURST; i++) {
                int cfd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN)
                                break;
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        /* EMFILE, ENFILE, ENOBUFS, ENOMEM: the socket stays readable, so pause
                         * instead of spinning */
                        ob_log_warning_errno(-errno, "control: accept failed, pausing");
                        uint64_t now;
                        if (!s->retry_source &&
                            sd_event_now(s->event, CLOCK_MONOTONIC, &now) >= 0 &&
                            sd_event_add_time(s->event, &s->retry_source, CLOCK_MONOTONIC,
                                              now + ACCEPT_RETRY_USEC, 0, on_accept_retry, s) >= 0)
                                (void)sd_event_source_set_enabled(s->listen_source, SD_EVENT_OFF);
                        break;
                }
                if (admit(s, cfd) < 0)
                        continue;
                int r = client_new(s, cfd);
                if (r < 0)
                        ob_log_warning_errno(r, "control: cannot set up a connection");
        }
        return 0;
}

/* Is something listening on path? 1 yes, 0 a stale socket, negative errno. */
static int probe_live(const struct sockaddr_un *sa, socklen_t salen)
{
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return ob_negative_errno();
        if (connect(fd, (const struct sockaddr *)sa, salen) >= 0)
                return 1;
        if (errno == EAGAIN || errno == EINPROGRESS) /* a full backlog is a live server */
                return 1;
        if (errno == ECONNREFUSED)
                return 0;
        return ob_negative_errno();
}

int ob_control_server_new(sd_event *e, const char *socket_path, gid_t agent_group,
                          ObControlHandler handler, void *userdata, ObControlServer **ret)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        ObControlServer *s = NULL;
        struct stat st;
        socklen_t salen;
        bool bound = false;
        int r;

        if (!e || !socket_path || !*socket_path || !handler || !ret)
                return -EINVAL;
        if (strlen(socket_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, strlen(socket_path));
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(socket_path) + 1);

        if (lstat(socket_path, &st) >= 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                r = probe_live(&sa, salen);
                if (r < 0)
                        return r;
                if (r > 0)
                        return -EADDRINUSE;
                if (unlink(socket_path) < 0 && errno != ENOENT)
                        return ob_negative_errno();
                ob_log_debug("control: removed stale socket %s", socket_path);
        } else if (errno != ENOENT)
                return ob_negative_errno();

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = -1;
        s->agent_group = agent_group;
        s->daemon_uid = geteuid();
        s->handler = handler;
        s->userdata = userdata;
        s->limits = ob_control_limits_default();
        s->idle_usec = OB_CONTROL_IDLE_TIMEOUT_DEFAULT;
        s->event = sd_event_ref(e);
        s->path = strdup(socket_path);
        if (!s->path) {
                r = -ENOMEM;
                goto fail;
        }
        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0) {
                r = ob_negative_errno();
                goto fail;
        }
        if (bind(s->fd, (struct sockaddr *)&sa, salen) < 0) {
                r = ob_negative_errno(); /* EADDRINUSE: lost a race with another server */
                goto fail;
        }
        bound = true;
        /* nobody can connect before listen(), so the mode is right before the first peer */
        if (agent_group != (gid_t)-1 && lchown(socket_path, (uid_t)-1, agent_group) < 0) {
                r = ob_negative_errno();
                goto fail;
        }
        if (chmod(socket_path, 0660) < 0 || listen(s->fd, LISTEN_BACKLOG) < 0) {
                r = ob_negative_errno();
                goto fail;
        }
        r = sd_event_add_io(e, &s->listen_source, s->fd, EPOLLIN, on_listen, s);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        if (!bound) {
                free(s->path);
                s->path = NULL; /* not ours to unlink */
        }
        ob_control_server_free(s);
        return r;
}

void ob_control_server_set_limits(ObControlServer *s, unsigned max_clients,
                                  uint64_t idle_timeout_usec)
{
        if (max_clients > 0)
                s->limits.max_clients = max_clients;
        if (idle_timeout_usec > 0)
                s->idle_usec = idle_timeout_usec;
}

void ob_control_server_set_shares(ObControlServer *s, unsigned root_reserved, unsigned per_uid)
{
        s->limits.root_reserved = root_reserved;
        if (per_uid > 0)
                s->limits.per_uid = per_uid;
}

ObControlServer *ob_control_server_free(ObControlServer *s)
{
        if (!s)
                return NULL;
        while (s->clients)
                client_free(s->clients);
        source_free(s->listen_source);
        source_free(s->retry_source);
        if (s->fd >= 0)
                close(s->fd);
        if (s->path) {
                (void)unlink(s->path);
                free(s->path);
        }
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
