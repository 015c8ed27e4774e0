/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connecting for the onboarding machine: the options of a CONNECT (endpoint, TLS key and its
 * provider, client id), AWS's one CONNECT per second per client id (persisted before the
 * CONNECT), the verification probe, and what a connect that cannot start means. With the
 * pending slot's new certificate or with the current one (a rotation); the claims are
 * lib/onboard-fleet.c's, the factory certificate lib/onboard-factory.c's. The transport's
 * events come back through the flow engine (ob_onboard_handle_event(), lib/onboard.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "isotime.h"
#include "onboard-connect.h"
#include "onboard-factory.h"
#include "onboard-key.h"
#include "onboard-private.h"
#include "onboard.h"

/* ------------------------------------------------------------------ connecting */

const char *ob_onboard_iso_text(int64_t s, char *buf, size_t size)
{
        ob_isotime_format(s, buf, size);
        return buf;
}

/* The provider for the TLS key at path: "tpm2" for a persistent key ("handle:0x...") or a TSS2
 * PEM file, else "default". */
const char *ob_onboard_key_file_provider(const ObFsOps *fs, const char *path)
{
        char buf[64] = "";

        if (ob_key_path_is_handle(path))
                return "tpm2";
        (void)ob_fs_read_line(fs, path, buf, sizeof(buf));
        return strstr(buf, "TSS2 PRIVATE KEY") ? "tpm2" : "default";
}

int ob_onboard_connect_to(ObOnboard *ob, const char *cert, const char *key, const char *provider,
                          ObOnboardActivity act, int64_t now)
{
        _cleanup_free_ char *client_id = NULL;
        ObConnectOptions o;
        int64_t earliest;
        bool same_id;
        int r;

        r = ob_onboard_expand_or_fail(ob, ob->c->endpoint.client_id, "endpoint.client_id",
                                      "bad-client-id", now, &client_id);
        if (r < 0)
                return r;
        /* one CONNECT per second per client id, whatever the backoff says; after a restart
         * the last CONNECT on disk may have been this client id's (not persisted: assume so) */
        same_id = !ob->last_client_id[0] || strcmp(client_id, ob->last_client_id) == 0;
        earliest = ob_backoff_next_connect_ms(&ob->backoff);
        if (!same_id)
                earliest = ob->backoff.next_ms;
        if (now < earliest) {
                ob_onboard_set_activity(ob, OB_ACT_WAIT_RETRY, earliest);
                return 0;
        }
        o = (ObConnectOptions){
                .host = ob->c->endpoint.host,
                .port = (int)ob->c->endpoint.port,
                .alpn = ob->c->endpoint.alpn ? "x-amzn-mqtt-ca" : NULL,
                .ca_file = ob->c->endpoint.root_ca,
                .cert_file = cert,
                .key_file = key,
                .provider = provider,
                .tcti = ob->c->tpm.tcti,
                .client_id = client_id,
                .keepalive_s = (int)(ob->c->endpoint.keepalive_ms / 1000),
                .timeout_ms = (int)ob->c->endpoint.connect_timeout_ms,
        };
        ob->prev_connect_ms = same_id ? ob->backoff.last_connect_ms : 0;
        ob->attempt_ms = now;
        snprintf(ob->last_client_id, sizeof(ob->last_client_id), "%s", client_id);
        ob_backoff_connect_attempt(&ob->backoff, now);
        /* on disk before the CONNECT: a restart right after it keeps AWS's one CONNECT per
         * second per client id (best effort, like every retry time) */
        ob_onboard_persist_or_say(ob);
        ob_onboard_set_activity(ob, act, now + (int64_t)ob->c->endpoint.connect_timeout_ms + 5000);
        /* a verification that is not followed by a publish (the rotation's announcement)
         * needs only the CONNACK: a probe, if the transport has one, is quicker than an MQTT
         * session (with Paho, no thread start-up and teardown; docs/performance.md, P1) */
        if (act == OB_ACT_VERIFY && ob->d.transport->ops->probe &&
            !(ob->rotating && ob->c->rotation.old_cert_topic))
                r = ob->d.transport->ops->probe(ob->d.transport->impl, &o);
        else
                r = ob->d.transport->ops->connect(ob->d.transport->impl, &o);
        if (r == -ELIBBAD) {
                /* no retry can help: the long "refused" schedule, and words that say what to do */
                ob_onboard_fail(
                        ob, OB_ERR_REFUSED, "tls-provider-unusable", now,
                        "the tpm2 OpenSSL provider cannot use TPM keys on this platform "
                        "(tpm2-openssl before 1.2.0 with a 32-bit long): upgrade tpm2-openssl to "
                        "1.2.0 or later (agentctl check tls-provider, docs/tpm.md)");
                return r;
        }
        if (r == -ENOSPC) {
                /* the daemon's transport: the SRK is transient (no free persistent TPM handle)
                 * and the tpm2 provider finds a key's parent only at the handle; retried at the
                 * local pace, the daemon persists the SRK once a handle is free */
                ob_onboard_fail_local(
                        ob, "srk-not-persistent", 0, now,
                        "the storage root key has no persistent TPM handle (all in use): TLS "
                        "with the device key needs one; free a persistent handle "
                        "(agentctl check srk, docs/tpm.md)");
                return 0; /* recorded and retried: not an error of the request (agentctl rotate) */
        }
        if (r < 0) {
                ob_onboard_fail(ob, OB_ERR_NETWORK, "connect-failed", now,
                                "cannot start connecting: %s", strerror(-r));
                return r;
        }
        return 0;
}

int ob_onboard_connect_device(ObOnboard *ob, int64_t now)
{
        char crt[512], key[512];

        if (!ob_onboard_slot_file(ob, "device.crt", crt, sizeof(crt)) ||
            !ob_onboard_slot_file(ob, "device.key", key, sizeof(key)))
                return -ENAMETOOLONG;
        return ob_onboard_connect_to(ob, crt, key,
                                     ob->c->provisioning.create_keys
                                             ? "default"
                                             : ob->d.keys->ops->tls_provider(ob->d.keys),
                                     OB_ACT_VERIFY, now);
}

/* A rotation asks for its new certificate with the identity it replaces (a factory identity
 * may use the vendor's key at a persistent handle: the slot then has no key file). */
int ob_onboard_connect_current(ObOnboard *ob, int64_t now)
{
        return ob_onboard_connect_current_as(ob, OB_ACT_CONNECT_CLAIM, now);
}

int ob_onboard_connect_current_as(ObOnboard *ob, ObOnboardActivity act, int64_t now)
{
        _cleanup_free_ char *crt =
                ob_creds_slot_file(ob->c->paths.state_dir, ob->cur_gen, "device.crt");
        _cleanup_free_ char *key = ob_onboard_factory_key_path(ob, ob->cur_gen);

        if (!crt || !key)
                return -ENOMEM;
        return ob_onboard_connect_to(ob, crt, key, ob_onboard_key_file_provider(ob->d.fs, key), act,
                                     now);
}
