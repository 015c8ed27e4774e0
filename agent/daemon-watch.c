/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's key provider and transport, watched for a lost TPM (agent/daemon-private.h):
 * -ENODEV from the TPM ends the daemon with a failure status, so that systemd starts it again
 * with a new connection, instead of an endless "refused" that is really a dead TPM.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "daemon-private.h"
#include "key-provider.h"
#include "log.h"
#ifdef HAVE_TPM
#include "tpm-key.h"
#endif
#include "transport-paho.h"

#ifdef HAVE_TPM
/*
 * The TPM key provider, watched: -ENODEV from any call means the connection to the TPM is gone
 * (tpm2-abrmd restarted, the device vanished). Neither our ESAPI context nor OpenSSL's tpm2
 * provider (loaded once per process, with its own connection) can be reopened safely in
 * place, so the daemon ends with a failure status and systemd's Restart=on-failure starts it
 * again; the state is saved at every step, so it resumes where it was.
 */
typedef struct WatchedKeys {
        ObKeyProvider base;
        ObKeyProvider *inner;
        Daemon *daemon;
} WatchedKeys;

static int watch(WatchedKeys *w, int r)
{
        Daemon *d = w->daemon;

        if (r == -ENODEV && d->event && !d->tpm_lost) {
                d->tpm_lost = true;
                ob_log_error("Lost the TPM: %s. Exiting so that the service manager starts the "
                             "agent again with a new connection (the state is saved)",
                             w->inner->ops->last_error(w->inner));
                (void)sd_event_exit(d->event, -ENODEV);
        }
        return r;
}

static int wk_create(ObKeyProvider *p, const char *path, int key_type, EVP_PKEY **ret_pub)
{
        WatchedKeys *w = (WatchedKeys *)p;
        return watch(w, w->inner->ops->create(w->inner, path, key_type, ret_pub));
}

static int wk_load(ObKeyProvider *p, const char *path, EVP_PKEY **ret_pub)
{
        WatchedKeys *w = (WatchedKeys *)p;
        return watch(w, w->inner->ops->load(w->inner, path, ret_pub));
}

static int wk_sign(ObKeyProvider *p, const char *path, const uint8_t *digest, size_t digest_len,
                   uint8_t **ret_sig, size_t *ret_sig_len)
{
        WatchedKeys *w = (WatchedKeys *)p;
        return watch(w, w->inner->ops->sign_digest(w->inner, path, digest, digest_len, ret_sig,
                                                   ret_sig_len));
}

static int wk_destroy(ObKeyProvider *p, const char *path)
{
        WatchedKeys *w = (WatchedKeys *)p;
        return watch(w, w->inner->ops->destroy(w->inner, path));
}

static const char *wk_tls_provider(ObKeyProvider *p)
{
        WatchedKeys *w = (WatchedKeys *)p;
        return w->inner->ops->tls_provider(w->inner);
}

static const char *wk_last_error(ObKeyProvider *p)
{
        WatchedKeys *w = (WatchedKeys *)p;
        return w->inner->ops->last_error(w->inner);
}

static void wk_free(ObKeyProvider *p)
{
        WatchedKeys *w = (WatchedKeys *)p;
        ob_key_provider_free(w->inner);
        free(w);
}

static const ObKeyProviderOps watched_ops = {
        .create = wk_create,
        .load = wk_load,
        .sign_digest = wk_sign,
        .destroy = wk_destroy,
        .tls_provider = wk_tls_provider,
        .last_error = wk_last_error,
        .free = wk_free,
};

/*
 * The transport, watched the same way: before a TLS connection with a TPM key (which signs
 * through OpenSSL's tpm2 provider, not through our ESAPI context), load the key once through
 * the watched provider. A dead TPM connection then ends the daemon (above) instead of looking
 * like a server that refused our certificate, forever. Costs one TPM load per connection.
 */
typedef struct WatchedTransport {
        ObTransport inner;
        Daemon *daemon;
        ObTransportOps ops; /* the optional operations only where the inner transport has them */
} WatchedTransport;

#ifdef HAVE_TPM
/* Say once when the SRK went transient (no free persistent handle), and once when it is
 * persistent again (a handle was freed: the next SRK use persisted it). */
void ob_daemon_note_srk(Daemon *d)
{
        uint32_t h = d->config->tpm.srk_handle ? d->config->tpm.srk_handle : OB_TPM_DEFAULT_SRK;
        bool transient = ob_tpm_srk_transient(d->tpm);

        if (transient && !d->srk_transient)
                ob_log_warning("No free persistent TPM handle for the storage root key at 0x%08x "
                               "(TPM_RC_NV_SPACE): carrying on with a transient SRK (the same "
                               "key); TLS with the device key needs it persistent. Free a "
                               "persistent handle (tpm2_getcap handles-persistent, "
                               "tpm2_evictcontrol -C o -c HANDLE) and the agent persists it at "
                               "its next TPM use (agentctl check srk, docs/tpm.md)",
                               h);
        else if (!transient && d->srk_transient)
                ob_log_notice("The storage root key is persistent at 0x%08x again", h);
        d->srk_transient = transient;
}
#endif

