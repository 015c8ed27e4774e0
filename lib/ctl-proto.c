/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-proto.h"
#include "macro.h"

#define MAX_DEPTH     16 /* nesting of a request or reply; args are flat in practice */
#define MAX_NAME_ECHO 40 /* how much of an unknown name an error message repeats */

static const ObCtlCommand commands[] = {
        {"status", OB_CTL_READ, "Show the onboarding state, identity and certificate"},
        {"check", OB_CTL_READ,
         "Reserved: the daemon answers not-supported (agentctl check runs its checks itself)"},
        {"ping", OB_CTL_READ, "Check that the daemon answers"},
        {"rotate", OB_CTL_MUTATE, "Rotate the device key and certificate now"},
        {"retry", OB_CTL_MUTATE,
         "End the current wait (retry backoff, activation, TPM) and try now"},
        {"provision", OB_CTL_MUTATE, "Onboard with a temporary claim (fleet-trusted-user)"},
        {"reprovision", OB_CTL_MUTATE, "Forget the identity and onboard again"},
        {"decommission", OB_CTL_MUTATE, "Stop using the identity and wipe the credentials"},
        {"reload", OB_CTL_MUTATE, "Re-read the configuration"},
};

const ObCtlCommand *ob_ctl_commands(size_t *ret_n)
{
        if (ret_n)
                *ret_n = OB_ELEMENTSOF(commands);
        return commands;
}

const ObCtlCommand *ob_ctl_command_find(const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < OB_ELEMENTSOF(commands); i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

_printf_(3, 4) static void set_err(char *err, size_t errsize, const char *fmt, ...)
{
        va_list ap;
        if (!err || errsize == 0)
                return;
        va_start(ap, fmt);
        (void)vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
}

/* Length of the well-formed UTF-8 sequence at s (1-4), or 0 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static size_t utf8_seq_len(const uint8_t *s, size_t n)
{
        uint8_t c = s[0], lo = 0x80, hi = 0xBF;
        size_t len;

        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF)
                len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
                len = 3;
                if (c == 0xE0)
                        lo = 0xA0; /* overlong */
                else if (c == 0xED)
                        hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
                len = 4;
                if (c == 0xF0)
                        lo = 0x90; /* overlong */
                else if (c == 0xF4)
                        hi = 0x8F; /* above U+10FFFF */
        } else
                return 0;
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xBF)
                        return 0;
        return len;
}

static bool utf8_valid(const char *p, size_t n)
{
        const uint8_t *s = (const uint8_t *)p;
        for (size_t i = 0; i < n;) {
                size_t k = utf8_seq_len(s + i, n - i);
                if (k == 0)
                        return false;
                i += k;
        }
        return true;
}

/* A "\u0000" escape anywhere: json-c would cut keys at it and hand NULs to C-string users.
 * Backslashes occur only inside strings in JSON, so pairing them is enough. */
static bool has_nul_escape(const char *s, size_t n)
{
        for (size_t i = 0; i + 1 < n; i++) {
                if (s[i] != '\\')
                        continue;
                if (s[i + 1] == 'u' && i + 5 < n && memcmp(s + i + 2, "0000", 4) == 0)
                        return true;
                i++; /* skip the escaped character */
        }
        return false;
}

/* The checks every line passes, in both directions. len excludes the newline. */
static int check_text(const char *s, size_t len, char *err, size_t errsize)
{
        for (size_t i = 0; i < len; i++) {
                uint8_t c = (uint8_t)s[i];
                if (c >= 0x20 || c == '\t' || c == '\r')
                        continue;
                /* JSON allows none raw in strings; outside them only whitespace, and a newline
                 * would end the line */
                set_err(err, errsize, "%s at byte %zu",
                        c == 0      ? "embedded NUL byte"
                        : c == '\n' ? "newline"
                                    : "control character",
                        i);
                return -EBADMSG;
        }
        if (!utf8_valid(s, len)) {
                set_err(err, errsize, "not valid UTF-8");
                return -EBADMSG;
        }
        if (has_nul_escape(s, len)) {
                set_err(err, errsize, "embedded NUL character (\\u0000)");
                return -EBADMSG;
        }
        return 0;
}

