/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The onboarding state machine (see onboard.h and docs/provisioning.md for the flow).
 *
 * Invariants:
 *   - the stage only moves forward after what it records is on disk (credentials first, then
 *     state.json), and moves back only when the thing it records became useless (an expired
 *     ownership token, a key the TPM no longer accepts);
 *   - every change of activity goes through set_activity(), every failure through fail();
 *   - at most one request is in flight, and a reply is accepted only on the topics of the
 *     request in flight (anything else is counted and ignored).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cert-accept.h"
#include "creds.h"
#include "csr.h"
#include "factory-paths.h"
#include "fleet-proto.h"
#include "health.h"
#include "isotime.h"
#include "log.h"
#include "onboard-private.h"
#include "onboard.h"
#include "retire.h"
#include "x509.h"

/* ------------------------------------------------------------------ names */

const char *const ob_onboard_stage_names[_OB_STAGE_MAX] = {
        [OB_STAGE_NEW] = "new",
        [OB_STAGE_KEY_READY] = "key-ready",
        [OB_STAGE_CERT_ISSUED] = "certificate-issued",
        [OB_STAGE_THING_REGISTERED] = "thing-registered",
        [OB_STAGE_ONBOARDED] = "onboarded",
};

const char *const ob_onboard_activity_names[_OB_ACT_MAX] = {
        [OB_ACT_IDLE] = "starting",
        [OB_ACT_WAIT_CLOCK] = "waiting-for-clock",
        [OB_ACT_WAIT_CLAIM] = "waiting-for-claim",
        [OB_ACT_WAIT_RETRY] = "waiting-to-retry",
        [OB_ACT_CREATE_KEY] = "creating-key",
        [OB_ACT_CONNECT_CLAIM] = "connecting",
        [OB_ACT_SUBSCRIBE] = "subscribing",
        [OB_ACT_REQUEST_CERT] = "requesting-certificate",
        [OB_ACT_REGISTER] = "registering-thing",
        [OB_ACT_VERIFY] = "verifying",
        [OB_ACT_ANNOUNCE] = "announcing",
        [OB_ACT_WAIT_CERT] = "waiting-for-certificate",
        [OB_ACT_WAIT_ACTIVATION] = "waiting-for-activation",
        [OB_ACT_DONE] = "onboarded",
        [OB_ACT_FAILED] = "failed",
};

const char *ob_onboard_stage_to_string(ObOnboardStage s)
{
        return (unsigned)s < _OB_STAGE_MAX ? ob_onboard_stage_names[s] : NULL;
}

int ob_onboard_stage_from_string(const char *s, ObOnboardStage *ret)
{
        for (int i = 0; i < _OB_STAGE_MAX; i++)
                if (s && strcmp(s, ob_onboard_stage_names[i]) == 0) {
                        *ret = (ObOnboardStage)i;
                        return 0;
                }
        return -EINVAL;
}

const char *ob_onboard_activity_to_string(ObOnboardActivity a)
{
        return (unsigned)a < _OB_ACT_MAX ? ob_onboard_activity_names[a] : NULL;
}

/* ------------------------------------------------------------------ small helpers */

void ob_onboard_secret_free(char **p)
{
        *p = ob_secret_free(*p);
}

int ob_onboard_set_str(char **dst, const char *src)
{
        char *n = NULL;

        if (src) {
                n = strdup(src);
                if (!n)
                        return -ENOMEM;
        }
        free(*dst);
        *dst = n;
        return 0;
}