/* 0, or -ENODEV when the TPM is gone (the daemon is on its way out), or -ENOSPC when the SRK
 * has no persistent handle, where the tpm2 provider looks for the key's parent. */
static int wt_check_tpm(WatchedTransport *w, const ObConnectOptions *o)
{
        ObKeyProvider *k = w->daemon->keys;

        if (k && o->key_file && o->provider && strcmp(o->provider, "tpm2") == 0) {
                EVP_PKEY *pub = NULL;
                int r = k->ops->load(k, o->key_file, &pub);

                EVP_PKEY_free(pub);
                if (r == -ENODEV)
                        return r;
#ifdef HAVE_TPM
                if (w->daemon->tpm) {
                        ob_daemon_note_srk(w->daemon);
                        if (w->daemon->srk_transient && !ob_key_path_is_handle(o->key_file))
                                return -ENOSPC;
                }
#endif
        }
        return 0;
}

static int wt_connect(void *impl, const ObConnectOptions *o)
{
        WatchedTransport *w = impl;
        int r = wt_check_tpm(w, o);

        return r < 0 ? r : w->inner.ops->connect(w->inner.impl, o);
}

static int wt_probe(void *impl, const ObConnectOptions *o)
{
        WatchedTransport *w = impl;
        int r = wt_check_tpm(w, o);

        return r < 0 ? r : w->inner.ops->probe(w->inner.impl, o);
}

static int wt_subscribe_many(void *impl, const char *const *topics, size_t n, int qos,
                             int *ret_token)
{
        WatchedTransport *w = impl;
        return w->inner.ops->subscribe_many(w->inner.impl, topics, n, qos, ret_token);
}

static int wt_subscribe(void *impl, const char *topic, int qos, int *ret_token)
{
        WatchedTransport *w = impl;
        return w->inner.ops->subscribe(w->inner.impl, topic, qos, ret_token);
}

static int wt_publish(void *impl, const char *topic, const void *payload, size_t len, int qos,
                      int *ret_token)
{
        WatchedTransport *w = impl;
        return w->inner.ops->publish(w->inner.impl, topic, payload, len, qos, ret_token);
}

static int wt_disconnect(void *impl)
{
        WatchedTransport *w = impl;
        return w->inner.ops->disconnect(w->inner.impl);
}

static int wt_event_fd(void *impl)
{
        WatchedTransport *w = impl;
        return w->inner.ops->event_fd(w->inner.impl);
}

static int wt_next_event(void *impl, ObTransportEvent *ret)
{
        WatchedTransport *w = impl;
        return w->inner.ops->next_event(w->inner.impl, ret);
}

static void wt_free(void *impl)
{
        WatchedTransport *w = impl;
        ob_transport_free(&w->inner);
        free(w);
}

static const ObTransportOps watched_transport_ops = {
        .connect = wt_connect,
        .subscribe = wt_subscribe,
        .subscribe_many = wt_subscribe_many,
        .probe = wt_probe,
        .publish = wt_publish,
        .disconnect = wt_disconnect,
        .event_fd = wt_event_fd,
        .next_event = wt_next_event,
        .free = wt_free,
};

/* Wrap *t (taken over, also on failure). */
int ob_daemon_watch_transport(Daemon *d, ObTransport *t)
{
        WatchedTransport *w = calloc(1, sizeof(*w));

        if (!w) {
                ob_transport_free(t);
                return -ENOMEM;
        }
        w->inner = *t;
        w->daemon = d;
        w->ops = watched_transport_ops;
        if (!t->ops->subscribe_many)
                w->ops.subscribe_many = NULL;
        if (!t->ops->probe)
                w->ops.probe = NULL;
        *t = (ObTransport){.ops = &w->ops, .impl = w};
        return 0;
}

/* Wrap *keys (taken over, also on failure). */
int ob_daemon_watch_keys(Daemon *d, ObKeyProvider **keys)
{
        WatchedKeys *w = calloc(1, sizeof(*w));

        if (!w) {
                *keys = ob_key_provider_free(*keys);
                return -ENOMEM;
        }
        w->base.ops = &watched_ops;
        w->inner = *keys;
        w->daemon = d;
        *keys = &w->base;
        return 0;
}
#endif
