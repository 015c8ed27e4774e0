/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket's server side (docs/control.md): a Unix stream socket in the runtime
 * directory, served from the daemon's sd-event loop. One JSON request per line, one reply line
 * each, in order (lib/ctl-proto.h). Peers are identified by SO_PEERCRED and SO_PEERGROUPS at
 * connect time and authorized per command (ob_ctl_authorized()). Everything is non-blocking and
 * bounded: clients (16, of which 4 are kept for root and at most 4 go to one other uid:
 * agent/control-limits.h), line size (OB_CTL_MAX_LINE), output per client, idle time (5 s).
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "control-limits.h"
#include "ctl-proto.h"

#define OB_CONTROL_IDLE_TIMEOUT_DEFAULT (5 * UINT64_C(1000000)) /* usec */

typedef struct ObControlServer ObControlServer;

typedef struct ObControlPeer {
        uid_t uid;
        gid_t gid;
        pid_t pid;
} ObControlPeer;

/*
 * Called in the event-loop thread for an authorized, well-formed request; args is an object
 * (borrowed). Return 0 and set *ret_result (a new reference to an object; may stay NULL = {}),
 * or a negative errno and optionally fill code (an error code, see ob_ctl_code_valid(); left
 * empty: derived from the errno by ob_ctl_code_from_errno()) and message (left empty: strerror).
 * A handler must not block (start long work and return) and must not free the server.
 */
typedef int (*ObControlHandler)(const ObCtlCommand *cmd, json_object *args,
                                const ObControlPeer *peer, void *userdata, json_object **ret_result,
                                char *code, size_t code_size, char *message, size_t message_size);

/*
 * Bind socket_path (removing a stale socket file first; -EADDRINUSE if a live server answers
 * on it, -EEXIST if the path is something other than a socket, -ENAMETOOLONG), make it mode
 * 0660 and group agent_group (unless (gid_t)-1), listen and attach to e. The daemon's own
 * effective uid may use read commands. Errors are negative errnos; nothing is left behind.
 */
int ob_control_server_new(sd_event *e, const char *socket_path, gid_t agent_group,
                          ObControlHandler handler, void *userdata, ObControlServer **ret);

/* Limits, for tests and tuning: 0 keeps the current value. Applies to new connections. */
void ob_control_server_set_limits(ObControlServer *s, unsigned max_clients,
                                  uint64_t idle_timeout_usec);
/* The shares (agent/control-limits.h): connections kept for root (may be 0) and connections one
 * non-root uid may hold (0 keeps the current value). Applies to new connections. */
void ob_control_server_set_shares(ObControlServer *s, unsigned root_reserved, unsigned per_uid);

/* Close every connection, unlink the socket, free. Accepts NULL; returns NULL. */
ObControlServer *ob_control_server_free(ObControlServer *s);
