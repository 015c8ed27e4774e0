/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket's client side (agentctl): one request, one reply, over a plain Unix
 * socket with poll(2) and a deadline. No sd-event, no state.
 */
#pragma once

#include <json-c/json.h>

/*
 * Send command (with args: NULL or an object, borrowed) to the daemon at socket_path and wait
 * at most timeout_ms (negative: no limit) for the reply. Returns:
 *   0            ok; *ret_result a new reference to the result object
 *   -EREMOTEIO   the daemon answered with an error; *ret_code and *ret_message malloc'ed
 *   -ENOENT, -ECONNREFUSED   no daemon listens; -EACCES the socket's mode refuses us
 *   -ETIMEDOUT   no complete reply in time
 *   -ECONNRESET  the daemon closed the connection without a reply
 *   -EBADMSG     a malformed reply
 *   -EINVAL, -EMSGSIZE       the request cannot be formatted (ob_ctl_format_request())
 * Any ret_ pointer may be NULL. Nothing is returned on error.
 */
int ob_control_call(const char *socket_path, const char *command, json_object *args, int timeout_ms,
                    json_object **ret_result, char **ret_code, char **ret_message);