void ob_onboard_notify(ObOnboard *ob, ObOnboardChangeKind kind, const char *fmt, ...)
{
        char text[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        ob_log_debug("onboard: %s", text);
        if (ob->d.changed)
                ob->d.changed(ob, &(ObOnboardChange){.kind = kind, .text = text}, ob->d.userdata);
}

static const char *act_name(ObOnboardActivity a)
{
        const char *n = ob_onboard_activity_to_string(a);
        return n ? n : "?";
}

void ob_onboard_set_activity(ObOnboard *ob, ObOnboardActivity a, int64_t deadline)
{
        ObOnboardActivity from = ob->act;

        if ((unsigned)a >= _OB_ACT_MAX)
                return;
        ob->act = a;
        ob->deadline = deadline;
        if (from != a)
                ob_onboard_notify(ob, OB_CHANGE_ACTIVITY, "%s -> %s", act_name(from), act_name(a));
}

const char *ob_onboard_slot_file(ObOnboard *ob, const char *name, char *buf, size_t size)
{
        _cleanup_free_ char *p = ob_creds_slot_file(ob->c->paths.state_dir, ob->gen, name);

        if (!p || strlen(p) >= size)
                return NULL;
        memcpy(buf, p, strlen(p) + 1);
        return buf;
}

/* ------------------------------------------------------------------ lifecycle */

int ob_onboard_new(const ObOnboardDeps *deps, ObOnboard **ret)
{
        ObOnboard *ob;

        if (!deps || !deps->config || !deps->keys || !deps->transport || !deps->store ||
            !deps->random || !deps->serial)
                return -EINVAL;
        ob = calloc(1, sizeof(*ob));
        if (!ob)
                return -ENOMEM;
        ob->d = *deps;
        ob->c = deps->config;
        ob_backoff_policy_from_config(ob->c, &ob->policy);
        ob_backoff_init(&ob->backoff);
        ob->fmt = ob->c->provisioning.payload_format == OB_PAYLOAD_CBOR ? OB_FLEET_CBOR
                                                                        : OB_FLEET_JSON;
        ob->err_class = -1;
        ob->deadline = -1;
        *ret = ob;
        return 0;
}

static void drop_claim(ObOnboard *ob)
{
        if (ob->claim_temporary) {
                if (ob->claim_key)
                        (void)ob_fs_unlink(ob->d.fs, ob->claim_key);
                if (ob->claim_cert)
                        (void)ob_fs_unlink(ob->d.fs, ob->claim_cert);
        }
        free(ob->claim_cert);
        free(ob->claim_key);
        ob->claim_cert = ob->claim_key = NULL;
        ob->claim_temporary = false;
}

ObOnboard *ob_onboard_free(ObOnboard *ob)
{
        if (!ob)
                return NULL;
        if (ob->connected)
                (void)ob->d.transport->ops->disconnect(ob->d.transport->impl);
        /* a temporary claim is not deleted here: a restart may still need it */
        free(ob->claim_cert);
        free(ob->claim_key);
        free(ob->chain_file);
        free(ob->cert_id);
        ob_onboard_secret_free(&ob->token);
        free(ob->thing_name);
        json_object_put(ob->devconf);
        free(ob->cur_thing);
        free(ob->cur_cert_id);
        free(ob->post_commit_old_id);
        ob_retire_clear(&ob->retired);
        free(ob);
        return NULL;
}

ObOnboardStage ob_onboard_stage(const ObOnboard *ob)
{
        return ob->stage;
}

ObOnboardActivity ob_onboard_activity(const ObOnboard *ob)
{
        return ob->act;
}

int64_t ob_onboard_deadline(const ObOnboard *ob)
{
        return ob->deadline;
}

bool ob_onboard_busy(const ObOnboard *ob)
{
        switch (ob->act) {
        case OB_ACT_CONNECT_CLAIM:
        case OB_ACT_SUBSCRIBE:
        case OB_ACT_REQUEST_CERT:
        case OB_ACT_REGISTER:
        case OB_ACT_VERIFY:
        case OB_ACT_ANNOUNCE:
                return true;
        case OB_ACT_IDLE:
        case OB_ACT_WAIT_CLOCK:
        case OB_ACT_WAIT_CLAIM:
        case OB_ACT_WAIT_RETRY:
        case OB_ACT_WAIT_CERT:
        case OB_ACT_WAIT_ACTIVATION:
        case OB_ACT_CREATE_KEY:
        case OB_ACT_DONE:
        case OB_ACT_FAILED:
        case _OB_ACT_MAX:
                break;
        }
        return false;
}

int ob_onboard_retry_now(ObOnboard *ob, int64_t now_ms, char *err, size_t errsize)
{
        switch (ob->act) {
        case OB_ACT_WAIT_RETRY:
        case OB_ACT_WAIT_ACTIVATION:
        case OB_ACT_WAIT_CERT:
        case OB_ACT_WAIT_CLOCK:
        case OB_ACT_FAILED:
                break;
        case OB_ACT_WAIT_CLAIM:
                snprintf(err, errsize,
                         "waiting for a claim: nothing to retry until one is given (agentctl "
                         "provision, or a file in provisioning.claim_drop_dir)");
                return -EAGAIN;
        case OB_ACT_DONE:
                snprintf(err, errsize, "onboarded: nothing to retry (agentctl rotate renews)");
                return -EALREADY;
        case OB_ACT_IDLE:
        case OB_ACT_CREATE_KEY:
        case OB_ACT_CONNECT_CLAIM:
        case OB_ACT_SUBSCRIBE:
        case OB_ACT_REQUEST_CERT:
        case OB_ACT_REGISTER:
        case OB_ACT_VERIFY:
        case OB_ACT_ANNOUNCE:
        case _OB_ACT_MAX:
                snprintf(err, errsize, "already trying (%s)", act_name(ob->act));
                return -EALREADY;
        }
        ob_onboard_notify(ob, OB_CHANGE_NOTICE, "retry requested while %s: trying now",
                          act_name(ob->act));
        /* the wait ends, the failure count stays (the next failure backs off further); the
         * one-CONNECT-per-second floor still holds (ob_backoff_next_connect_ms) */
        ob->backoff.next_ms = 0;
        return ob_onboard_resume(ob, now_ms);
}

/* ------------------------------------------------------------------ failures */

void ob_onboard_disconnect(ObOnboard *ob)
{
        if (ob->connected || ob_onboard_busy(ob))
                (void)ob->d.transport->ops->disconnect(ob->d.transport->impl);
        ob->connected = false;
        ob->subs_pending = 0;
        memset(ob->topics, 0, sizeof(ob->topics));
}

void ob_onboard_set_error(ObOnboard *ob, int cls, const char *code, const char *text, int64_t now)
{
        snprintf(ob->err_code, sizeof(ob->err_code), "%s", code);
        snprintf(ob->err_text, sizeof(ob->err_text), "%s", text);
        ob->err_class = cls;
        ob->err_ms = now;
}

/* A failed attempt talking to the cloud: record it, back off (persisted), wait in act until the
 * next attempt. soon_ms > 0: retry after soon_ms plus up to as much again of jitter instead of
 * the class's backoff (never sooner than the one-CONNECT-per-second floor). */
void ob_onboard_fail_text(ObOnboard *ob, ObErrClass cls, const char *code, int64_t now,
                          int64_t soon_ms, ObOnboardActivity act, const char *text)
{
        uint64_t delay;
        int64_t next;

        ob_onboard_disconnect(ob);
        ob_onboard_set_error(ob, (int)cls, code, text, now);
        (void)ob_backoff_failure(&ob->backoff, &ob->policy, cls, now, ob->d.random);
        if (soon_ms > 0)
                ob->backoff.next_ms = now + soon_ms +
                                      (int64_t)(ob->d.random->next(ob->d.random->userdata) %
                                                (uint64_t)(soon_ms + 1));
        /* never sooner than the one-CONNECT-per-second floor */
        next = ob_backoff_next_connect_ms(&ob->backoff);
        delay = next > now ? (uint64_t)(next - now) : 0;
        ob_onboard_persist_or_say(ob); /* best effort: the retry timing is advisory after a crash */
        ob_onboard_notify(ob, OB_CHANGE_ERROR, "%s (%s, %s); attempt %u, retrying in %llu.%03llu s",
                          text, code, ob_err_class_to_string(cls), ob->backoff.attempts,
                          (unsigned long long)(delay / 1000), (unsigned long long)(delay % 1000));
        ob_onboard_set_activity(ob, act, next);
}

/* A failed attempt talking to the cloud: record it, back off (persisted), retry later. */
void ob_onboard_fail(ObOnboard *ob, ObErrClass cls, const char *code, int64_t now, const char *fmt,
                     ...)
{
        char text[ERR_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        ob_onboard_fail_text(ob, cls, code, now, 0, OB_ACT_WAIT_RETRY, text);
}

/* Local trouble (TPM busy or locked out, disk full): retry at a fixed pace, no backoff class. */
void ob_onboard_fail_local(ObOnboard *ob, const char *code, int error, int64_t now, const char *fmt,
                           ...)
{
        char text[ERR_TEXT_MAX];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (error && n >= 0 && (size_t)n < sizeof(text))
                snprintf(text + n, sizeof(text) - (size_t)n, ": %s", strerror(-error));

        ob_onboard_disconnect(ob);
        ob_onboard_set_error(ob, -1, code, text, now);
        ob_onboard_persist_or_say(ob);
        ob_onboard_notify(ob, OB_CHANGE_ERROR, "%s (%s); retrying in %llu s", text, code,
                          (unsigned long long)(ob->c->retry.local_ms / 1000));
        ob_onboard_set_activity(ob, OB_ACT_WAIT_RETRY, now + (int64_t)ob->c->retry.local_ms);
}

/* Nothing can change without an operator (a configuration that cannot work). */
void ob_onboard_fail_for_good(ObOnboard *ob, const char *code, int64_t now, const char *fmt, ...)
{
        char text[ERR_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        ob_onboard_disconnect(ob);
        ob_onboard_set_error(ob, -1, code, text, now);
        ob_onboard_persist_or_say(ob);
        ob_onboard_notify(ob, OB_CHANGE_ERROR, "%s (%s); waiting for an operator", text, code);
        ob_onboard_set_activity(ob, OB_ACT_FAILED, -1);
}

/* ------------------------------------------------------------------ stage changes */

/*
 * A failed save keeps the new stage in memory: the callers changed other fields for it first
 * (committed() has moved the pending generation to current), and the old stage with them is a
 * mix that fail_local() would save and the next start refuse. Memory stays one coherent state,
 * the disk keeps the old one until a save succeeds; a restart resumes from either.
 */
int ob_onboard_set_stage(ObOnboard *ob, ObOnboardStage s, int64_t now)
{
        ObOnboardStage from = ob->stage;
        int r;

        ob->stage = s;
        r = ob_onboard_persist(ob);
        if (r < 0) {
                ob_onboard_fail_local(ob, "storage-error", r, now, "cannot save %s", "state.json");
                return r;
        }
        ob_onboard_notify(ob, OB_CHANGE_STAGE, "stage %s -> %s", ob_onboard_stage_names[from],
                          ob_onboard_stage_names[s]);
        return 0;
}

/* Forget the certificate we were given (its token expired, or its key is gone). */
void ob_onboard_discard_pending_cert(ObOnboard *ob)
{
        char path[512];

        if (ob_onboard_slot_file(ob, "device.crt", path, sizeof(path)))
                (void)ob_fs_unlink(ob->d.fs, path);
        if (ob->c->provisioning.create_keys &&
            ob_onboard_slot_file(ob, "device.key", path, sizeof(path)))
                (void)ob_fs_unlink(ob->d.fs, path);
        free(ob->cert_id);
        ob->cert_id = NULL;
        ob_onboard_secret_free(&ob->token);
        ob->token_ms = 0;
        ob->not_before_s = ob->not_after_s = 0;
}

/* ------------------------------------------------------------------ identity and templates */

const char *ob_onboard_hardware_token(ObOnboard *ob)
{
        return ob->d.hardware_token ? ob->d.hardware_token(ob->d.userdata) : NULL;
}

int ob_onboard_expand(ObOnboard *ob, const char *tmpl, char **ret)
{
        const char *thing = ob->thing_name  ? ob->thing_name
                            : ob->cur_thing ? ob->cur_thing
                                            : ob->d.serial;
        /* only a template that names it pays for the token */
        const char *token = strstr(tmpl, "{hardware_token}") ? ob_onboard_hardware_token(ob) : NULL;
        const char *vars[] = {
                "serial",
                ob->d.serial,
                "machine_id",
                ob->d.machine_id ? ob->d.machine_id : "",
                "hardware_token",
                token ? token : "",
                "thing_name",
                thing,
                NULL,
        };

        return ob_config_template_expand(tmpl, vars, ret);
}

int ob_onboard_expand_or_fail(ObOnboard *ob, const char *tmpl, const char *key, const char *code,
                              int64_t now, char **ret)
{
        int r = ob_onboard_expand(ob, tmpl, ret);

        if (r < 0)
                ob_onboard_fail_for_good(ob, code, now, "%s cannot be expanded", key);
        return r;
}

/* ------------------------------------------------------------------ the key */

int ob_onboard_csr_sign(void *userdata, const uint8_t *digest, size_t digest_len, uint8_t **ret_sig,
                        size_t *ret_sig_len)
{
        ObOnboard *ob = userdata;
        char path[512];

        if (!ob_onboard_slot_file(ob, "device.key", path, sizeof(path)))
                return -ENAMETOOLONG;
        return ob->d.keys->ops->sign_digest(ob->d.keys, path, digest, digest_len, ret_sig,
                                            ret_sig_len);
}

bool ob_onboard_key_error_is_local_trouble(int r)
{
        /* the TPM is there but cannot serve us now: retry; anything else means the blob is
         * unusable here (corrupt, made under another SRK, TPM cleared) */
        return r == -ENODEV || r == -ENOLCK || r == -EBUSY || r == -EAGAIN || r == -EACCES ||
               r == -ENOMEM || r == -EIO || r == -ENOSPC || r == -EROFS;
}

/* Make sure the slot's device key exists and is usable; *ret_pub gets its public key. */
int ob_onboard_ensure_key(ObOnboard *ob, int64_t now, EVP_PKEY **ret_pub)
{
        ObKeyProvider *k = ob->d.keys;
        char path[512];
        int r;

        if (ob->gen == 0)
                ob->gen = ob->cur_gen + 1;
        r = ob_creds_slot_create(ob->c->paths.state_dir, ob->gen, ob->d.fs);
        if (r < 0) {
                ob_onboard_fail_local(ob, "storage-error", r, now,
                                      "cannot create credential slot %llu",
                                      (unsigned long long)ob->gen);
                return r;
        }
        if (!ob_onboard_slot_file(ob, "device.key", path, sizeof(path)))
                return -ENAMETOOLONG;

        r = k->ops->load(k, path, ret_pub);
        if (r == 0)
                return 0;
        if (r != -ENOENT) {
                if (ob_onboard_key_error_is_local_trouble(r)) {
                        ob_onboard_fail_local(ob, "key-unavailable", 0, now, "device key: %s",
                                              k->ops->last_error(k));
                        return r;
                }
                ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                                  "device key %s is unusable (%s); creating a new one", path,
                                  k->ops->last_error(k));
                (void)k->ops->destroy(k, path);
                if (ob->stage >= OB_STAGE_CERT_ISSUED)
                        ob_onboard_discard_pending_cert(ob);
        }

        ob_onboard_set_activity(ob, OB_ACT_CREATE_KEY, -1);
        r = k->ops->create(k, path, ob->c->key.type, ret_pub);
        if (r < 0) {
                ob_onboard_fail_local(ob, "key-create-failed", 0, now,
                                      "cannot create the device key: %s", k->ops->last_error(k));
                return r;
        }
        ob_onboard_notify(ob, OB_CHANGE_NOTICE, "created the device key %s", path);
        return 0;
}

/* ------------------------------------------------------------------ connecting */

const char *ob_onboard_iso_text(int64_t s, char *buf, size_t size)
{
        ob_isotime_format(s, buf, size);
        return buf;
}

static bool claim_usable(ObOnboard *ob, int64_t now, char *why, size_t whysize, bool *expired)
{
        char t[32];
        X509 *x = NULL;
        int64_t nb, na;
        int r;

        *expired = false;
        if (!ob->claim_cert || !ob->claim_key) {
                snprintf(why, whysize, "no claim certificate");
                return false;
        }
        r = ob_x509_from_file_with(ob->d.fs, ob->claim_cert, &x);
        if (r < 0) {
                snprintf(why, whysize, "claim certificate %s: %s", ob->claim_cert,
                         r == -EBADMSG ? "not a PEM certificate" : strerror(-r));
                return false;
        }
        r = ob_x509_validity(x, &nb, &na);
        X509_free(x);
        if (r < 0) {
                snprintf(why, whysize, "claim certificate %s: no validity", ob->claim_cert);
                return false;
        }
        if (now / 1000 < nb) {
                snprintf(why, whysize,
                         "claim certificate %s is not valid before %s (check the clock)",
                         ob->claim_cert, ob_onboard_iso_text(nb, t, sizeof(t)));
                return false;
        }
        if (now / 1000 > na) {
                snprintf(why, whysize, "claim certificate %s expired at %s", ob->claim_cert,
                         ob_onboard_iso_text(na, t, sizeof(t)));
                *expired = true;
                return false;
        }
        return true;
}

/* The provider for the TLS key at path: "tpm2" for a persistent key ("handle:0x...") or a TSS2
 * PEM file, else "default". */
static const char *key_file_provider(const ObFsOps *fs, const char *path)
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

int ob_onboard_connect_claim(ObOnboard *ob, int64_t now)
{
        char why[300];
        bool expired;

        if (!claim_usable(ob, now, why, sizeof(why), &expired)) {
                if (ob->c->provisioning.method == OB_METHOD_FLEET_TRUSTED_USER) {
                        drop_claim(ob);
                        ob_onboard_set_error(ob, -1, expired ? "claim-expired" : "claim-unusable",
                                             why, now);
                        ob_onboard_persist_or_say(ob);
                        ob_onboard_notify(ob, OB_CHANGE_ERROR, "%s; waiting for a new claim", why);
                        ob_onboard_set_activity(ob, OB_ACT_WAIT_CLAIM, -1);
                        return 0;
                }
                ob_onboard_fail(ob, OB_ERR_REJECTED, expired ? "claim-expired" : "claim-unusable",
                                now, "%s", why);
                return 0;
        }
        return ob_onboard_connect_to(ob, ob->claim_cert, ob->claim_key,
                                     key_file_provider(ob->d.fs, ob->claim_key),
                                     OB_ACT_CONNECT_CLAIM, now);
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
        _cleanup_free_ char *crt =
                ob_creds_slot_file(ob->c->paths.state_dir, ob->cur_gen, "device.crt");
        _cleanup_free_ char *key = ob_onboard_factory_key_path(ob, ob->cur_gen);

        if (!crt || !key)
                return -ENOMEM;
        return ob_onboard_connect_to(ob, crt, key, key_file_provider(ob->d.fs, key),
                                     OB_ACT_CONNECT_CLAIM, now);
}

/* ------------------------------------------------------------------ the decision */

/* The template RegisterThing uses: rotation.template during a rotation, if set. */
const char *ob_onboard_template_name(const ObOnboard *ob)
{
        if (ob->rotating && ob->c->rotation.template_name)
                return ob->c->rotation.template_name;
        return ob->c->provisioning.template_name;
}

int64_t ob_onboard_next_rotation(const ObOnboard *ob)
{
        int64_t nb = ob->cur_not_before_s, na = ob->cur_not_after_s, due;

        if (ob->cur_gen == 0 || !ob->c->rotation.enabled || na <= nb ||
            !ob_onboard_can_rotate(ob->c))
                return -1;
        if (ob->rotate_requested)
                return 0;
        /* the policy (shared with agentctl check): the earliest of a fraction of the lifetime,
         * days before notAfter (never before half the life) and the maximum age */
        if (ob_health_rotation_due(nb, na, ob->c->rotation.lifetime_fraction,
                                   ob->c->rotation.days_before_expiry, ob->c->rotation.max_age_days,
                                   &due) < 0)
                due = nb + (na - nb) / 2;
        /* never sooner after the commit than halfway to notAfter (and at most a day): a
         * backdated notBefore, a skewed clock or an aggressive policy must not make every new
         * certificate due at once, minting certificates in a loop */
        if (ob->onboarded_ms > 0) {
                int64_t commit = ob->onboarded_ms / 1000;
                int64_t gap = na > commit ? (na - commit) / 2 : 0;

                if (gap > 86400)
                        gap = 86400;
                if (due < commit + gap)
                        due = commit + gap;
        }
        return due * 1000;
}

bool ob_onboard_rotating(const ObOnboard *ob)
{
        return ob->rotating;
}

/* The fingerprint guard: credentials/current still holds the certificate the state names. */
bool ob_onboard_current_cert_unchanged(ObOnboard *ob, char *why, size_t whysize)
{
        _cleanup_free_ char *path =
                ob_creds_slot_file(ob->c->paths.state_dir, ob->cur_gen, "device.crt");
        char fp[65];
        X509 *x = NULL;
        int r;

        if (!path || ob_x509_from_file_with(ob->d.fs, path, &x) < 0) {
                snprintf(why, whysize, "the current certificate cannot be read");
                return false;
        }
        r = ob_x509_fingerprint_hex(x, fp, sizeof(fp));
        X509_free(x);
        if (r < 0 || !ob->cur_cert_id || strcmp(fp, ob->cur_cert_id) != 0) {
                snprintf(why, whysize,
                         "the current certificate changed underneath the agent (it is not "
                         "%.12s... any more)",
                         ob->cur_cert_id ? ob->cur_cert_id : "?");
                return false;
        }
        return true;
}

/* Forget a rotation's slot N+1: the current identity stays what it was. */
static void abandon_rotation_slot(ObOnboard *ob)
{
        ob_onboard_discard_pending_cert(ob);
        free(ob->thing_name);
        ob->thing_name = NULL;
        json_object_put(ob->devconf);
        ob->devconf = NULL;
        if (ob->gen > 0 && ob->gen != ob->cur_gen) {
                char path[512];

                if (ob_onboard_slot_file(ob, "device.key", path, sizeof(path)))
                        (void)ob->d.keys->ops->destroy(ob->d.keys, path);
                (void)ob_creds_remove_slot(ob->c->paths.state_dir, ob->gen, ob->d.fs);
        }
        ob->gen = 0;
}

/* After the grace period, the keys and certificates rotations retired are deleted: every
 * retired slot on disk, however many rotations committed within the grace (lib/retire.h). */
void ob_onboard_sweep_retired(ObOnboard *ob, int64_t now)
{
        ObRetireSweep s = {
                .state_dir = ob->c->paths.state_dir,
                .fs = ob->d.fs,
                .keys = ob->d.keys,
                .current = ob->cur_gen,
                .pending = ob->gen, /* a slot being built (0: none) */
                .grace_ms = (int64_t)ob->c->rotation.old_key_grace_days * 86400 * 1000,
        };
        ObRetireResult res;

        if (ob->cur_gen == 0 || !ob_onboard_clock_plausible(ob, now) ||
            ob_retire_sweep(&ob->retired, &s, now, &res) < 0)
                return;
        if (res.deleted > 0)
                ob_onboard_notify(
                        ob, OB_CHANGE_NOTICE,
                        "deleted the keys and certificates of %u retired generation(s) (%llu..%llu)",
                        res.deleted, (unsigned long long)res.first, (unsigned long long)res.last);
        if (res.error < 0)
                ob_onboard_notify(
                        ob, OB_CHANGE_NOTICE,
                        "cannot delete retired credential generation %llu: %s (trying again later)",
                        (unsigned long long)res.error_gen, strerror(-res.error));
        if (res.changed)
                ob_onboard_persist_or_say(ob);
}

/* Onboarded and idle: sleep until the next rotation (or the next retired slot's deletion). */
void ob_onboard_idle(ObOnboard *ob, int64_t now)
{
        int64_t next = ob_onboard_next_rotation(ob);
        int64_t grace = (int64_t)ob->c->rotation.old_key_grace_days * 86400 * 1000, gone;

        ob_onboard_sweep_retired(ob, now);
        gone = ob_retire_next_due(&ob->retired, grace);
        if (gone >= 0 && (next < 0 || gone < next))
                next = gone;
        ob_onboard_set_activity(ob, OB_ACT_DONE, next);
}

bool ob_onboard_clock_plausible(const ObOnboard *ob, int64_t now)
{
        return now >= ob->d.build_epoch_ms;
}

/* No certificate decision on a clock that is not set (a board without RTC boots in 1970). */
void ob_onboard_wait_for_clock(ObOnboard *ob, int64_t now)
{
        if (ob->act != OB_ACT_WAIT_CLOCK)
                ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                                  "the wall clock is before the build date: waiting for time "
                                  "synchronization before any certificate decision");
        ob_onboard_set_activity(ob, OB_ACT_WAIT_CLOCK, now + OB_ONBOARD_CLOCK_RETRY_MS);
}

bool ob_onboard_token_fresh(const ObOnboard *ob, int64_t now)
{
        return ob->token && now - ob->token_ms < OB_ONBOARD_TOKEN_LIFETIME_MS &&
               now >= ob->token_ms;
}

/* ------------------------------------------------------------------ committing */

static void announce_done(ObOnboard *ob, int64_t now)
{
        ob_onboard_disconnect(ob);
        ob_onboard_idle(ob, now);
}

/* Rotation: tell the cloud side which certificate may be deactivated (best effort). */
bool ob_onboard_announce(ObOnboard *ob, const char *old_id, int64_t now)
{
        _cleanup_free_ char *topic = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *text;
        int token, r;

        if (!ob->c->rotation.old_cert_topic ||
            ob_onboard_expand(ob, ob->c->rotation.old_cert_topic, &topic) < 0)
                return false;
        o = json_object_new_object();
        if (!o)
                return false;
        json_object_object_add(o, "oldCertificateId", json_object_new_string(old_id));
        json_object_object_add(o, "newCertificateId", json_object_new_string(ob->cur_cert_id));
        if (ob->cur_thing)
                json_object_object_add(o, "thingName", json_object_new_string(ob->cur_thing));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        r = ob->d.transport->ops->publish(ob->d.transport->impl, topic, text, strlen(text), 1,
                                          &token);
        if (r < 0) {
                ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                                  "cannot publish the old certificate id to %s: %s", topic,
                                  strerror(-r));
                return false;
        }
        ob_onboard_set_activity(ob, OB_ACT_ANNOUNCE,
                                now + (int64_t)ob->c->endpoint.step_timeout_ms);
        return true;
}

