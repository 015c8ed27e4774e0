/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the control-socket codec: any bytes as a request line and as a reply
 * line. Whatever parses must format again and parse back the same (round trip).
 * Seeds: tests/fuzz/corpus/ctl/.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void request(const char *s, size_t n)
{
        const ObCtlCommand *cmd = NULL, *cmd2 = NULL;
        json_object *args = NULL, *args2 = NULL;
        const char *code = NULL;
        char err[256], *line = NULL;

        if (ob_ctl_parse_request_ex(s, n, &cmd, &args, &code, err, sizeof(err)) < 0) {
                if (!code || !memchr(err, '\0', sizeof(err)))
                        abort();
                return;
        }
        if (!cmd || !args || !json_object_is_type(args, json_type_object))
                abort();
        /* what the server accepted, the client can send, and it means the same */
        if (ob_ctl_format_request(cmd->name, args, &line) == 0) {
                if (ob_ctl_parse_request(line, strlen(line), &cmd2, &args2, NULL, 0) != 0 ||
                    cmd2 != cmd || !json_object_equal(args, args2))
                        abort();
                json_object_put(args2);
                free(line);
        }
        json_object_put(args);
}

static void reply(const char *s, size_t n)
{
        json_object *result = NULL, *result2 = NULL;
        char *code = NULL, *message = NULL, *line = NULL;
        int r = ob_ctl_parse_reply(s, n, &result, &code, &message);

        if (r == 0) {
                if (ob_ctl_format_reply_ok(result, &line) == 0) {
                        if (ob_ctl_parse_reply(line, strlen(line), &result2, NULL, NULL) != 0 ||
                            !json_object_equal(result, result2))
                                abort();
                        json_object_put(result2);
                        free(line);
                }
                json_object_put(result);
        } else if (r == 1) {
                char *code2 = NULL, *message2 = NULL;
                if (ob_ctl_format_reply_error(code, message, &line) != 0 ||
                    ob_ctl_parse_reply(line, strlen(line), NULL, &code2, &message2) != 1 ||
                    strcmp(code, code2) != 0 || strcmp(message, message2) != 0)
                        abort();
                free(code2);
                free(message2);
                free(line);
                free(code);
                free(message);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* a NUL-terminated copy too, so a parser reading past len is caught by ASan either way */
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        request((const char *)data, size);
        reply((const char *)data, size);
        /* free-form error messages: formatting must always yield a parseable line */
        char *line = NULL;
        if (ob_ctl_format_reply_error("internal", s, &line) == 0) {
                if (ob_ctl_parse_reply(line, strlen(line), NULL, NULL, NULL) != 1)
                        abort();
                free(line);
        }
        free(s);
        return 0;
}
