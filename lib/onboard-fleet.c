/* SPDX-License-Identifier: Apache-2.0 */
/* Fleet provisioning: its flow (for the first identity and for every rotation), the claims it
 * connects with, the requests (CreateCertificateFromCsr, CreateKeysAndCertificate,
 * RegisterThing) and their replies, the trusted user's temporary claim, and the fleet-claim and
 * fleet-trusted-user table rows. */
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
#include "onboard-connect.h"
#include "onboard-fleet.h"
#include "onboard-heal.h"
#include "onboard-key.h"
#include "onboard-method.h"
#include "onboard-private.h"
#include "onboard-rotate.h"
#include "onboard.h"
#include "retire.h"
#include "x509.h"

/* ------------------------------------------------------------------ requests */

int ob_onboard_subscribe_all(ObOnboard *ob, int64_t now)
{
        const char *tmpl = ob_onboard_template_name(ob);
        ObFleetOp req =
                ob->c->provisioning.create_keys ? OB_FLEET_CREATE_KEYS : OB_FLEET_CREATE_FROM_CSR;
        int r;

        r = ob_fleet_topic(req, ob->fmt, NULL, OB_FLEET_ACCEPTED, ob->topics[0],
                           sizeof(ob->topics[0]));
        if (r >= 0)
                r = ob_fleet_topic(req, ob->fmt, NULL, OB_FLEET_REJECTED, ob->topics[1],
                                   sizeof(ob->topics[1]));
        if (r >= 0)
                r = ob_fleet_topic(OB_FLEET_REGISTER_THING, ob->fmt, tmpl, OB_FLEET_ACCEPTED,
                                   ob->topics[2], sizeof(ob->topics[2]));
        if (r >= 0)
                r = ob_fleet_topic(OB_FLEET_REGISTER_THING, ob->fmt, tmpl, OB_FLEET_REJECTED,
                                   ob->topics[3], sizeof(ob->topics[3]));
        if (r < 0) {
                ob_onboard_fail_for_good(
                        ob, "bad-template-name", now,
                        "provisioning.template \"%s\" is not a valid template name",
                        tmpl ? tmpl : "");
                return r;
        }
        ob_onboard_set_activity(ob, OB_ACT_SUBSCRIBE,
                                now + (int64_t)ob->c->endpoint.step_timeout_ms);
        ob->subs_batched = ob->d.transport->ops->subscribe_many != NULL;
        if (ob->subs_batched) {
                const char *filters[N_TOPICS];

                for (int i = 0; i < N_TOPICS; i++) {
                        filters[i] = ob->topics[i];
                        ob->sub_tokens[i] = -1; /* only [0]: the one SUBSCRIBE's token */
                }
                ob->subs_pending = 1;
                r = ob->d.transport->ops->subscribe_many(ob->d.transport->impl, filters, N_TOPICS,
                                                         1, &ob->sub_tokens[0]);
                if (r < 0) {
                        ob_onboard_fail(ob, OB_ERR_NETWORK, "subscribe-failed", now,
                                        "cannot subscribe to the reply topics: %s", strerror(-r));
                        return r;
                }
                return 0;
        }
        ob->subs_pending = N_TOPICS;
        for (int i = 0; i < N_TOPICS; i++) {
                r = ob->d.transport->ops->subscribe(ob->d.transport->impl, ob->topics[i], 1,
                                                    &ob->sub_tokens[i]);
                if (r < 0) {
                        ob_onboard_fail(ob, OB_ERR_NETWORK, "subscribe-failed", now,
                                        "cannot subscribe to %s: %s", ob->topics[i], strerror(-r));
                        return r;
                }
        }
        return 0;
}

static int publish(ObOnboard *ob, ObFleetOp op, const uint8_t *payload, size_t len, int64_t now)
{
        char topic[160];
        int token, r;

        r = ob_fleet_topic(op, ob->fmt, ob_onboard_template_name(ob), OB_FLEET_REQUEST, topic,
                           sizeof(topic));
        if (r >= 0)
                r = ob->d.transport->ops->publish(ob->d.transport->impl, topic, payload, len, 1,
                                                  &token);
        if (r < 0) {
                ob_onboard_fail(ob, OB_ERR_NETWORK, "publish-failed", now,
                                "cannot publish to %s: %s", topic, strerror(-r));
                return r;
        }
        return 0;
}

