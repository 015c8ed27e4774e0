/* SPDX-License-Identifier: Apache-2.0 */
/* The control-socket codec (lib/ctl-proto.c): every parse error path, round trips, the line
 * bound at exactly the maximum and one byte over, and the authorization matrix. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "ctl-proto.h"

#define SENTINEL ((void *)0x1)

/* Parse s (as a C string) and expect error r, with code and a reason containing needle. */
static void expect_request_error(const char *s, size_t len, int r, const char *code,
                                 const char *needle)
{
        const ObCtlCommand *cmd = SENTINEL;
        json_object *args = SENTINEL;
        const char *got_code = NULL;
        char err[256] = "";

        assert_int_equal(ob_ctl_parse_request_ex(s, len, &cmd, &args, &got_code, err, sizeof(err)),
                         r);
        assert_ptr_equal(cmd, SENTINEL); /* nothing returned on error */
        assert_ptr_equal(args, SENTINEL);
        assert_non_null(got_code);
        assert_string_equal(got_code, code);
        if (needle && !strstr(err, needle))
                fail_msg("reason \"%s\" lacks \"%s\" (input %.60s)", err, needle, s);
        /* the plain variant agrees */
        assert_int_equal(ob_ctl_parse_request(s, len, &cmd, &args, NULL, 0), r);
}

#define BAD(s, r, code, needle) expect_request_error((s), strlen(s), (r), (code), (needle))

static void test_command_table(void **state)
{
        static const struct {
                const char *name;
                ObCtlAccess access;
        } want[] = {
                {"status", OB_CTL_READ},        {"check", OB_CTL_READ},
                {"ping", OB_CTL_READ},          {"rotate", OB_CTL_MUTATE},
                {"retry", OB_CTL_MUTATE},       {"provision", OB_CTL_MUTATE},
                {"reprovision", OB_CTL_MUTATE}, {"decommission", OB_CTL_MUTATE},
                {"reload", OB_CTL_MUTATE},
        };
        size_t n = 0;
        const ObCtlCommand *t = ob_ctl_commands(&n);

        assert_int_equal(n, sizeof(want) / sizeof(want[0]));
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(t[i].name, want[i].name);
                assert_int_equal(t[i].access, want[i].access);
                assert_non_null(t[i].help);
                assert_true(strlen(t[i].help) > 0);
                assert_ptr_equal(ob_ctl_command_find(want[i].name), &t[i]);
        }
        assert_null(ob_ctl_command_find("nope"));
        assert_null(ob_ctl_command_find(""));
        assert_null(ob_ctl_command_find("STATUS"));
        assert_null(ob_ctl_command_find(NULL));
}

static void test_parse_ok(void **state)
{
        static const char *const lines[] = {
                "{\"command\":\"status\"}\n",
                "{\"command\":\"status\"}",
                "  {\"command\" : \"status\"}  \r\n",
                "{\"command\":\"status\",\"args\":{}}\n",
        };
        const ObCtlCommand *cmd;
        json_object *args;

        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
                cmd = NULL;
                args = NULL;
                assert_int_equal(
                        ob_ctl_parse_request(lines[i], strlen(lines[i]), &cmd, &args, NULL, 0), 0);
                assert_string_equal(cmd->name, "status");
                assert_int_equal(cmd->access, OB_CTL_READ);
                assert_true(json_object_is_type(args, json_type_object)); /* {} when absent */
                assert_int_equal(json_object_object_length(args), 0);
                json_object_put(args);
        }

        const char *s = "{\"args\":{\"force\":true,\"who\":\"h\xc3\xa9 \xe2\x82\xac "
                        "\xf0\x9f\x98\x80\",\"n\":[1,{\"a\":null}]},\"command\":\"rotate\"}\n";
        assert_int_equal(ob_ctl_parse_request(s, strlen(s), &cmd, &args, NULL, 0), 0);
        assert_string_equal(cmd->name, "rotate");
        assert_int_equal(cmd->access, OB_CTL_MUTATE);
        assert_true(json_object_get_boolean(json_object_object_get(args, "force")));
        assert_string_equal(json_object_get_string(json_object_object_get(args, "who")),
                            "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
        json_object_put(args);

        /* an escaped backslash before "u0000" is text, not NUL */
        s = "{\"command\":\"ping\",\"args\":{\"p\":\"C:\\\\u0000\"}}";
        assert_int_equal(ob_ctl_parse_request(s, strlen(s), &cmd, &args, NULL, 0), 0);
        assert_string_equal(json_object_get_string(json_object_object_get(args, "p")), "C:\\u0000");
        json_object_put(args);

        /* ret_ pointers may be NULL; the line need not be NUL-terminated */
        char buf[32];
        memcpy(buf, "{\"command\":\"ping\"}XXXXXXXXXXXXX", 32);
        assert_int_equal(ob_ctl_parse_request(buf, 18, NULL, NULL, NULL, 0), 0);
}