void ob_onboard_committed(ObOnboard *ob, int64_t now)
{
        _cleanup_free_ char *old_id = NULL;
        bool rotation = ob->rotating;
        uint64_t old_gen = ob->cur_gen;
        char why[200];
        int r;

        if (rotation && !ob_onboard_current_cert_unchanged(ob, why, sizeof(why))) {
                /* someone replaced the credentials: do not overwrite what they did */
                abandon_rotation_slot(ob);
                ob->rotating = false;
                ob->rotate_requested = false;
                if (ob_onboard_set_stage(ob, OB_STAGE_ONBOARDED, now) < 0)
                        return;
                ob_onboard_fail_for_good(ob, "rotation-aborted", now, "%s: rotation abandoned",
                                         why);
                return;
        }
        r = ob_creds_commit(ob->c->paths.state_dir, ob->gen, ob->d.fs);
        if (r < 0) {
                ob_onboard_fail_local(ob, "storage-error", r, now,
                                      "cannot switch credentials/current to %llu",
                                      (unsigned long long)ob->gen);
                return;
        }
        old_id = ob->cur_cert_id ? strdup(ob->cur_cert_id) : NULL;
        ob->cur_gen = ob->gen;
        if (ob->thing_name) {
                free(ob->cur_thing);
                ob->cur_thing = TAKE_PTR(ob->thing_name);
        }
        free(ob->cur_cert_id);
        ob->cur_cert_id = TAKE_PTR(ob->cert_id);
        ob->cur_not_before_s = ob->not_before_s;
        ob->cur_not_after_s = ob->not_after_s;
        ob->onboarded_ms = now;
        ob->gen = 0;
        ob->not_before_s = ob->not_after_s = 0;
        json_object_put(ob->devconf);
        ob->devconf = NULL;
        ob->err_code[0] = 0;
        ob->err_text[0] = 0;
        ob->err_class = -1;
        ob->err_ms = 0;
        ob->refusals = 0;
        if (!rotation)
                ob_onboard_drop_chain_file(ob); /* from now on the certificate goes alone */
        if (rotation) {
                (void)ob_retire_add(&ob->retired, old_gen, now); /* else found on disk later */
                ob->rotating = false;
                ob->rotate_requested = false;
                ob_backoff_init(&ob->backoff);
        }
        ob->post_commit = rotation ? POST_COMMIT_ROTATED : POST_COMMIT_ONBOARDED;
        free(ob->post_commit_old_id);
        ob->post_commit_old_id = TAKE_PTR(old_id);
        r = ob_onboard_set_stage(ob, OB_STAGE_ONBOARDED, now);
        if (r < 0)
                return; /* the retry saves it, then announces (resume()) */
        ob_onboard_after_commit(ob, now);
}