static int request_cert(ObOnboard *ob, int64_t now)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        _cleanup_free_ char *subject = NULL, *csr = NULL;
        _cleanup_free_ uint8_t *payload = NULL;
        char path[512];
        size_t len;
        int r;

        if (ob->c->provisioning.create_keys) {
                r = ob_fleet_build_create_keys(ob->fmt, &payload, &len);
                if (r < 0)
                        return r;
                ob_onboard_set_activity(ob, OB_ACT_REQUEST_CERT,
                                        now + (int64_t)ob->c->endpoint.step_timeout_ms);
                return publish(ob, OB_FLEET_CREATE_KEYS, payload, len, now);
        }

        if (!ob_onboard_slot_file(ob, "device.key", path, sizeof(path)))
                return -ENAMETOOLONG;
        r = ob->d.keys->ops->load(ob->d.keys, path, &pub);
        if (r < 0) {
                ob_onboard_fail_local(ob, "key-unavailable", 0, now, "device key: %s",
                                      ob->d.keys->ops->last_error(ob->d.keys));
                return r;
        }
        r = ob_onboard_expand_or_fail(ob, ob->c->identity.csr_subject, "identity.csr_subject",
                                      "bad-csr-subject", now, &subject);
        if (r < 0)
                return r;
        r = ob_csr_build(subject, pub, ob_onboard_csr_sign, ob, &csr);
        if (r < 0 && r != -ENOMEM && ob_onboard_key_error_is_local_trouble(r)) {
                /* the key provider failed to sign (a TPM in lockout, gone): say what it said */
                ob_onboard_fail_local(ob, "key-unavailable", 0, now,
                                      "device key: signing the CSR: %s",
                                      ob->d.keys->ops->last_error(ob->d.keys));
                return r;
        }
        if (r < 0) {
                ob_onboard_fail_local(ob, "csr-failed", r, now,
                                      "cannot build the CSR (subject \"%s\")", subject);
                return r;
        }
        r = ob_fleet_build_create_from_csr(ob->fmt, csr, &payload, &len);
        if (r < 0)
                return r;
        ob_onboard_set_activity(ob, OB_ACT_REQUEST_CERT,
                                now + (int64_t)ob->c->endpoint.step_timeout_ms);
        return publish(ob, OB_FLEET_CREATE_FROM_CSR, payload, len, now);
}

static int register_thing(ObOnboard *ob, int64_t now)
{
        char **cfg = ob->c->provisioning.parameters;
        _cleanup_free_ uint8_t *payload = NULL;
        const char **params = NULL;
        char **values = NULL;
        size_t n = 0, len;
        bool have_serial = false, have_token = false, have_thing = false;
        const char *token;
        int r = 0;

        for (size_t i = 0; cfg && cfg[i]; i += 2)
                n++;
        params = calloc(2 * (n + 3) + 1, sizeof(char *));
        values = calloc(n + 1, sizeof(char *));
        if (!params || !values) {
                r = -ENOMEM;
                goto out;
        }
        n = 0;
        for (size_t i = 0; cfg && cfg[i]; i += 2) {
                char key[160];

                snprintf(key, sizeof(key), "provisioning.parameters.%s", cfg[i]);
                r = ob_onboard_expand_or_fail(ob, cfg[i + 1], key, "bad-parameter", now,
                                              &values[i / 2]);
                if (r < 0)
                        goto out;
                params[n++] = cfg[i];
                params[n++] = values[i / 2];
                have_serial = have_serial || strcmp(cfg[i], "SerialNumber") == 0;
                have_token = have_token || strcmp(cfg[i], "HardwareToken") == 0;
                have_thing = have_thing || strcmp(cfg[i], "ThingName") == 0;
        }
        /* what every template gets unless the configuration names it otherwise */
        if (!have_serial) {
                params[n++] = "SerialNumber";
                params[n++] = ob->d.serial;
        }
        if (!have_token && (token = ob_onboard_hardware_token(ob))) {
                params[n++] = "HardwareToken";
                params[n++] = token;
        }
        /* a rotation attaches the new certificate to the same thing */
        if (!have_thing && ob->rotating && ob->cur_thing) {
                params[n++] = "ThingName";
                params[n++] = ob->cur_thing;
        }
        r = ob_fleet_build_register_thing(ob->fmt, ob->token, params, &payload, &len);
        if (r < 0)
                goto out;
        ob_onboard_set_activity(ob, OB_ACT_REGISTER,
                                now + (int64_t)ob->c->endpoint.step_timeout_ms);
        r = publish(ob, OB_FLEET_REGISTER_THING, payload, len, now);
out:
        for (size_t i = 0; values && values[i]; i++)
                free(values[i]);
        free(values);
        free(params);
        if (payload)
                OPENSSL_cleanse(payload, len); /* it carries the ownership token */
        return r;
}