static void test_parse_not_json(void **state)
{
        BAD("", -EBADMSG, "bad-request", "empty");
        BAD("\n", -EBADMSG, "bad-request", "empty");
        BAD("   \n", -EBADMSG, "bad-request", "not JSON");
        BAD("{", -EBADMSG, "bad-request", "not JSON");
        BAD("{\"command\":\"ping\"", -EBADMSG, "bad-request", "not JSON");
        BAD("hello\n", -EBADMSG, "bad-request", "not JSON");
        BAD("{'command':'ping'}\n", -EBADMSG, "bad-request", "not JSON");
        BAD("{\"command\":\"ping\",}\n", -EBADMSG, "bad-request", "not JSON");
        BAD("[\"ping\"]\n", -EBADMSG, "bad-request", "not a JSON object");
        BAD("\"ping\"\n", -EBADMSG, "bad-request", "not a JSON object");
        BAD("null\n", -EBADMSG, "bad-request", "not a JSON object");
        BAD("true\n", -EBADMSG, "bad-request", "not a JSON object");
        BAD("{\"command\":\"ping\"} {}\n", -EBADMSG, "bad-request", NULL);
        BAD("{\"command\":\"ping\"}x", -EBADMSG, "bad-request", NULL);
        BAD("{\"command\":\"ping\"}\n\n", -EBADMSG, "bad-request", "newline at byte 18");
        /* a raw newline inside a string (two lines) */
        BAD("{\"command\":\"pi\nng\"}\n", -EBADMSG, "bad-request", "newline");
        /* other raw control characters (JSON wants them escaped) */
        BAD("{\"command\":\"ping\",\"args\":{\"a\":\"\x01\"}}", -EBADMSG, "bad-request",
            "control character");
        BAD("{\"command\":\"ping\"}\x1b\n", -EBADMSG, "bad-request", "control character");
        /* too deep */
        char deep[200] = "{\"command\":\"ping\",\"args\":";
        for (int i = 0; i < 40; i++)
                strcat(deep, "[");
        BAD(deep, -EBADMSG, "bad-request", "not JSON");
}

static void test_parse_bytes(void **state)
{
        /* embedded NUL byte */
        expect_request_error("{\"command\":\"ping\"}\0x\n", 21, -EBADMSG, "bad-request", "NUL");
        expect_request_error("{\"command\":\"pi\0ng\"}\n", 20, -EBADMSG, "bad-request", "NUL");
        /* \u0000 in a value and in a key (json-c would cut the key at it) */
        BAD("{\"command\":\"ping\",\"args\":{\"a\":\"x\\u0000y\"}}", -EBADMSG, "bad-request",
            "NUL");
        BAD("{\"command\\u0000x\":\"ping\"}", -EBADMSG, "bad-request", "NUL");
        /* malformed UTF-8: stray continuation, overlong, surrogate, above U+10FFFF, truncated,
         * invalid lead bytes */
        static const char *const bad_utf8[] = {
                "\x80",
                "\xc0\xaf",
                "\xc1\xbf",
                "\xe0\x80\xaf",
                "\xed\xa0\x80",
                "\xf0\x80\x80\xaf",
                "\xf4\x90\x80\x80",
                "\xf5\x80\x80\x80",
                "\xc3",
                "\xe2\x82",
                "\xff",
                "\xfe",
        };
        for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
                char s[128];
                snprintf(s, sizeof(s), "{\"command\":\"ping\",\"args\":{\"a\":\"%s\"}}\n",
                         bad_utf8[i]);
                BAD(s, -EBADMSG, "bad-request", "UTF-8");
        }
        /* the edges that are valid */
        static const char *const good_utf8[] = {
                "\x7f",         "\xc2\x80",         "\xdf\xbf",
                "\xe0\xa0\x80", "\xed\x9f\xbf",     "\xee\x80\x80",
                "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
        };
        for (size_t i = 0; i < sizeof(good_utf8) / sizeof(good_utf8[0]); i++) {
                char s[128];
                json_object *args = NULL;
                snprintf(s, sizeof(s), "{\"command\":\"ping\",\"args\":{\"a\":\"%s\"}}\n",
                         good_utf8[i]);
                assert_int_equal(ob_ctl_parse_request(s, strlen(s), NULL, &args, NULL, 0), 0);
                assert_string_equal(json_object_get_string(json_object_object_get(args, "a")),
                                    good_utf8[i]);
                json_object_put(args);
        }
}

