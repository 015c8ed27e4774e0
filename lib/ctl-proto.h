/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control-socket protocol between onboard-agent and agentctl (docs/control.md): one JSON
 * object per line each way, the command table with the access each command needs, and the
 * authorization rule. Pure: no I/O, no sockets; the server and client live in agent/.
 *
 * Request:  {"command":"status","args":{...}}          ("args" optional; no other keys)
 * Replies:  {"ok":true,"result":{...}}
 *           {"ok":false,"error":{"code":"permission-denied","message":"..."}}
 *
 * Requests reach the daemon from local, possibly unprivileged, peers: they are untrusted input,
 * parsed strictly (bounded, UTF-8, no NUL, known keys and types only).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

#define OB_CTL_MAX_LINE    (64 * 1024) /* a request or reply line, newline included */
#define OB_CTL_MAX_CODE    32          /* an error code: 1-32 of [a-z0-9-] */
#define OB_CTL_MAX_MESSAGE 1024        /* an error message (longer ones are cut) */

/* Stable error codes (docs/control.md). Handlers may add their own of the same syntax. */
#define OB_CTL_E_BAD_REQUEST       "bad-request"
#define OB_CTL_E_UNKNOWN_COMMAND   "unknown-command"
#define OB_CTL_E_PERMISSION_DENIED "permission-denied"
#define OB_CTL_E_TOO_LARGE         "too-large"
#define OB_CTL_E_BUSY              "busy"
#define OB_CTL_E_INTERNAL          "internal"
#define OB_CTL_E_NOT_SUPPORTED     "not-supported"

typedef enum ObCtlAccess {
        OB_CTL_READ,   /* root, the daemon's user, members of the agent group */
        OB_CTL_MUTATE, /* root only */
} ObCtlAccess;

typedef struct ObCtlCommand {
        const char *name;
        ObCtlAccess access;
        const char *help;
} ObCtlCommand;

/* The command table (static storage): status, check, ping (READ); rotate, provision,
 * reprovision, decommission, reload (MUTATE). */
const ObCtlCommand *ob_ctl_commands(size_t *ret_n);
/* The table entry for name, or NULL. */
const ObCtlCommand *ob_ctl_command_find(const char *name);

/*
 * Parse one request line (len bytes, the trailing "\n" optional; line need not be
 * NUL-terminated). On success *ret_cmd points into the table and *ret_args is a new reference
 * to an object (an empty one when the request has no "args"); strings in args contain no NUL.
 * Errors, with a human reason naming the field in err (may be NULL):
 *   -EMSGSIZE  longer than OB_CTL_MAX_LINE (newline included)
 *   -EBADMSG   not a JSON object, not UTF-8, embedded NUL, trailing data
 *   -EPROTO    missing or unknown command, wrong types, unknown keys
 * Nothing is returned on error.
 */
int ob_ctl_parse_request(const char *line, size_t len, const ObCtlCommand **ret_cmd,
                         json_object **ret_args, char *err, size_t errsize);
/* The same, and on failure *ret_code (if not NULL) is the reply's error code: too-large,
 * unknown-command or bad-request (static strings). */
int ob_ctl_parse_request_ex(const char *line, size_t len, const ObCtlCommand **ret_cmd,
                            json_object **ret_args, const char **ret_code, char *err,
                            size_t errsize);

/* Format a request line ending in "\n" (malloc'ed). args: NULL or an object, borrowed.
 * -EINVAL empty command or args not an object, -EMSGSIZE longer than OB_CTL_MAX_LINE,
 * -EBADMSG a string that is not UTF-8 or contains NUL. */
int ob_ctl_format_request(const char *command, json_object *args, char **ret_line);

/* Format reply lines ending in "\n" (malloc'ed). result: NULL (= {}) or an object, borrowed.
 * code: 1-32 of [a-z0-9-] (else -EINVAL); message: NULL or any text, cut to
 * OB_CTL_MAX_MESSAGE bytes with invalid UTF-8 replaced by '?'. -EMSGSIZE result too large,
 * -EBADMSG a result string that is not UTF-8 or contains NUL. */
int ob_ctl_format_reply_ok(json_object *result, char **ret_line);
int ob_ctl_format_reply_error(const char *code, const char *message, char **ret_line);

/*
 * Parse one reply line. 0 for an ok reply (*ret_result a new reference to an object), 1 for an
 * error reply (*ret_code and *ret_message malloc'ed), or -EMSGSIZE / -EBADMSG / -EPROTO as for
 * requests for a malformed reply. Any ret_ pointer may be NULL. Nothing is returned on error.
 */
int ob_ctl_parse_reply(const char *line, size_t len, json_object **ret_result, char **ret_code,
                       char **ret_message);

/* An error code's syntax: 1-OB_CTL_MAX_CODE characters of [a-z0-9-]. */
bool ob_ctl_code_valid(const char *code);

/* The stable code for a handler's negative errno when it named none: -EOPNOTSUPP/-ENOSYS
 * not-supported, -EBUSY/-EAGAIN busy, -EPERM/-EACCES permission-denied, -EINVAL bad-request,
 * anything else internal. */
const char *ob_ctl_code_from_errno(int error);

/*
 * Pure authorization: uid 0 may do everything; READ also for daemon_uid and for any peer whose
 * primary group (gid) or supplementary groups contain agent_group (agent_group == (gid_t)-1:
 * nobody else). (uid_t)-1 as daemon_uid matches nobody.
 */
bool ob_ctl_authorized(ObCtlAccess access, uid_t uid, gid_t gid, const gid_t *groups,
                       size_t n_groups, uid_t daemon_uid, gid_t agent_group);