int ob_onboard_send_request(ObOnboard *ob, int64_t now)
{
        if (ob->stage == OB_STAGE_CERT_ISSUED)
                return register_thing(ob, now);
        return request_cert(ob, now);
}

/* ------------------------------------------------------------------ replies */

void ob_onboard_rejected(ObOnboard *ob, const char *what, const ObTransportEvent *ev, int64_t now)
{
        ObFleetError e;
        char code[96];
        int r;

        r = ob_fleet_parse_rejected(ob->fmt, ev->payload, ev->payload_len, &e);
        if (r < 0) {
                ob_onboard_fail(ob, OB_ERR_REJECTED, "bad-reply", now,
                                "%s rejected with a malformed reply", what);
                return;
        }
        snprintf(code, sizeof(code), "rejected-%d", e.status_code);
        if (ob->act == OB_ACT_REGISTER &&
            strcmp(e.error_code, "InvalidCertificateOwnershipToken") == 0) {
                /* the cloud says the token is gone (expired, or it counts differently than we
                 * do): the certificate can never be registered, start again from the CSR */
                ob_onboard_discard_pending_cert(ob);
                if (ob_onboard_set_stage(
                            ob, ob->c->provisioning.create_keys ? OB_STAGE_NEW : OB_STAGE_KEY_READY,
                            now) < 0)
                        return;
        }
        ob_onboard_fail(ob, e.err_class, code, now, "%s rejected: %d %s: %s", what, e.status_code,
                        e.error_code, e.error_message);
}

/* Check what CreateCertificateFromCsr / CreateKeysAndCertificate returned and put it on disk. */
static int accept_cert(ObOnboard *ob, ObFleetCertReply *rep, int64_t now)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        char crt[512], key[512];
        ObCertVerdict verdict;
        int64_t nb = 0, na = 0;
        int r;

        if (!ob_onboard_slot_file(ob, "device.crt", crt, sizeof(crt)) ||
            !ob_onboard_slot_file(ob, "device.key", key, sizeof(key)))
                return -ENAMETOOLONG;

        if (rep->private_key) {
                BIO *b = BIO_new_mem_buf(rep->private_key, -1);

                pub = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
                BIO_free(b);
        } else {
                r = ob->d.keys->ops->load(ob->d.keys, key, &pub);
                if (r < 0) {
                        ob_onboard_fail_local(ob, "key-unavailable", 0, now, "device key: %s",
                                              ob->d.keys->ops->last_error(ob->d.keys));
                        return r;
                }
        }
        if (!pub) {
                ob_onboard_fail(ob, OB_ERR_REJECTED, "bad-reply", now,
                                "the private key in the reply is not a PEM key");
                return -EBADMSG;
        }
        /* what is and is not checked: lib/cert-accept.h, docs/security.md */
        r = ob_cert_accept(rep->certificate_pem, pub, rep->certificate_id, now / 1000,
                           (int64_t)(ob->c->clock.max_skew_ms / 1000), &verdict);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                ob_onboard_fail(ob, OB_ERR_REJECTED, verdict.code, now, "%s", verdict.text);
                return r;
        }
        nb = verdict.not_before;
        na = verdict.not_after;

        /* on disk before the state says we have it */
        r = ob_onboard_slot_create(ob, now);
        if (r < 0)
                return r;
        if (rep->private_key) {
                r = ob_creds_write(ob->c->paths.state_dir, ob->gen, "device.key", rep->private_key,
                                   strlen(rep->private_key), 0600, ob->d.fs);
                if (r < 0) {
                        ob_onboard_fail_local(ob, "storage-error", r, now, "cannot write %s", key);
                        return r;
                }
        }
        r = ob_creds_write(ob->c->paths.state_dir, ob->gen, "device.crt", rep->certificate_pem,
                           strlen(rep->certificate_pem), 0644, ob->d.fs);
        if (r < 0) {
                ob_onboard_fail_local(ob, "storage-error", r, now, "cannot write %s", crt);
                return r;
        }
        if (ob_onboard_set_str(&ob->cert_id, rep->certificate_id) < 0)
                return -ENOMEM;
        ob_onboard_secret_free(&ob->token);
        ob->token = TAKE_PTR(rep->ownership_token);
        ob->token_ms = now;
        ob->not_before_s = nb;
        ob->not_after_s = na;
        r = ob_onboard_set_stage(ob, OB_STAGE_CERT_ISSUED, now);
        if (r < 0)
                return r;
        if (rep->private_key)
                ob_onboard_notify(
                        ob, OB_CHANGE_NOTICE,
                        "CreateKeysAndCertificate: the device key was generated by AWS IoT and "
                        "sent over the network; it is stored in %s",
                        key);
        return 0;
}