/* What a saved commit announces: the rotation (to the cloud on the verifying session, if it is
 * still there, and to the daemon's hook), or the onboarding. Once. */
void ob_onboard_after_commit(ObOnboard *ob, int64_t now)
{
        _cleanup_free_ char *old_id = TAKE_PTR(ob->post_commit_old_id);
        bool rotation = ob->post_commit == POST_COMMIT_ROTATED;

        ob->post_commit = POST_COMMIT_NONE;
        if (rotation) {
                ob_onboard_notify(
                        ob, OB_CHANGE_ROTATED,
                        "rotated: certificate %.12s... (generation %llu) replaces %.12s...",
                        ob->cur_cert_id, (unsigned long long)ob->cur_gen, old_id ? old_id : "?");
                if (old_id && ob->connected && ob_onboard_announce(ob, old_id, now))
                        return; /* disconnects when the cloud acknowledged */
                if (old_id && !ob->connected && ob->c->rotation.old_cert_topic)
                        ob_onboard_notify(
                                ob, OB_CHANGE_NOTICE,
                                "certificate %.12s... was not announced on rotation.old_cert_topic: "
                                "the commit was saved only on a retry, without the connection",
                                old_id);
                announce_done(ob, now);
                return;
        }

        ob_onboard_disconnect(ob);
        ob_onboard_idle(ob, now);
        if (ob->claim_temporary) {
                drop_claim(ob);
        } else if (ob->c->provisioning.delete_claim && ob->claim_cert) {
                if (ob_fs_unlink(ob->d.fs, ob->claim_key) < 0 ||
                    ob_fs_unlink(ob->d.fs, ob->claim_cert) < 0)
                        ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                                          "cannot delete the claim credentials: %s",
                                          strerror(errno));
                else
                        ob_onboard_notify(ob, OB_CHANGE_NOTICE, "deleted the claim credentials");
        }
        ob_onboard_notify(ob, OB_CHANGE_ONBOARDED, "onboarded as %s (certificate %.12s...)",
                          ob->cur_thing ? ob->cur_thing : ob->d.serial, ob->cur_cert_id);
}

