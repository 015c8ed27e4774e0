/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connects through the agent's transport (agent/transport-paho.c), subscribes to a topic,
 * publishes to it and waits for the echo; prints timings. Exit codes: 0 ok; 10 + error class
 * (lib/errclass.h) when the connect fails; 2 subscribe/publish/echo failure; 64 usage.
 *   ob-mqtt-probe --host H --port P --cafile F --cert F --key F [--provider tpm2|default]
 *                 [--tcti T] [--id ID] [--topic T] [--repeat N] [--connect-only | --probe]
 *                 [--timeout-ms N] [--abort-after-ms N]
 *                 [--cert2 F --key2 F --provider2 P]
 * With --cert2/--key2 a second round follows in the same process with the other credential
 * (proves OpenSSL provider steering between a TPM key and a software key). --probe uses the
 * transport's probe (CONNECT -> CONNACK, no session; what the verification before a commit uses)
 * instead of a connection.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transport-paho.h"

static double now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wait for an event of the wanted type; any other event is reported and fails. */
static int expect(ObTransport *t, ObTransportEventType want, ObTransportEvent *ev)
{
        int r = ob_transport_wait_event(t, 15000, ev);
        if (r < 0) {
                fprintf(stderr, "ob-mqtt-probe: no event: %s\n", strerror(-r));
                return r;
        }
        if (ev->type != want) {
                fprintf(stderr, "ob-mqtt-probe: unexpected event %d: %s\n", ev->type, ev->detail);
                return -EPROTO;
        }
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"host", required_argument, NULL, 'h'},
                {"port", required_argument, NULL, 'p'},
                {"cafile", required_argument, NULL, 'a'},
                {"cert", required_argument, NULL, 'c'},
                {"key", required_argument, NULL, 'k'},
                {"provider", required_argument, NULL, 'P'},
                {"tcti", required_argument, NULL, 't'},
                {"id", required_argument, NULL, 'i'},
                {"topic", required_argument, NULL, 'T'},
                {"repeat", required_argument, NULL, 'n'},
                {"connect-only", no_argument, NULL, 'o'},
                {"probe", no_argument, NULL, 'B'},
                {"timeout-ms", required_argument, NULL, 'M'},
                {"abort-after-ms", required_argument, NULL, 'A'},
                {"cert2", required_argument, NULL, 'C'},
                {"key2", required_argument, NULL, 'K'},
                {"provider2", required_argument, NULL, 'Q'},
                {},
        };
        ObConnectOptions o = {
                .port = 8883, .client_id = "ob-mqtt-probe", .keepalive_s = 30, .timeout_ms = 10000};
        const char *topic = "probe/echo";
        int repeat = 1, c;
        bool connect_only = false, use_probe = false;
        int abort_after_ms = 0;
        char id2[160];
        const char *cert2 = NULL, *key2 = NULL, *provider2 = NULL;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        o.host = optarg;
                        break;
                case 'p':
                        o.port = atoi(optarg);
                        break;
                case 'a':
                        o.ca_file = optarg;
                        break;
                case 'c':
                        o.cert_file = optarg;
                        break;
                case 'k':
                        o.key_file = optarg;
                        break;
                case 'P':
                        o.provider = optarg;
                        break;
                case 't':
                        o.tcti = optarg;
                        break;
                case 'i':
                        o.client_id = optarg;
                        break;
                case 'T':
                        topic = optarg;
                        break;
                case 'n':
                        repeat = atoi(optarg);
                        break;
                case 'o':
                        connect_only = true;
                        break;
                case 'B':
                        use_probe = connect_only = true;
                        break;
                case 'M':
                        o.timeout_ms = atoi(optarg);
                        break;
                case 'A':
                        abort_after_ms = atoi(optarg);
                        break;
                case 'C':
                        cert2 = optarg;
                        break;
                case 'K':
                        key2 = optarg;
                        break;
                case 'Q':
                        provider2 = optarg;
                        break;
                default:
                        return 64;
                }
        }
        if (!o.host || !o.ca_file || !o.cert_file || !o.key_file || repeat < 1)
                return 64;

        ObTransport t;
        ObTransportEvent ev = {0};
        if (ob_transport_paho_new(&t) < 0)
                return 1;
        int rc = 0;
        if (cert2 && key2)
                repeat++;
        for (int i = 0; i < repeat && rc == 0; i++) {
                if (cert2 && key2 && i == repeat - 1) {
                        o.cert_file = cert2;
                        o.key_file = key2;
                        o.provider = provider2;
                        /* IoT Core (and the emulator) allow one CONNECT per second per client id */
                        snprintf(id2, sizeof(id2), "%s-2", o.client_id);
                        o.client_id = id2;
                }
                double t0 = now_ms();
                int r = use_probe ? t.ops->probe(t.impl, &o) : t.ops->connect(t.impl, &o);
                if (r < 0) {
                        fprintf(stderr, "ob-mqtt-probe: connect: %s\n", strerror(-r));
                        rc = 1;
                        break;
                }
                if (abort_after_ms > 0) {
                        /* called off while it runs (a disconnect, the daemon stopping): no
                         * event, and the transport is freed at once */
                        r = ob_transport_wait_event(&t, abort_after_ms, &ev);
                        if (r == 0) {
                                printf("unexpected event before the abort: %s\n", ev.detail);
                                ob_transport_event_clear(&ev);
                                rc = 2;
                                break;
                        }
                        t.ops->disconnect(t.impl);
                        ob_transport_free(&t);
                        printf("aborted after %.1f ms, transport freed\n", now_ms() - t0);
                        return 0;
                }
                r = ob_transport_wait_event(&t, 20000, &ev);
                if (r < 0 || ev.type != OB_TEV_CONNECTED) {
                        printf("connect failed: class=%s: %s\n",
                               r < 0 ? "timeout" : ob_err_class_to_string(ev.err_class),
                               r < 0 ? "no answer" : ev.detail);
                        rc = r < 0 ? 10 + OB_ERR_TIMEOUT : 10 + (int)ev.err_class;
                        ob_transport_event_clear(&ev);
                        break;
                }
                double t1 = now_ms();
                if (connect_only) {
                        t.ops->disconnect(t.impl);
                        printf("%s in %.1f ms (TLS + CONNACK, provider %s)\n",
                               use_probe ? "probed" : "connected", t1 - t0,
                               o.provider ? o.provider : "default");
                        continue;
                }
                int tok;
                if (t.ops->subscribe(t.impl, topic, 1, &tok) < 0 ||
                    expect(&t, OB_TEV_SUBSCRIBED, &ev) < 0) {
                        rc = 2;
                        break;
                }
                double t2 = now_ms();
                const char msg[] = "hello from onboard-agent";
                if (t.ops->publish(t.impl, topic, msg, sizeof(msg) - 1, 1, &tok) < 0) {
                        rc = 2;
                        break;
                }
                /* PUBACK and the echo may come in either order */
                bool acked = false, echoed = false;
                while (!(acked && echoed)) {
                        if (ob_transport_wait_event(&t, 15000, &ev) < 0) {
                                fprintf(stderr, "ob-mqtt-probe: no PUBACK/echo\n");
                                rc = 2;
                                break;
                        }
                        if (ev.type == OB_TEV_PUBLISHED)
                                acked = true;
                        else if (ev.type == OB_TEV_MESSAGE && strcmp(ev.topic, topic) == 0 &&
                                 ev.payload_len == sizeof(msg) - 1 &&
                                 memcmp(ev.payload, msg, ev.payload_len) == 0)
                                echoed = true;
                        else {
                                fprintf(stderr, "ob-mqtt-probe: unexpected event %d: %s\n", ev.type,
                                        ev.detail);
                                rc = 2;
                                break;
                        }
                        ob_transport_event_clear(&ev);
                }
                double t3 = now_ms();
                t.ops->disconnect(t.impl);
                if (rc == 0)
                        printf("connected in %.1f ms (TLS + CONNACK, provider %s), SUBACK %.1f ms, "
                               "PUBLISH->PUBACK+echo %.1f ms\n",
                               t1 - t0, o.provider ? o.provider : "default", t2 - t1, t3 - t2);
        }
        ob_transport_event_clear(&ev);
        ob_transport_free(&t);
        return rc;
}