void ob_onboard_on_cert_reply(ObOnboard *ob, const ObTransportEvent *ev, int64_t now)
{
        _cleanup_(ob_fleet_cert_reply_clear) ObFleetCertReply rep = {};
        int r;

        r = ob_fleet_parse_cert_reply(ob->fmt, ev->payload, ev->payload_len,
                                      ob->c->provisioning.create_keys, &rep);
        if (r < 0) {
                ob_onboard_fail(ob, OB_ERR_REJECTED, "bad-reply", now,
                                "malformed certificate reply (%s)",
                                r == -EMSGSIZE  ? "too large"
                                : r == -EBADMSG ? "not well-formed"
                                                : "fields");
                return;
        }
        r = accept_cert(ob, &rep, now);
        if (r < 0)
                return;
        (void)register_thing(ob, now);
}

void ob_onboard_on_register_reply(ObOnboard *ob, const ObTransportEvent *ev, int64_t now)
{
        _cleanup_(ob_fleet_register_reply_clear) ObFleetRegisterReply rep = {};
        json_object *dc;
        int r;

        r = ob_fleet_parse_register_reply(ob->fmt, ev->payload, ev->payload_len, &rep);
        if (r < 0) {
                ob_onboard_fail(
                        ob, OB_ERR_REJECTED, "bad-reply", now, "malformed RegisterThing reply (%s)",
                        r == -EMSGSIZE  ? "too large"
                        : r == -EBADMSG ? "not well-formed"
                        : r == -EILSEQ  ? "a thingName AWS IoT does not allow: 1-128 of a-z A-Z "
                                          "0-9 : _ -"
                                        : "fields");
                return;
        }
        /* No thingName is how a template without a thing answers; but a client id made from
         * the thing name would then be the serial, which such a device could never connect
         * with if the cloud did make a thing (a broken reply): stuck in verify for good.
         * Refuse before the token is spent; RegisterThing is retried with it. */
        if (!rep.thing_name && ob->c->endpoint.client_id &&
            strstr(ob->c->endpoint.client_id, "{thing_name}")) {
                ob_onboard_fail(
                        ob, OB_ERR_REJECTED, "bad-reply", now,
                        "RegisterThing reply without thingName, but endpoint.client_id uses "
                        "{thing_name} (a template without a thing needs another client id)");
                return;
        }
        if (ob_onboard_set_str(&ob->thing_name, rep.thing_name) < 0)
                return;
        dc = json_object_new_object();
        for (size_t i = 0; dc && rep.device_configuration && rep.device_configuration[i]; i += 2)
                json_object_object_add(dc, rep.device_configuration[i],
                                       json_object_new_string(rep.device_configuration[i + 1]));
        json_object_put(ob->devconf);
        ob->devconf = dc;
        /* registered: the token is spent */
        ob_onboard_secret_free(&ob->token);
        ob->token_ms = 0;
        r = ob_onboard_set_stage(ob, OB_STAGE_THING_REGISTERED, now);
        if (r < 0)
                return;
        ob_onboard_notify(ob, OB_CHANGE_NOTICE, "registered as thing %s",
                          ob->thing_name ? ob->thing_name
                                         : "(none: the template creates no thing)");
        ob_onboard_disconnect(ob);
        (void)ob_onboard_connect_device(ob, now);
}

/* ------------------------------------------------------------------ the flow */

/* Fleet provisioning's flow, for the first identity and for every rotation: a fresh ownership
 * token, the key, then connecting with the claim (or the current certificate), or with the new
 * certificate once the thing is registered. */