/* ------------------------------------------------------------------ transport events */

static int topic_index(const ObOnboard *ob, const char *topic)
{
        for (int i = 0; i < N_TOPICS; i++)
                if (ob->topics[i][0] && strcmp(ob->topics[i], topic) == 0)
                        return i;
        return -1;
}

/* Whose policy refused the provisioning topics: a rotation subscribes with the device's own
 * certificate, so the device policy must allow them (docs/rotation.md), not the claim policy. */
static const char *subscribe_blame(const ObOnboard *ob)
{
        return ob->rotating ? "the device's policy does not allow the provisioning topics "
                              "(a rotation connects with the current certificate: "
                              "docs/rotation.md), or rotation.template is wrong"
                            : "the claim policy does not allow it, or provisioning.template is "
                              "wrong";
}

/* What a failed connection was (lib/conn-outcome.h): the transport's observation, and for a
 * close before CONNACK the timing only the engine knows (how long the attempt took, how soon
 * after the previous CONNECT of the same client id it began). */
static ObConnCause connect_outcome(const ObOnboard *ob, const ObTransportEvent *ev, int64_t now,
                                   ObErrClass *cls, char *detail, size_t size)
{
        ObConnCause cause = ev->cause;

        *cls = ev->err_class;
        snprintf(detail, size, "%s", ev->detail);
        if (cause != OB_CONN_CLOSED || ob->attempt_ms <= 0)
                return cause;
        cause = ob_conn_classify_close(
                now - ob->attempt_ms, (int64_t)ob->c->endpoint.connect_timeout_ms,
                ob->prev_connect_ms > 0 ? ob->attempt_ms - ob->prev_connect_ms : -1);
        *cls = ob_conn_cause_class(cause);
        if (cause == OB_CONN_NO_CONNACK)
                snprintf(detail, size,
                         "no CONNACK within %llu ms: the server took TLS and never "
                         "answered the CONNECT (%.150s)",
                         (unsigned long long)ob->c->endpoint.connect_timeout_ms, ev->detail);
        else if (cause == OB_CONN_THROTTLED)
                snprintf(detail, size,
                         "closed before CONNACK %lld ms after the previous CONNECT "
                         "of this client id: throttled (AWS allows one per second)",
                         (long long)(ob->attempt_ms - ob->prev_connect_ms));
        return cause;
}