/* Decode one line into a JSON object (never anything else). */
static int decode(const char *line, size_t len, json_object **ret, char *err, size_t errsize)
{
        json_object *o;
        json_tokener *tok;
        size_t end;
        int r;

        if (len > OB_CTL_MAX_LINE) {
                set_err(err, errsize, "line longer than %d bytes", OB_CTL_MAX_LINE);
                return -EMSGSIZE;
        }
        if (!line && len > 0)
                return -EINVAL;
        if (len > 0 && line[len - 1] == '\n')
                len--;
        else if (len == OB_CTL_MAX_LINE) {
                /* with its newline it would be one byte over */
                set_err(err, errsize, "line longer than %d bytes", OB_CTL_MAX_LINE);
                return -EMSGSIZE;
        }
        if (len == 0) {
                set_err(err, errsize, "empty line");
                return -EBADMSG;
        }
        r = check_text(line, len, err, errsize);
        if (r < 0)
                return r;

        tok = json_tokener_new_ex(MAX_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, line, (int)len);
        end = json_tokener_get_parse_end(tok);
        if (!o && json_tokener_get_error(tok) == json_tokener_continue) {
                /* a bare number or literal ends only at a delimiter: give it one */
                o = json_tokener_parse_ex(tok, " ", 1);
                end = len;
        }
        r = json_tokener_get_error(tok) == json_tokener_success ? 0 : -EBADMSG;
        if (r < 0)
                set_err(err, errsize, "not JSON: %s",
                        json_tokener_get_error(tok) == json_tokener_continue
                                ? "incomplete"
                                : json_tokener_error_desc(json_tokener_get_error(tok)));
        json_tokener_free(tok);
        if (r < 0 || !o) {
                json_object_put(o);
                if (r == 0) /* JSON null */
                        set_err(err, errsize, "not a JSON object");
                return -EBADMSG;
        }
        for (; end < len; end++)
                if (!strchr(" \t\r", line[end])) {
                        json_object_put(o);
                        set_err(err, errsize, "trailing data after the JSON object");
                        return -EBADMSG;
                }
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                set_err(err, errsize, "not a JSON object");
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

/* A peer-chosen name, made safe to repeat in a message: printable ASCII, bounded. */
static const char *echo_name(const char *s, char *buf, size_t size)
{
        size_t i = 0;
        for (; s[i] && i + 4 < size && i < MAX_NAME_ECHO; i++)
                if (s[i] >= 0x20 && s[i] < 0x7f)
                        buf[i] = s[i];
                else
                        buf[i] = '?';
        if (s[i])
                buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
        buf[i] = '\0';
        return buf;
}

int ob_ctl_parse_request_ex(const char *line, size_t len, const ObCtlCommand **ret_cmd,
                            json_object **ret_args, const char **ret_code, char *err,
                            size_t errsize)
{
        const char *code = OB_CTL_E_BAD_REQUEST;
        const ObCtlCommand *cmd;
        json_object *o = NULL, *v, *args = NULL;
        char echo[MAX_NAME_ECHO + 4];
        int r;

        r = decode(line, len, &o, err, errsize);
        if (r < 0) {
                if (r == -EMSGSIZE)
                        code = OB_CTL_E_TOO_LARGE;
                goto fail;
        }
        r = -EPROTO;
        json_object_object_foreach(o, key, val)
        {
                (void)val;
                if (strcmp(key, "command") != 0 && strcmp(key, "args") != 0) {
                        set_err(err, errsize, "unknown key \"%s\"",
                                echo_name(key, echo, sizeof(echo)));
                        goto fail;
                }
        }
        if (!json_object_object_get_ex(o, "command", &v)) {
                set_err(err, errsize, "command: missing");
                goto fail;
        }
        if (!json_object_is_type(v, json_type_string)) {
                set_err(err, errsize, "command: not a string");
                goto fail;
        }
        cmd = ob_ctl_command_find(json_object_get_string(v));
        if (!cmd) {
                code = OB_CTL_E_UNKNOWN_COMMAND;
                set_err(err, errsize, "command: unknown command \"%s\"",
                        echo_name(json_object_get_string(v), echo, sizeof(echo)));
                goto fail;
        }
        if (json_object_object_get_ex(o, "args", &v)) {
                if (!json_object_is_type(v, json_type_object)) {
                        set_err(err, errsize, "args: not an object");
                        goto fail;
                }
                args = json_object_get(v);
        } else if (!(args = json_object_new_object())) {
                r = -ENOMEM;
                code = OB_CTL_E_INTERNAL;
                goto fail;
        }
        json_object_put(o);
        if (ret_cmd)
                *ret_cmd = cmd;
        if (ret_args)
                *ret_args = args;
        else
                json_object_put(args);
        return 0;
fail:
        json_object_put(o);
        if (ret_code)
                *ret_code = code;
        return r;
}

int ob_ctl_parse_request(const char *line, size_t len, const ObCtlCommand **ret_cmd,
                         json_object **ret_args, char *err, size_t errsize)
{
        return ob_ctl_parse_request_ex(line, len, ret_cmd, ret_args, NULL, err, errsize);
}

/* Serialize o as one line with its newline; consumes the reference. */
static int encode(json_object *o, char **ret_line)
{
        const char *s;
        char *line;
        size_t n;
        int r;

        if (!o)
                return -ENOMEM;
        s = json_object_to_json_string_ext(o,
                                           JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s) {
                json_object_put(o);
                return -ENOMEM;
        }
        n = strlen(s);
        if (n + 1 > OB_CTL_MAX_LINE) {
                json_object_put(o);
                return -EMSGSIZE;
        }
        /* what we send must pass the peer's parser */
        r = check_text(s, n, NULL, 0);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        line = malloc(n + 2);
        if (line) {
                memcpy(line, s, n);
                line[n] = '\n';
                line[n + 1] = '\0';
        }
        json_object_put(o);
        if (!line)
                return -ENOMEM;
        *ret_line = line;
        return 0;
}

/* Add value to o under key, consuming value. */
static int add(json_object *o, const char *key, json_object *value)
{
        if (!value || json_object_object_add(o, key, value) < 0) {
                json_object_put(value);
                return -ENOMEM;
        }
        return 0;
}

int ob_ctl_format_request(const char *command, json_object *args, char **ret_line)
{
        json_object *o;

        if (!command || !*command || !ret_line)
                return -EINVAL;
        if (args && !json_object_is_type(args, json_type_object))
                return -EINVAL;
        o = json_object_new_object();
        if (!o || add(o, "command", json_object_new_string(command)) < 0 ||
            (args && add(o, "args", json_object_get(args)) < 0)) {
                json_object_put(o);
                return -ENOMEM;
        }
        return encode(o, ret_line);
}

int ob_ctl_format_reply_ok(json_object *result, char **ret_line)
{
        json_object *o;

        if (!ret_line || (result && !json_object_is_type(result, json_type_object)))
                return -EINVAL;
        o = json_object_new_object();
        if (!o || add(o, "ok", json_object_new_boolean(1)) < 0 ||
            add(o, "result", result ? json_object_get(result) : json_object_new_object()) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        return encode(o, ret_line);
}

bool ob_ctl_code_valid(const char *code)
{
        size_t n = code ? strlen(code) : 0;
        if (n < 1 || n > OB_CTL_MAX_CODE)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((code[i] >= 'a' && code[i] <= 'z') || (code[i] >= '0' && code[i] <= '9') ||
                      code[i] == '-'))
                        return false;
        return true;
}

/* message as valid UTF-8 of at most OB_CTL_MAX_MESSAGE bytes: invalid bytes become '?', and a
 * cut never splits a character. */
static void clean_message(const char *message, char *buf)
{
        const uint8_t *s = (const uint8_t *)message;
        size_t n = strlen(message), o = 0;

        for (size_t i = 0; i < n;) {
                size_t k = utf8_seq_len(s + i, n - i);
                if (o + OB_MAX(k, (size_t)1) > OB_CTL_MAX_MESSAGE)
                        break;
                if (k == 0) {
                        buf[o++] = '?';
                        i++;
                } else {
                        memcpy(buf + o, s + i, k);
                        o += k;
                        i += k;
                }
        }
        buf[o] = '\0';
}

int ob_ctl_format_reply_error(const char *code, const char *message, char **ret_line)
{
        char buf[OB_CTL_MAX_MESSAGE + 1];
        json_object *o, *e;

        if (!ret_line || !ob_ctl_code_valid(code))
                return -EINVAL;
        clean_message(message ? message : "", buf);
        o = json_object_new_object();
        e = json_object_new_object();
        if (!o || !e || add(e, "code", json_object_new_string(code)) < 0 ||
            add(e, "message", json_object_new_string(buf)) < 0) {
                json_object_put(e);
                json_object_put(o);
                return -ENOMEM;
        }
        if (add(o, "ok", json_object_new_boolean(0)) < 0 || add(o, "error", e) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        return encode(o, ret_line);
}

/* Only the keys in allowed (NULL-terminated) may appear in o. */
static bool only_keys(json_object *o, const char *const *allowed)
{
        json_object_object_foreach(o, key, val)
        {
                bool found = false;
                (void)val;
                for (size_t i = 0; allowed[i] && !found; i++)
                        found = strcmp(key, allowed[i]) == 0;
                if (!found)
                        return false;
        }
        return true;
}

int ob_ctl_parse_reply(const char *line, size_t len, json_object **ret_result, char **ret_code,
                       char **ret_message)
{
        static const char *const top_keys[] = {"ok", "result", "error", NULL};
        static const char *const error_keys[] = {"code", "message", NULL};
        json_object *o = NULL, *ok, *result, *error, *code, *message;
        char *c = NULL, *m = NULL;
        bool has_result, has_error;
        int r;

        r = decode(line, len, &o, NULL, 0);
        if (r < 0)
                return r;
        r = -EPROTO;
        if (!only_keys(o, top_keys) || !json_object_object_get_ex(o, "ok", &ok) ||
            !json_object_is_type(ok, json_type_boolean))
                goto out;
        has_result = json_object_object_get_ex(o, "result", &result);
        has_error = json_object_object_get_ex(o, "error", &error);
        if (json_object_get_boolean(ok)) {
                if (has_error || !has_result || !json_object_is_type(result, json_type_object))
                        goto out;
                if (ret_result)
                        *ret_result = json_object_get(result);
                r = 0;
                goto out;
        }
        if (has_result || !has_error || !json_object_is_type(error, json_type_object) ||
            !only_keys(error, error_keys) || !json_object_object_get_ex(error, "code", &code) ||
            !json_object_is_type(code, json_type_string) ||
            !ob_ctl_code_valid(json_object_get_string(code)) ||
            !json_object_object_get_ex(error, "message", &message) ||
            !json_object_is_type(message, json_type_string) ||
            (size_t)json_object_get_string_len(message) > OB_CTL_MAX_MESSAGE)
                goto out;
        c = strdup(json_object_get_string(code));
        m = strdup(json_object_get_string(message));
        if (!c || !m) {
                free(c);
                free(m);
                r = -ENOMEM;
                goto out;
        }
        if (ret_code)
                *ret_code = c;
        else
                free(c);
        if (ret_message)
                *ret_message = m;
        else
                free(m);
        r = 1;
out:
        json_object_put(o);
        return r;
}

const char *ob_ctl_code_from_errno(int error)
{
        switch (error < 0 ? -error : error) {
        case EOPNOTSUPP:
        case ENOSYS:
                return OB_CTL_E_NOT_SUPPORTED;
        case EBUSY:
        case EAGAIN:
                return OB_CTL_E_BUSY;
        case EPERM:
        case EACCES:
                return OB_CTL_E_PERMISSION_DENIED;
        case EINVAL:
                return OB_CTL_E_BAD_REQUEST;
        default:
                return OB_CTL_E_INTERNAL;
        }
}

bool ob_ctl_authorized(ObCtlAccess access, uid_t uid, gid_t gid, const gid_t *groups,
                       size_t n_groups, uid_t daemon_uid, gid_t agent_group)
{
        if (uid == 0)
                return true;
        switch (access) {
        case OB_CTL_MUTATE:
                return false;
        case OB_CTL_READ:
                break;
        }
        if (daemon_uid != (uid_t)-1 && uid == daemon_uid)
                return true;
        if (agent_group == (gid_t)-1)
                return false;
        if (gid == agent_group)
                return true;
        for (size_t i = 0; groups && i < n_groups; i++)
                if (groups[i] == agent_group)
                        return true;
        return false;
}
