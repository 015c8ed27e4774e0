/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One control-socket call through ob_control_call(), for tests/integration/test-control.sh.
 *   ob-ctl-call [--timeout MS] [--repeat N] SOCKET COMMAND [ARGS-JSON]
 * Exit 0 and the result (JSON) on stdout; exit 2 and "CODE: MESSAGE" on stdout for an error
 * reply; exit 1 and the errno's text on stderr for anything else. --repeat: N calls one after
 * the other (one connection each), stopping at the first that fails.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control-client.h"

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"timeout", required_argument, NULL, 't'},
                {"repeat", required_argument, NULL, 'n'},
                {},
        };
        json_object *args = NULL, *result = NULL;
        char *code = NULL, *message = NULL;
        int timeout = 5000, repeat = 1, c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 't')
                        timeout = atoi(optarg);
                else if (c == 'n')
                        repeat = atoi(optarg);
                else
                        return 64;
        }
        if (argc - optind < 2 || argc - optind > 3) {
                fprintf(stderr,
                        "usage: ob-ctl-call [--timeout MS] [--repeat N] SOCKET COMMAND [ARGS-JSON]\n");
                return 64;
        }
        if (argc - optind == 3 && !(args = json_tokener_parse(argv[optind + 2]))) {
                fprintf(stderr, "ob-ctl-call: ARGS-JSON does not parse\n");
                return 64;
        }
        do {
                json_object_put(result);
                result = NULL;
                r = ob_control_call(argv[optind], argv[optind + 1], args, timeout, &result, &code,
                                    &message);
        } while (r >= 0 && --repeat > 0);
        json_object_put(args);
        if (r == -EREMOTEIO) {
                printf("%s: %s\n", code, message);
                free(code);
                free(message);
                return 2;
        }
        if (r < 0) {
                fprintf(stderr, "ob-ctl-call: %s\n", strerror(-r));
                return 1;
        }
        printf("%s\n", json_object_to_json_string_ext(
                               result, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(result);
        return 0;
}