int ob_onboard_handle_event(ObOnboard *ob, const ObTransportEvent *ev, int64_t now_ms)
{
        char detail[sizeof(ev->detail)];
        ObConnCause cause;
        ObErrClass cls;
        int i;

        switch (ev->type) {
        case OB_TEV_CONNECTED:
                ob->connected = true;
                ob_backoff_success(&ob->backoff, now_ms);
                /* the 1 s floor counts from when the broker saw the CONNECT, which is after
                 * the TLS handshake: count from the CONNACK, so the next CONNECT is surely
                 * more than a second later (AWS refuses the second one otherwise) */
                ob_backoff_connect_attempt(&ob->backoff, now_ms);
                if (ob->act == OB_ACT_CONNECT_CLAIM)
                        return ob_onboard_subscribe_all(ob, now_ms);
                if (ob->act == OB_ACT_VERIFY) {
                        ob_onboard_committed(ob, now_ms);
                        return 0;
                }
                break;
        case OB_TEV_CONNECT_FAILED:
                cause = connect_outcome(ob, ev, now_ms, &cls, detail, sizeof(detail));
                /* a refused or throttled CONNECT reached the broker: the 1 s floor counts from
                 * its answer, like a CONNACK (the broker's clock started no earlier) */
                if (cls == OB_ERR_REFUSED || cls == OB_ERR_THROTTLED)
                        ob_backoff_connect_attempt(&ob->backoff, now_ms);
                if (ob->act == OB_ACT_VERIFY && ob_onboard_factory_method(ob) && !ob->rotating &&
                    cls == OB_ERR_REFUSED && ob_conn_cause_may_be_pending(cause))
                        ob_onboard_factory_refused(ob, detail, now_ms);
                else if (ob->act == OB_ACT_VERIFY && ob_onboard_factory_method(ob) && !ob->rotating)
                        /* an alert, a throttle, a timeout: not a registration in progress */
                        ob_onboard_fail(ob, cls,
                                        cls == OB_ERR_REFUSED ? "certificate-refused"
                                                              : "connect-failed",
                                        now_ms, "connecting with the device certificate failed: %s",
                                        detail);
                else if (ob->act == OB_ACT_CONNECT_CLAIM)
                        ob_onboard_fail(ob, cls, "connect-failed", now_ms,
                                        "connecting with the %s certificate failed: %s",
                                        ob->rotating ? "current" : "claim", detail);
                else if (ob->act == OB_ACT_VERIFY && ob->rotating && cls == OB_ERR_REFUSED &&
                         ++ob->verify_refusals >= OB_ONBOARD_ROLLBACK_REFUSALS) {
                        /* the cloud will not take the new certificate: roll back, the current
                         * identity never stopped working; try again later from a new key */
                        ob->verify_refusals = 0;
                        abandon_rotation_slot(ob);
                        if (ob_onboard_set_stage(ob, OB_STAGE_NEW, now_ms) < 0)
                                break;
                        ob_onboard_fail(
                                ob, cls, "rotation-rolled-back", now_ms,
                                "the new certificate was refused (%s): rolled back, the current "
                                "one stays in use",
                                detail);
                } else if (ob->act == OB_ACT_VERIFY)
                        ob_onboard_fail(ob, cls, "verify-failed", now_ms,
                                        "connecting with the new certificate failed: %s", detail);
                break;
        case OB_TEV_SUBSCRIBED:
                if (ob->act != OB_ACT_SUBSCRIBE)
                        break;
                for (i = 0; i < N_TOPICS; i++)
                        if (ob->sub_tokens[i] == ev->token)
                                break;
                if (i < N_TOPICS && --ob->subs_pending == 0)
                        return ob_onboard_send_request(ob, now_ms);
                break;
        case OB_TEV_SUBSCRIBE_FAILED:
                if (ob->act != OB_ACT_SUBSCRIBE)
                        break;
                for (i = 0; i < N_TOPICS; i++)
                        if (ob->sub_tokens[i] == ev->token)
                                break;
                if (ob->subs_batched && !ev->detail[0]) {
                        /* AWS IoT answers a SUBSCRIBE its policy forbids on MQTT 3.1.1 by
                         * closing the connection, with no SUBACK (docs/emulator.md) */
                        ob_onboard_fail(
                                ob, OB_ERR_REFUSED, "subscribe-refused", now_ms,
                                "the connection closed on the SUBSCRIBE to %s and %s (AWS IoT closes "
                                "it when the policy does not allow a topic): %s",
                                ob->topics[0], ob->topics[2], subscribe_blame(ob));
                        break;
                }
                ob_onboard_fail(ob, OB_ERR_REFUSED, "subscribe-refused", now_ms,
                                "subscription to %s refused: %s",
                                ob->subs_batched ? (ev->detail[0] ? ev->detail : "a reply topic")
                                : i < N_TOPICS   ? ob->topics[i]
                                                 : "a reply topic",
                                subscribe_blame(ob));
                break;
        case OB_TEV_PUBLISHED:
                if (ob->act == OB_ACT_ANNOUNCE) {
                        ob_onboard_notify(ob, OB_CHANGE_NOTICE, "published the old certificate id");
                        announce_done(ob, now_ms);
                }
                break;
        case OB_TEV_PUBLISH_FAILED:
                if (ob->act == OB_ACT_REQUEST_CERT || ob->act == OB_ACT_REGISTER)
                        ob_onboard_fail(ob, OB_ERR_NETWORK, "publish-failed", now_ms,
                                        "publish failed: %s", ev->detail);
                break;
        case OB_TEV_MESSAGE:
                i = ev->topic ? topic_index(ob, ev->topic) : -1;
                if (i < 0 || (ob->act == OB_ACT_REQUEST_CERT && i > 1) ||
                    (ob->act == OB_ACT_REGISTER && i < 2) ||
                    (ob->act != OB_ACT_REQUEST_CERT && ob->act != OB_ACT_REGISTER)) {
                        ob->ignored_messages++;
                        ob_log_debug("onboard: ignoring a message on %s",
                                     ev->topic ? ev->topic : "?");
                        break;
                }
                if (i == 0)
                        ob_onboard_on_cert_reply(ob, ev, now_ms);
                else if (i == 1)
                        ob_onboard_rejected(ob,
                                            ob->c->provisioning.create_keys
                                                    ? "CreateKeysAndCertificate"
                                                    : "CreateCertificateFromCsr",
                                            ev, now_ms);
                else if (i == 2)
                        ob_onboard_on_register_reply(ob, ev, now_ms);
                else
                        ob_onboard_rejected(ob, "RegisterThing", ev, now_ms);
                break;
        case OB_TEV_MESSAGE_DROPPED:
                if (ob->act == OB_ACT_REQUEST_CERT || ob->act == OB_ACT_REGISTER)
                        ob_onboard_fail(ob, OB_ERR_REJECTED, "bad-reply", now_ms,
                                        "a reply was dropped: %s", ev->detail);
                break;
        case OB_TEV_CONNECTION_LOST:
                ob->connected = false;
                if (ob->act == OB_ACT_ANNOUNCE)
                        announce_done(ob, now_ms); /* committed already: nothing to retry */
                else if (ob_onboard_busy(ob))
                        ob_onboard_fail(ob, OB_ERR_NETWORK, "connection-lost", now_ms,
                                        "the connection was lost while %s: %s",
                                        ob_onboard_activity_names[ob->act], ev->detail);
                break;
        }
        return 0;
}