int ob_onboard_fleet_resume(ObOnboard *ob, int64_t now)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        int r;

        if (ob->stage == OB_STAGE_CERT_ISSUED && !ob_onboard_token_fresh(ob, now)) {
                ob_onboard_notify(
                        ob, OB_CHANGE_NOTICE,
                        "the ownership token of certificate %.12s... is older than an hour: "
                        "requesting a new certificate",
                        ob->cert_id ? ob->cert_id : "?");
                ob_onboard_discard_pending_cert(ob);
                r = ob_onboard_set_stage(
                        ob, ob->c->provisioning.create_keys ? OB_STAGE_NEW : OB_STAGE_KEY_READY,
                        now);
                if (r < 0)
                        return r;
        }

        /* the key first: it does not need the network (not for CreateKeysAndCertificate) */
        if (!ob->c->provisioning.create_keys && ob->stage < OB_STAGE_THING_REGISTERED) {
                r = ob_onboard_ensure_key(ob, now, &pub);
                if (r < 0)
                        return 0; /* failure recorded, retry scheduled */
                if (ob->stage == OB_STAGE_NEW) {
                        r = ob_onboard_set_stage(ob, OB_STAGE_KEY_READY, now);
                        if (r < 0)
                                return 0;
                }
        } else if (ob->c->provisioning.create_keys && ob->gen == 0) {
                ob->gen = ob->cur_gen + 1;
        }

        if (ob->stage == OB_STAGE_THING_REGISTERED)
                return ob_onboard_connect_device(ob, now);

        if (ob->rotating && !ob_onboard_healing(ob)) /* a heal connects with the claim */
                return ob_onboard_connect_current(ob, now);
        if (ob->method->claim_at_runtime && !ob->claim_cert) {
                ob_onboard_set_activity(ob, OB_ACT_WAIT_CLAIM, -1);
                return 0;
        }
        return ob_onboard_connect_claim(ob, now);
}

/* ------------------------------------------------------------------ claims */

void ob_onboard_drop_claim(ObOnboard *ob)
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