static void test_parse_protocol(void **state)
{
        BAD("{}", -EPROTO, "bad-request", "command: missing");
        BAD("{\"args\":{}}", -EPROTO, "bad-request", "command: missing");
        BAD("{\"command\":1}", -EPROTO, "bad-request", "command: not a string");
        BAD("{\"command\":null}", -EPROTO, "bad-request", "command: not a string");
        BAD("{\"command\":[\"ping\"]}", -EPROTO, "bad-request", "command: not a string");
        BAD("{\"command\":\"reboot\"}", -EPROTO, "unknown-command",
            "command: unknown command \"reboot\"");
        BAD("{\"command\":\"\"}", -EPROTO, "unknown-command", "unknown command");
        BAD("{\"command\":\"Ping\"}", -EPROTO, "unknown-command", "unknown command");
        BAD("{\"command\":\"ping\",\"args\":[]}", -EPROTO, "bad-request", "args: not an object");
        BAD("{\"command\":\"ping\",\"args\":null}", -EPROTO, "bad-request", "args: not an object");
        BAD("{\"command\":\"ping\",\"args\":\"x\"}", -EPROTO, "bad-request", "args: not an object");
        BAD("{\"command\":\"ping\",\"id\":1}", -EPROTO, "bad-request", "unknown key \"id\"");
        BAD("{\"Command\":\"ping\"}", -EPROTO, "bad-request", "unknown key \"Command\"");

        /* an unknown name is repeated bounded and printable */
        char s[300], err[256];
        snprintf(s, sizeof(s), "{\"command\":\"%s\\u001b[31m\"}",
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_int_equal(ob_ctl_parse_request(s, strlen(s), NULL, NULL, err, sizeof(err)), -EPROTO);
        assert_non_null(strstr(err, "aaaa..."));
        assert_null(strchr(err, '\x1b'));
        snprintf(s, sizeof(s), "{\"command\":\"x\\u001b[31m\"}");
        assert_int_equal(ob_ctl_parse_request(s, strlen(s), NULL, NULL, err, sizeof(err)), -EPROTO);
        assert_non_null(strstr(err, "\"x?[31m\""));
        /* a short error buffer is never overrun */
        char tiny[8];
        memset(tiny, 'Z', sizeof(tiny));
        assert_int_equal(ob_ctl_parse_request("{}", 2, NULL, NULL, tiny, 5), -EPROTO);
        assert_int_equal(tiny[4], '\0');
        assert_int_equal(tiny[5], 'Z');
}

/* A request line of exactly len bytes, newline included when with_newline. */
static char *request_of_length(size_t len, bool with_newline)
{
        const char *head = "{\"command\":\"ping\",\"args\":{\"pad\":\"";
        const char *tail = "\"}}";
        size_t fixed = strlen(head) + strlen(tail) + (with_newline ? 1 : 0);
        char *s = malloc(len + 1);
        assert_non_null(s);
        assert_true(len > fixed);
        strcpy(s, head);
        memset(s + strlen(head), 'x', len - fixed);
        strcpy(s + strlen(head) + (len - fixed), tail);
        if (with_newline)
                strcat(s, "\n");
        assert_int_equal(strlen(s), len);
        return s;
}

static void test_parse_bounds(void **state)
{
        const ObCtlCommand *cmd;
        json_object *args;
        char *s;

        /* exactly the maximum, newline included: accepted */
        s = request_of_length(OB_CTL_MAX_LINE, true);
        assert_int_equal(ob_ctl_parse_request(s, OB_CTL_MAX_LINE, &cmd, &args, NULL, 0), 0);
        assert_int_equal(json_object_get_string_len(json_object_object_get(args, "pad")),
                         OB_CTL_MAX_LINE - 37);
        json_object_put(args);
        free(s);
        /* one byte under without the newline: the same line, accepted */
        s = request_of_length(OB_CTL_MAX_LINE - 1, false);
        assert_int_equal(ob_ctl_parse_request(s, OB_CTL_MAX_LINE - 1, NULL, NULL, NULL, 0), 0);
        free(s);
        /* one over, with newline */
        s = request_of_length(OB_CTL_MAX_LINE + 1, true);
        expect_request_error(s, OB_CTL_MAX_LINE + 1, -EMSGSIZE, "too-large", "longer than");
        free(s);
        /* the maximum without a newline would be one over with it */
        s = request_of_length(OB_CTL_MAX_LINE, false);
        expect_request_error(s, OB_CTL_MAX_LINE, -EMSGSIZE, "too-large", "longer than");
        free(s);
        /* way over: refused before looking at the content */
        expect_request_error("x", (size_t)10 * OB_CTL_MAX_LINE, -EMSGSIZE, "too-large", NULL);
}

static void test_format_request(void **state)
{
        const ObCtlCommand *cmd;
        json_object *args, *a;
        char *line;

        assert_int_equal(ob_ctl_format_request("status", NULL, &line), 0);
        assert_string_equal(line, "{\"command\":\"status\"}\n");
        assert_int_equal(ob_ctl_parse_request(line, strlen(line), &cmd, &args, NULL, 0), 0);
        assert_string_equal(cmd->name, "status");
        json_object_put(args);
        free(line);

        a = json_tokener_parse("{\"claim_cert\":\"/tmp/a/b.crt\",\"force\":true,\"n\":3}");
        assert_int_equal(ob_ctl_format_request("provision", a, &line), 0);
        assert_non_null(strstr(line, "/tmp/a/b.crt")); /* no slash escaping */
        assert_int_equal(line[strlen(line) - 1], '\n');
        assert_null(memchr(line, '\n', strlen(line) - 1));
        assert_int_equal(ob_ctl_parse_request(line, strlen(line), &cmd, &args, NULL, 0), 0);
        assert_string_equal(cmd->name, "provision");
        assert_true(json_object_equal(args, a));
        json_object_put(args);
        free(line);
        json_object_put(a); /* args were borrowed */

        /* a newline in a value stays escaped: still one line */
        a = json_tokener_parse("{\"m\":\"a\\nb\"}");
        assert_int_equal(ob_ctl_format_request("ping", a, &line), 0);
        assert_null(memchr(line, '\n', strlen(line) - 1));
        free(line);
        json_object_put(a);

        /* an unknown command can be formatted (the server answers unknown-command) */
        assert_int_equal(ob_ctl_format_request("reboot", NULL, &line), 0);
        free(line);

        line = SENTINEL;
        assert_int_equal(ob_ctl_format_request("", NULL, &line), -EINVAL);
        assert_int_equal(ob_ctl_format_request(NULL, NULL, &line), -EINVAL);
        a = json_object_new_array();
        assert_int_equal(ob_ctl_format_request("ping", a, &line), -EINVAL);
        json_object_put(a);
        a = json_object_new_object();
        json_object_object_add(a, "bad", json_object_new_string("\xff"));
        assert_int_equal(ob_ctl_format_request("ping", a, &line), -EBADMSG);
        json_object_put(a);
        a = json_object_new_object();
        json_object_object_add(a, "nul", json_object_new_string_len("a\0b", 3));
        assert_int_equal(ob_ctl_format_request("ping", a, &line), -EBADMSG);
        json_object_put(a);
        assert_ptr_equal(line, SENTINEL);

        /* the bound: the largest request that fits, and one byte more */
        size_t fixed = strlen("{\"command\":\"ping\",\"args\":{\"pad\":\"\"}}\n");
        char *pad = malloc(OB_CTL_MAX_LINE);
        memset(pad, 'x', OB_CTL_MAX_LINE);
        a = json_object_new_object();
        json_object_object_add(a, "pad", json_object_new_string_len(pad, OB_CTL_MAX_LINE - fixed));
        assert_int_equal(ob_ctl_format_request("ping", a, &line), 0);
        assert_int_equal(strlen(line), OB_CTL_MAX_LINE);
        assert_int_equal(ob_ctl_parse_request(line, strlen(line), NULL, NULL, NULL, 0), 0);
        free(line);
        json_object_object_add(a, "pad",
                               json_object_new_string_len(pad, OB_CTL_MAX_LINE - fixed + 1));
        assert_int_equal(ob_ctl_format_request("ping", a, &line), -EMSGSIZE);
        json_object_put(a);
        free(pad);
}

static void test_reply_ok(void **state)
{
        json_object *res, *got;
        char *line;

        assert_int_equal(ob_ctl_format_reply_ok(NULL, &line), 0);
        assert_string_equal(line, "{\"ok\":true,\"result\":{}}\n");
        got = NULL;
        assert_int_equal(ob_ctl_parse_reply(line, strlen(line), &got, NULL, NULL), 0);
        assert_true(json_object_is_type(got, json_type_object));
        assert_int_equal(json_object_object_length(got), 0);
        json_object_put(got);
        free(line);

        res = json_tokener_parse("{\"state\":\"onboarded\",\"generation\":3,\"thing\":\"gw-1\","
                                 "\"path\":\"/var/lib/x\",\"list\":[1,2,{\"u\":\"\xc3\xa9\"}]}");
        assert_int_equal(ob_ctl_format_reply_ok(res, &line), 0);
        assert_int_equal(ob_ctl_parse_reply(line, strlen(line), &got, NULL, NULL), 0);
        assert_true(json_object_equal(got, res));
        json_object_put(got);
        free(line);
        json_object_put(res);

        line = SENTINEL;
        res = json_object_new_string("x");
        assert_int_equal(ob_ctl_format_reply_ok(res, &line), -EINVAL);
        json_object_put(res);
        res = json_object_new_object();
        json_object_object_add(res, "b", json_object_new_string("\xc3"));
        assert_int_equal(ob_ctl_format_reply_ok(res, &line), -EBADMSG);
        json_object_put(res);
        char *pad = calloc(1, OB_CTL_MAX_LINE + 1);
        memset(pad, 'x', OB_CTL_MAX_LINE);
        res = json_object_new_object();
        json_object_object_add(res, "pad", json_object_new_string(pad));
        assert_int_equal(ob_ctl_format_reply_ok(res, &line), -EMSGSIZE);
        json_object_put(res);
        free(pad);
        assert_ptr_equal(line, SENTINEL);
}

static void test_reply_error(void **state)
{
        char *line, *code, *message;
        json_object *res = SENTINEL;

        assert_int_equal(ob_ctl_format_reply_error("permission-denied", "needs root", &line), 0);
        assert_string_equal(line, "{\"ok\":false,\"error\":{\"code\":\"permission-denied\","
                                  "\"message\":\"needs root\"}}\n");
        assert_int_equal(ob_ctl_parse_reply(line, strlen(line), &res, &code, &message), 1);
        assert_ptr_equal(res, SENTINEL);
        assert_string_equal(code, "permission-denied");
        assert_string_equal(message, "needs root");
        free(code);
        free(message);
        /* ret_ pointers may be NULL */
        assert_int_equal(ob_ctl_parse_reply(line, strlen(line), NULL, NULL, NULL), 1);
        free(line);

        assert_int_equal(ob_ctl_format_reply_error("busy", NULL, &line), 0);
        assert_int_equal(ob_ctl_parse_reply(line, strlen(line), NULL, &code, &message), 1);
        assert_string_equal(code, "busy");
        assert_string_equal(message, "");
        free(code);
        free(message);
        free(line);

        /* invalid UTF-8 is replaced, control characters stay escaped on one line */
        assert_int_equal(ob_ctl_format_reply_error("internal", "a\xff\xc3z\n\x01", &line), 0);
        assert_null(memchr(line, '\n', strlen(line) - 1));
        assert_int_equal(ob_ctl_parse_reply(line, strlen(line), NULL, &code, &message), 1);
        assert_string_equal(message, "a??z\n\x01");
        free(code);
        free(message);
        free(line);

        /* long messages are cut at a character boundary */
        char big[OB_CTL_MAX_MESSAGE + 16];
        memset(big, 'x', OB_CTL_MAX_MESSAGE - 1);
        strcpy(big + OB_CTL_MAX_MESSAGE - 1, "\xe2\x82\xac"
                                             "tail"); /* € straddles the cut */
        assert_int_equal(ob_ctl_format_reply_error("internal", big, &line), 0);
        assert_int_equal(ob_ctl_parse_reply(line, strlen(line), NULL, &code, &message), 1);
        assert_int_equal(strlen(message), OB_CTL_MAX_MESSAGE - 1);
        free(code);
        free(message);
        free(line);
        memset(big, 'y', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(ob_ctl_format_reply_error("internal", big, &line), 0);
        assert_int_equal(ob_ctl_parse_reply(line, strlen(line), NULL, &code, &message), 1);
        assert_int_equal(strlen(message), OB_CTL_MAX_MESSAGE);
        free(code);
        free(message);
        free(line);

        line = SENTINEL;
        assert_int_equal(ob_ctl_format_reply_error("", "m", &line), -EINVAL);
        assert_int_equal(ob_ctl_format_reply_error(NULL, "m", &line), -EINVAL);
        assert_int_equal(ob_ctl_format_reply_error("Busy", "m", &line), -EINVAL);
        assert_int_equal(ob_ctl_format_reply_error("no such", "m", &line), -EINVAL);
        assert_int_equal(
                ob_ctl_format_reply_error("a234567890123456789012345678901234", "m", &line),
                -EINVAL);
        assert_ptr_equal(line, SENTINEL);
        assert_true(ob_ctl_code_valid("a2345678901234567890123456789012")); /* 32 */
        assert_true(ob_ctl_code_valid("not-supported"));
        assert_false(ob_ctl_code_valid("a_b"));
}

static void test_reply_malformed(void **state)
{
        static const struct {
                const char *line;
                int r;
        } cases[] = {
                {"", -EBADMSG},
                {"[]", -EBADMSG},
                {"{\"ok\":true,\"result\":{}", -EBADMSG},
                {"{\"ok\":true,\"result\":{\"a\":\"\xff\"}}", -EBADMSG},
                {"{\"ok\":true,\"result\":{\"a\":\"\\u0000\"}}", -EBADMSG},
                {"{}", -EPROTO},
                {"{\"result\":{}}", -EPROTO},
                {"{\"ok\":1,\"result\":{}}", -EPROTO},
                {"{\"ok\":\"true\",\"result\":{}}", -EPROTO},
                {"{\"ok\":true}", -EPROTO},
                {"{\"ok\":true,\"result\":[]}", -EPROTO},
                {"{\"ok\":true,\"result\":null}", -EPROTO},
                {"{\"ok\":true,\"result\":{},\"error\":{\"code\":\"x\",\"message\":\"\"}}",
                 -EPROTO},
                {"{\"ok\":true,\"result\":{},\"extra\":1}", -EPROTO},
                {"{\"ok\":false}", -EPROTO},
                {"{\"ok\":false,\"error\":\"busy\"}", -EPROTO},
                {"{\"ok\":false,\"error\":{\"message\":\"m\"}}", -EPROTO},
                {"{\"ok\":false,\"error\":{\"code\":\"busy\"}}", -EPROTO},
                {"{\"ok\":false,\"error\":{\"code\":7,\"message\":\"m\"}}", -EPROTO},
                {"{\"ok\":false,\"error\":{\"code\":\"Bad Code\",\"message\":\"m\"}}", -EPROTO},
                {"{\"ok\":false,\"error\":{\"code\":\"busy\",\"message\":1}}", -EPROTO},
                {"{\"ok\":false,\"error\":{\"code\":\"busy\",\"message\":\"m\",\"x\":1}}", -EPROTO},
                {"{\"ok\":false,\"error\":{\"code\":\"busy\",\"message\":\"m\"},\"result\":{}}",
                 -EPROTO},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_object *res = SENTINEL;
                char *code = SENTINEL, *message = SENTINEL;
                int r = ob_ctl_parse_reply(cases[i].line, strlen(cases[i].line), &res, &code,
                                           &message);
                if (r != cases[i].r)
                        fail_msg("%s: %d, expected %d", cases[i].line, r, cases[i].r);
                assert_ptr_equal(res, SENTINEL);
                assert_ptr_equal(code, SENTINEL);
                assert_ptr_equal(message, SENTINEL);
        }
        /* too long message */
        char s[OB_CTL_MAX_MESSAGE + 128];
        int n = snprintf(s, sizeof(s), "{\"ok\":false,\"error\":{\"code\":\"x\",\"message\":\"");
        memset(s + n, 'm', OB_CTL_MAX_MESSAGE + 1);
        strcpy(s + n + OB_CTL_MAX_MESSAGE + 1, "\"}}");
        assert_int_equal(ob_ctl_parse_reply(s, strlen(s), NULL, NULL, NULL), -EPROTO);
        /* too long line */
        char *big = malloc(OB_CTL_MAX_LINE + 1);
        memset(big, ' ', OB_CTL_MAX_LINE + 1);
        assert_int_equal(ob_ctl_parse_reply(big, OB_CTL_MAX_LINE + 1, NULL, NULL, NULL), -EMSGSIZE);
        free(big);
}

static void test_authorized(void **state)
{
        const uid_t daemon = 990, user = 1000;
        const gid_t agent = 991, other = 100;
        const gid_t in[] = {other, agent}, out[] = {other, 5};
        static const bool expect_read[] = {1, 1, 1, 1, 0, 0, 0};
        struct {
                uid_t uid;
                gid_t gid;
                const gid_t *groups;
                size_t n;
        } peers[] = {
                {0, 0, NULL, 0},          /* root */
                {daemon, other, NULL, 0}, /* the daemon's own user */
                {user, agent, NULL, 0},   /* primary group is the agent group */
                {user, other, in, 2},     /* supplementary member */
                {user, other, out, 2},    /* not a member */
                {user, other, NULL, 0},   /* no groups at all */
                {(uid_t)-1, (gid_t)-1, NULL, 0},
        };

        for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
                bool read = ob_ctl_authorized(OB_CTL_READ, peers[i].uid, peers[i].gid,
                                              peers[i].groups, peers[i].n, daemon, agent);
                bool mutate = ob_ctl_authorized(OB_CTL_MUTATE, peers[i].uid, peers[i].gid,
                                                peers[i].groups, peers[i].n, daemon, agent);
                if (read != expect_read[i] || mutate != (peers[i].uid == 0))
                        fail_msg("peer %zu: read %d mutate %d", i, read, mutate);
        }
        /* no agent group: only root and the daemon's user */
        assert_true(ob_ctl_authorized(OB_CTL_READ, 0, 0, NULL, 0, daemon, (gid_t)-1));
        assert_true(ob_ctl_authorized(OB_CTL_READ, daemon, 0, NULL, 0, daemon, (gid_t)-1));
        assert_false(ob_ctl_authorized(OB_CTL_READ, user, agent, in, 2, daemon, (gid_t)-1));
        /* a peer whose groups include (gid_t)-1 is no member of "no group" */
        const gid_t minus[] = {(gid_t)-1};
        assert_false(ob_ctl_authorized(OB_CTL_READ, user, (gid_t)-1, minus, 1, daemon, (gid_t)-1));
        /* (uid_t)-1 as daemon_uid matches nobody */
        assert_false(ob_ctl_authorized(OB_CTL_READ, (uid_t)-1, other, NULL, 0, (uid_t)-1, agent));
        /* a daemon running as root: non-root peers still only read, via the group */
        assert_false(ob_ctl_authorized(OB_CTL_MUTATE, user, agent, in, 2, 0, agent));
        assert_true(ob_ctl_authorized(OB_CTL_READ, user, other, in, 2, 0, agent));
        /* the daemon's user never mutates */
        assert_false(ob_ctl_authorized(OB_CTL_MUTATE, daemon, agent, in, 2, daemon, agent));
}

static void test_code_from_errno(void **state)
{
        assert_string_equal(ob_ctl_code_from_errno(-EOPNOTSUPP), "not-supported");
        assert_string_equal(ob_ctl_code_from_errno(-ENOSYS), "not-supported");
        assert_string_equal(ob_ctl_code_from_errno(-EBUSY), "busy");
        assert_string_equal(ob_ctl_code_from_errno(-EAGAIN), "busy");
        assert_string_equal(ob_ctl_code_from_errno(-EPERM), "permission-denied");
        assert_string_equal(ob_ctl_code_from_errno(EACCES), "permission-denied");
        assert_string_equal(ob_ctl_code_from_errno(-EINVAL), "bad-request");
        assert_string_equal(ob_ctl_code_from_errno(-EIO), "internal");
        assert_string_equal(ob_ctl_code_from_errno(0), "internal");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_command_table),  cmocka_unit_test(test_parse_ok),
                cmocka_unit_test(test_parse_not_json), cmocka_unit_test(test_parse_bytes),
                cmocka_unit_test(test_parse_protocol), cmocka_unit_test(test_parse_bounds),
                cmocka_unit_test(test_format_request), cmocka_unit_test(test_reply_ok),
                cmocka_unit_test(test_reply_error),    cmocka_unit_test(test_reply_malformed),
                cmocka_unit_test(test_authorized),     cmocka_unit_test(test_code_from_errno),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