int ob_onboard_tick(ObOnboard *ob, int64_t now_ms)
{
        if (ob->deadline < 0 || now_ms < ob->deadline)
                return 0;
        switch (ob->act) {
        case OB_ACT_CONNECT_CLAIM:
        case OB_ACT_SUBSCRIBE:
        case OB_ACT_REQUEST_CERT:
        case OB_ACT_REGISTER:
        case OB_ACT_VERIFY:
                ob_onboard_fail(ob, OB_ERR_TIMEOUT, "timeout", now_ms,
                                "no answer while %s within %llu s",
                                ob_onboard_activity_names[ob->act],
                                (unsigned long long)((ob->act == OB_ACT_CONNECT_CLAIM ||
                                                                      ob->act == OB_ACT_VERIFY
                                                              ? ob->c->endpoint.connect_timeout_ms
                                                              : ob->c->endpoint.step_timeout_ms) /
                                                     1000));
                return 0;
        case OB_ACT_ANNOUNCE:
                ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                                  "the old certificate id was not acknowledged in time");
                announce_done(ob, now_ms);
                return 0;
        case OB_ACT_WAIT_CLOCK:
        case OB_ACT_WAIT_RETRY:
        case OB_ACT_WAIT_CERT:
        case OB_ACT_WAIT_ACTIVATION:
        case OB_ACT_IDLE:
        case OB_ACT_DONE:
                return ob_onboard_resume(ob, now_ms);
        case OB_ACT_WAIT_CLAIM:
        case OB_ACT_CREATE_KEY:
        case OB_ACT_FAILED:
        case _OB_ACT_MAX:
                break;
        }
        return 0;
}

