/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A control-socket server with an echo handler, for tests/integration/test-control.sh.
 *   ob-ctl-server [--group GID] [--max-clients N] [--root-reserved N] [--per-uid N]
 *                 [--idle-ms MS] [--fail CODE] [--verbose] SOCKET
 * Prints READY when listening; exits 0 on SIGTERM or SIGINT (the socket is removed).
 * The handler echoes {command, access, args, peer:{uid,gid,pid}} and obeys test args:
 *   "fail": CODE   fail with that error code;  "errno": N   fail with -N and no code;
 *   "pad": N       add a string of N bytes to the result (to test large replies);
 *   "quiet": any   do not echo the args (to test large requests).
 * --fail CODE: every command but ping fails with CODE (agentctl's --json errors, which send no
 * test args).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "log.h"

static int handler(const ObCtlCommand *cmd, json_object *args, const ObControlPeer *peer,
                   void *userdata, json_object **ret_result, char *code, size_t code_size,
                   char *message, size_t message_size)
{
        const char *fail_all = userdata;
        json_object *v, *res, *p;

        if (fail_all && strcmp(cmd->name, "ping") != 0) {
                snprintf(code, code_size, "%s", fail_all);
                snprintf(message, message_size, "%s refused (ob-ctl-server --fail)", cmd->name);
                return -EIO;
        }
        if (json_object_object_get_ex(args, "fail", &v)) {
                snprintf(code, code_size, "%s", json_object_get_string(v));
                snprintf(message, message_size, "failed on request");
                return -EIO;
        }
        if (json_object_object_get_ex(args, "errno", &v))
                return -json_object_get_int(v);
        res = json_object_new_object();
        p = json_object_new_object();
        if (!res || !p) {
                json_object_put(res);
                json_object_put(p);
                return -ENOMEM;
        }
        json_object_object_add(res, "command", json_object_new_string(cmd->name));
        json_object_object_add(
                res, "access",
                json_object_new_string(cmd->access == OB_CTL_READ ? "read" : "mutate"));
        if (!json_object_object_get_ex(args, "quiet", NULL))
                json_object_object_add(res, "args", json_object_get(args));
        json_object_object_add(p, "uid", json_object_new_int64(peer->uid));
        json_object_object_add(p, "gid", json_object_new_int64(peer->gid));
        json_object_object_add(p, "pid", json_object_new_int64(peer->pid));
        json_object_object_add(res, "peer", p);
        if (json_object_object_get_ex(args, "pad", &v)) {
                int n = json_object_get_int(v);
                char *s = n > 0 && n <= 1024 * 1024 ? malloc((size_t)n) : NULL;
                if (s) {
                        memset(s, 'x', (size_t)n);
                        json_object_object_add(res, "pad", json_object_new_string_len(s, n));
                        free(s);
                }
        }
        *ret_result = res;
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"group", required_argument, NULL, 'g'},
                {"max-clients", required_argument, NULL, 'm'},
                {"idle-ms", required_argument, NULL, 'i'},
                {"root-reserved", required_argument, NULL, 'r'},
                {"per-uid", required_argument, NULL, 'u'},
                {"verbose", no_argument, NULL, 'v'},
                {"fail", required_argument, NULL, 'f'},
                {},
        };
        const char *fail_all = NULL;
        gid_t group = (gid_t)-1;
        unsigned max_clients = 0, per_uid = 0;
        long root_reserved = -1;
        uint64_t idle = 0;
        ObControlServer *srv = NULL;
        sd_event *e = NULL;
        sigset_t ss;
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'g':
                        group = (gid_t)strtoul(optarg, NULL, 10);
                        break;
                case 'm':
                        max_clients = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'i':
                        idle = strtoull(optarg, NULL, 10) * 1000;
                        break;
                case 'r':
                        root_reserved = strtol(optarg, NULL, 10);
                        break;
                case 'u':
                        per_uid = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'v':
                        ob_log_set_max_level(OB_LOG_DEBUG);
                        break;
                case 'f':
                        fail_all = optarg;
                        break;
                default:
                        return 64;
                }
        }
        if (optind + 1 != argc) {
                fprintf(stderr, "usage: ob-ctl-server [--group GID] [--max-clients N] "
                                "[--root-reserved N] [--per-uid N] [--idle-ms MS] [--fail CODE] "
                                "[--verbose] "
                                "SOCKET\n");
                return 64;
        }
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        r = sd_event_new(&e);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGINT, on_signal, NULL);
        if (r >= 0)
                r = ob_control_server_new(e, argv[optind], group, handler, (void *)fail_all, &srv);
        if (r < 0) {
                fprintf(stderr, "ob-ctl-server: %s: %s\n", argv[optind], strerror(-r));
                sd_event_unref(e);
                return 1;
        }
        ob_control_server_set_limits(srv, max_clients, idle);
        if (root_reserved >= 0 || per_uid > 0)
                ob_control_server_set_shares(srv,
                                             root_reserved >= 0 ? (unsigned)root_reserved
                                                                : OB_CONTROL_ROOT_RESERVED_DEFAULT,
                                             per_uid);
        printf("READY\n");
        fflush(stdout);
        r = sd_event_loop(e);
        ob_control_server_free(srv);
        sd_event_unref(e);
        if (r < 0) {
                fprintf(stderr, "ob-ctl-server: event loop: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