int ob_onboard_connect_claim(ObOnboard *ob, int64_t now)
{
        char why[300];
        bool expired;

        if (!claim_usable(ob, now, why, sizeof(why), &expired)) {
                if (ob->method->claim_at_runtime) {
                        ob_onboard_drop_claim(ob);
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
                                     ob_onboard_key_file_provider(ob->d.fs, ob->claim_key),
                                     OB_ACT_CONNECT_CLAIM, now);
}

/* ------------------------------------------------------------------ trusted user */

void ob_onboard_report(ObOnboard *ob, const char *code, const char *text, int64_t now_ms)
{
        if (!text) { /* what it said is over: cleared when it is still the last word */
                if (strcmp(ob->err_code, code) == 0) {
                        ob_onboard_set_error(ob, -1, "", "", 0);
                        ob_onboard_persist_or_say(ob);
                }
                return;
        }
        ob_onboard_set_error(ob, -1, code, text, now_ms);
        ob_onboard_persist_or_say(ob);
        ob_onboard_notify(ob, OB_CHANGE_ERROR, "%s", text);
}

int ob_onboard_provide_claim(ObOnboard *ob, const char *cert_pem, const char *key_pem,
                             int64_t now_ms, char *err, size_t errsize)
{
        _cleanup_free_ char *dir = NULL, *crt = NULL, *key = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pk = NULL;
        X509 *x = NULL;
        int64_t nb, na;
        BIO *b;
        int r;

        if (!ob->method->claim_at_runtime) {
                snprintf(err, errsize, "provisioning.method is %s, not fleet-trusted-user",
                         ob_provisioning_method_to_string(ob->c->provisioning.method));
                return -EOPNOTSUPP;
        }
        if (ob->cur_gen > 0 && !ob_onboard_heal_wants_claim(ob)) {
                snprintf(err, errsize, "already onboarded");
                return -EALREADY;
        }
        if (ob->cur_gen == 0 && ob->act != OB_ACT_WAIT_CLAIM) {
                snprintf(err, errsize, "not waiting for a claim (%s)",
                         ob_onboard_activity_names[ob->act]);
                return -EALREADY;
        }
        r = ob_x509_from_pem(cert_pem, strlen(cert_pem), &x);
        if (r < 0) {
                snprintf(err, errsize, "the claim certificate is not a PEM certificate");
                return -EINVAL;
        }
        b = BIO_new_mem_buf(key_pem, -1);
        pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!pk || ob_x509_matches_key(x, pk) < 0 || ob_x509_validity(x, &nb, &na) < 0) {
                X509_free(x);
                snprintf(err, errsize,
                         pk ? "the claim key does not match the certificate"
                            : "the claim key is not a PEM private key");
                return -EINVAL;
        }
        X509_free(x);
        if (now_ms / 1000 > na) {
                snprintf(err, errsize, "the claim certificate expired %lld s ago",
                         (long long)(now_ms / 1000 - na));
                return -EKEYEXPIRED;
        }

        if (asprintf(&dir, "%s/claim", ob->c->paths.runtime_dir) < 0 ||
            asprintf(&crt, "%s/claim.crt", dir) < 0 || asprintf(&key, "%s/claim.key", dir) < 0)
                return -ENOMEM;
        if (ob_fs_mkdir(ob->d.fs, dir, 0700) < 0 && errno != EEXIST) {
                snprintf(err, errsize, "cannot create %s: %s", dir, strerror(errno));
                return -errno;
        }
        r = ob_fs_write_file_atomic(ob->d.fs, key, key_pem, strlen(key_pem), 0600);
        if (r >= 0)
                r = ob_fs_write_file_atomic(ob->d.fs, crt, cert_pem, strlen(cert_pem), 0600);
        if (r < 0) {
                (void)ob_fs_unlink(ob->d.fs, key);
                snprintf(err, errsize, "cannot store the claim in %s: %s", dir, strerror(-r));
                return r;
        }
        free(ob->claim_cert);
        free(ob->claim_key);
        ob->claim_cert = TAKE_PTR(crt);
        ob->claim_key = TAKE_PTR(key);
        ob->claim_temporary = true;
        ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                          "received a temporary claim valid for %lld more seconds",
                          (long long)(na - now_ms / 1000));
        /* a fresh claim deserves a fresh attempt */
        ob->backoff.next_ms = 0;
        if (ob->cur_gen > 0) /* the refused identity heals with it (lib/onboard-heal.h) */
                return ob_onboard_heal_claim_given(ob, now_ms);
        return ob_onboard_resume(ob, now_ms);
}

/* ------------------------------------------------------------------ the rows */

/* fleet-claim: the claim is in the configuration */
static int claim_start(ObOnboard *ob, int64_t now)
{
        (void)now;
        if (ob_onboard_set_str(&ob->claim_cert, ob->c->provisioning.claim_cert) < 0 ||
            ob_onboard_set_str(&ob->claim_key, ob->c->provisioning.claim_key) < 0)
                return -ENOMEM;
        return 0;
}

/* fleet-trusted-user: a claim handed over before a restart */
static int trusted_user_start(ObOnboard *ob, int64_t now)
{
        (void)now;
        if (ob->cur_gen == 0 || ob_onboard_healing(ob)) {
                /* a claim handed over before a restart is still in the runtime directory */
                _cleanup_free_ char *crt = NULL, *key = NULL;

                if (asprintf(&crt, "%s/claim/claim.crt", ob->c->paths.runtime_dir) < 0 ||
                    asprintf(&key, "%s/claim/claim.key", ob->c->paths.runtime_dir) < 0)
                        return -ENOMEM;
                if (ob_fs_access(ob->d.fs, crt, R_OK) == 0 &&
                    ob_fs_access(ob->d.fs, key, R_OK) == 0) {
                        ob->claim_cert = TAKE_PTR(crt);
                        ob->claim_key = TAKE_PTR(key);
                        ob->claim_temporary = true;
                }
        }
        return 0;
}

const ObOnboardMethod ob_onboard_method_fleet_claim = {
        .method = OB_METHOD_FLEET_CLAIM,
        .first_identity = "fleet provisioning gets the first certificate",
        .start = claim_start,
        .resume = ob_onboard_fleet_resume,
};

const ObOnboardMethod ob_onboard_method_fleet_trusted_user = {
        .method = OB_METHOD_FLEET_TRUSTED_USER,
        .claim_at_runtime = true,
        .first_identity = "fleet provisioning gets the first certificate",
        .start = trusted_user_start,
        .resume = ob_onboard_fleet_resume,
};