/* Why a device without an identity cannot rotate, and what the operator does about it. */
static void not_onboarded_text(const ObOnboard *ob, char *err, size_t errsize)
{
        ObProvisioningMethod m = ob->c->provisioning.method;
        const char *next = "";

        if (ob->decommissioned) {
                snprintf(err, errsize,
                         "decommissioned: there is no identity to renew; 'agentctl reprovision' "
                         "onboards again");
                return;
        }
        if (m == OB_METHOD_STATIC)
                next = "a static device first connects with its factory certificate "
                       "('agentctl factory status' checks it)";
        else if (m == OB_METHOD_JITP)
                next = "a jitp device is registered by its first connect with its factory "
                       "certificate (the CA's template)";
        else if (m == OB_METHOD_JITR)
                next = "a jitr device waits until its certificate is activated "
                       "(update-certificate --new-status ACTIVE)";
        else
                next = "fleet provisioning gets the first certificate";
        snprintf(err, errsize,
                 "not onboarded yet, nothing to rotate: %s; 'agentctl status' says what it waits "
                 "for. Rotate once it says onboarded%s",
                 next,
                 ob_onboard_can_rotate(ob->c) ? "" : "; renewal also needs rotation.template");
}

int ob_onboard_rotate_now(ObOnboard *ob, int64_t now_ms, char *err, size_t errsize)
{
        if (ob->cur_gen == 0) {
                not_onboarded_text(ob, err, errsize);
                return -EAGAIN;
        }
        if (ob->rotating) {
                snprintf(err, errsize, "a rotation is already running (stage %s)",
                         ob_onboard_stage_names[ob->stage]);
                return -EALREADY;
        }
        if (!ob_onboard_can_rotate(ob->c)) {
                snprintf(err, errsize,
                         "provisioning.method %s renews certificates through fleet provisioning "
                         "only: set rotation.template (or provisioning.template)",
                         ob_provisioning_method_to_string(ob->c->provisioning.method));
                return -EOPNOTSUPP;
        }
        ob->rotate_requested = true;
        ob->backoff.next_ms = 0;
        ob_onboard_persist_or_say(ob);
        ob->request_unsaved = ob->save_error < 0;
        if (ob->save_error < 0) /* taken, but only in memory: the operator must know */
                snprintf(err, errsize,
                         "the request could not be saved to %s/state.json (%s): it is lost if "
                         "the daemon stops before the rotation starts",
                         ob->c->paths.state_dir, strerror(-ob->save_error));
        /* the request is taken: what its first step meets (a failed connect, scheduled for a
         * retry) is the rotation's, reported by status, not a refusal of the request */
        if (ob->act == OB_ACT_DONE || ob->act == OB_ACT_FAILED)
                (void)ob_onboard_resume(ob, now_ms);
        return 0;
}
