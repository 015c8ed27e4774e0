/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The factory-certificate methods: what static (and Multi-Account Registration), JITP and JITR
 * share (importing the factory certificate into slot N, connecting with it, the CA chain file),
 * and the static method's table row. JITP and JITR's rows are lib/onboard-jit.c.
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
#include "onboard-connect.h"
#include "onboard-factory.h"
#include "onboard-key.h"
#include "onboard-method.h"
#include "onboard-private.h"
#include "onboard.h"
#include "retire.h"
#include "x509.h"

/* ------------------------------------------------------------------ static, jitp, jitr */

bool ob_onboard_method_uses_factory_cert(const ObConfig *c)
{
        const ObOnboardMethod *m = ob_onboard_method_find(c->provisioning.method);

        return m && m->factory_cert;
}

bool ob_onboard_can_rotate(const ObConfig *c)
{
        return !ob_onboard_method_uses_factory_cert(c) || c->rotation.template_name ||
               c->provisioning.template_name;
}

bool ob_onboard_factory_method(const ObOnboard *ob)
{
        return ob->method->factory_cert;
}

static void wait_for_cert(ObOnboard *ob, const char *code, int64_t now, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Nothing to connect with yet: say why, look again soon (the daemon also restarts us on SIGHUP). */
static void wait_for_cert(ObOnboard *ob, const char *code, int64_t now, const char *fmt, ...)
{
        char text[ERR_TEXT_MAX];
        va_list ap;
        bool same;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        same = ob->act == OB_ACT_WAIT_CERT && strcmp(ob->err_code, code) == 0 &&
               strcmp(ob->err_text, text) == 0;
        if (!same) {
                ob_onboard_set_error(ob, -1, code, text, now);
                ob_onboard_persist_or_say(ob);
                ob_onboard_notify(ob, OB_CHANGE_ERROR, "%s (%s); checking again every %d s", text,
                                  code, OB_ONBOARD_CERT_POLL_MS / 1000);
        }
        ob_onboard_set_activity(ob, OB_ACT_WAIT_CERT, now + OB_ONBOARD_CERT_POLL_MS);
}

/* The key for the factory certificate in slot gen: the slot's copy, or the vendor's handle. */
char *ob_onboard_factory_key_path(const ObOnboard *ob, uint64_t gen)
{
        _cleanup_free_ char *p = ob_creds_slot_file(ob->c->paths.state_dir, gen, "device.key");

        return p ? ob_factory_slot_key(ob->c, p, ob->d.fs) : NULL;
}

/*
 * Copy the factory certificate (and key file, or for a vendor's handle key a device.key-handle
 * file naming it) into credential slot N and record it: stage
 * certificate-issued. 0 done; 1 waiting (no certificate yet, or not a usable one: the reason is
 * in the status and it is checked again); negative: failure recorded, retry scheduled.
 */
static int import_factory(ObOnboard *ob, int64_t now)
{
        const char *hint = "install one with agentctl factory install-cert";
        _cleanup_(ob_factory_paths_done) ObFactoryPaths fp = {0};
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        _cleanup_free_ char *cn = NULL, *pem = NULL, *key = NULL;
        ObKeyProvider *k = ob->d.keys;
        char fpr[65];
        X509 *x = NULL;
        size_t keylen = 0;
        int64_t nb, na;
        BIO *b = NULL;
        BUF_MEM *bm;
        int r;

        r = ob_factory_paths(ob->c, &fp);
        if (r < 0)
                return r;
        if (ob_fs_access(ob->d.fs, fp.cert, F_OK) < 0) {
                wait_for_cert(ob, "no-certificate", now, "no device certificate at %s: %s", fp.cert,
                              hint);
                return 1;
        }
        if (!fp.key_handle && ob_fs_access(ob->d.fs, fp.key, F_OK) < 0) {
                wait_for_cert(ob, "no-certificate", now,
                              "the device certificate %s has no key at %s: %s", fp.cert, fp.key,
                              hint);
                return 1;
        }
        r = ob_x509_from_file_with(ob->d.fs, fp.cert, &x);
        if (r < 0) {
                wait_for_cert(ob, "certificate-unusable", now, "%s: %s", fp.cert,
                              r == -EBADMSG ? "not a PEM certificate" : strerror(-r));
                return 1;
        }
        r = ob_x509_validity(x, &nb, &na);
        if (r < 0 || ob_x509_fingerprint_hex(x, fpr, sizeof(fpr)) < 0) {
                X509_free(x);
                wait_for_cert(ob, "certificate-unusable", now, "%s: no validity period", fp.cert);
                return 1;
        }
        if (na < now / 1000) {
                char t[32];
                X509_free(x);
                wait_for_cert(ob, "certificate-expired", now, "%s expired at %s: %s", fp.cert,
                              ob_onboard_iso_text(na, t, sizeof(t)), hint);
                return 1;
        }
        r = k->ops->load(k, fp.key, &pub);
        if (r < 0) {
                X509_free(x);
                if (ob_onboard_key_error_is_local_trouble(r)) {
                        ob_onboard_fail_local(ob, "key-unavailable", 0, now, "device key %s: %s",
                                              fp.key, k->ops->last_error(k));
                        return r;
                }
                wait_for_cert(ob, "key-unusable", now, "device key %s: %s", fp.key,
                              k->ops->last_error(k));
                return 1;
        }
        if (ob_x509_matches_key(x, pub) < 0) {
                X509_free(x);
                wait_for_cert(ob, "certificate-key-mismatch", now,
                              "%s is not for the device key %s: %s", fp.cert, fp.key, hint);
                return 1;
        }
        (void)ob_x509_subject_cn(x, &cn);
        /* the certificate alone, whatever else the file holds */
        b = BIO_new(BIO_s_mem());
        if (!b || !PEM_write_bio_X509(b, x) || BIO_get_mem_ptr(b, &bm) <= 0 ||
            !(pem = strndup(bm->data, bm->length))) {
                BIO_free(b);
                X509_free(x);
                return -ENOMEM;
        }
        BIO_free(b);
        X509_free(x);

        /* the thing: jitp's template names it after the CN; otherwise identity.thing_name */
        free(ob->thing_name);
        ob->thing_name = NULL;
        if (!ob->method->thing_from_cn && ob->c->identity.thing_name) {
                _cleanup_free_ char *t = NULL;
                if (ob_onboard_expand_or_fail(ob, ob->c->identity.thing_name, "identity.thing_name",
                                              "bad-thing-name", now, &t) < 0)
                        return -EINVAL;
                ob->thing_name = TAKE_PTR(t);
        } else if (cn && cn[0]) {
                ob->thing_name = TAKE_PTR(cn);
        } else {
                wait_for_cert(ob, "no-thing-name", now,
                              "%s has no subject CN to name the thing after%s", fp.cert,
                              ob->method->thing_from_cn ? "" : " (or set identity.thing_name)");
                return 1;
        }
        if (ob->method->sends_chain && ob_fs_access(ob->d.fs, fp.chain, F_OK) < 0)
                ob_onboard_notify(
                        ob, OB_CHANGE_NOTICE,
                        "no CA chain at %s: the certificate is sent alone (its CA must then be "
                        "known to the cloud by other means)",
                        fp.chain);

        if (ob->gen == 0)
                ob->gen = ob->cur_gen + 1;
        r = ob_creds_slot_create(ob->c->paths.state_dir, ob->gen, ob->d.fs);
        if (r >= 0 && !fp.key_handle) {
                r = ob_fs_read_file_with(ob->d.fs, fp.key, 0, 64 * 1024, &key, &keylen);
                if (r >= 0)
                        r = ob_creds_write(ob->c->paths.state_dir, ob->gen, "device.key", key,
                                           keylen, 0600, ob->d.fs);
                if (key)
                        ob_explicit_bzero(key, keylen);
        } else if (r >= 0) {
                /* no key file to copy: record where the key is, for us and applications
                 * (docs/state.md) */
                _cleanup_free_ char *ref = NULL;
                if (asprintf(&ref, "%s\n", fp.key) < 0)
                        return -ENOMEM;
                r = ob_creds_write(ob->c->paths.state_dir, ob->gen, OB_SLOT_KEY_HANDLE, ref,
                                   strlen(ref), OB_SLOT_KEY_HANDLE_MODE, ob->d.fs);
        }
        if (r >= 0)
                r = ob_creds_write(ob->c->paths.state_dir, ob->gen, "device.crt", pem, strlen(pem),
                                   0644, ob->d.fs);
        if (r < 0) {
                ob_onboard_fail_local(ob, "storage-error", r, now,
                                      "cannot copy the factory credentials into slot %llu",
                                      (unsigned long long)ob->gen);
                return r;
        }
        if (ob_onboard_set_str(&ob->cert_id, fpr) < 0)
                return -ENOMEM;
        ob->not_before_s = nb;
        ob->not_after_s = na;
        ob->err_code[0] = 0;
        r = ob_onboard_set_stage(ob, OB_STAGE_CERT_ISSUED, now);
        if (r < 0)
                return r;
        ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                          "using the factory certificate %.12s... (%s) as thing %s", fpr, fp.cert,
                          ob->thing_name);
        return 0;
}

void ob_onboard_drop_chain_file(ObOnboard *ob)
{
        if (ob->chain_file)
                (void)ob_fs_unlink(ob->d.fs, ob->chain_file);
        free(ob->chain_file);
        ob->chain_file = NULL;
}

/* jitp/jitr before the first success: the handshake carries the certificate and its CA chain,
 * concatenated into one runtime file (0600). NULL chain: none to send. */
static int build_chain_file(ObOnboard *ob, const char *crt, char **ret)
{
        _cleanup_(ob_factory_paths_done) ObFactoryPaths fp = {0};
        _cleanup_free_ char *c = NULL, *ch = NULL, *all = NULL, *path = NULL;
        size_t clen = 0, chlen = 0;
        int r;

        *ret = NULL;
        r = ob_factory_paths(ob->c, &fp);
        if (r < 0)
                return r;
        if (ob_fs_access(ob->d.fs, fp.chain, F_OK) < 0)
                return 0;
        r = ob_fs_read_file_with(ob->d.fs, crt, 0, 64 * 1024, &c, &clen);
        if (r >= 0)
                r = ob_fs_read_file_with(ob->d.fs, fp.chain, 0, 256 * 1024, &ch, &chlen);
        if (r < 0)
                return r;
        if (asprintf(&all, "%s%s%s", c, clen && c[clen - 1] != '\n' ? "\n" : "", ch) < 0 ||
            asprintf(&path, "%s/device-chain.pem", ob->c->paths.runtime_dir) < 0)
                return -ENOMEM;
        if (ob_fs_mkdir(ob->d.fs, ob->c->paths.runtime_dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        r = ob_fs_write_file_atomic(ob->d.fs, path, all, strlen(all), 0600);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(path);
        return 0;
}

/* Connect with the factory certificate in the pending slot (with its chain for jitp/jitr). */
static int connect_factory(ObOnboard *ob, int64_t now)
{
        _cleanup_free_ char *crt =
                ob_creds_slot_file(ob->c->paths.state_dir, ob->gen, "device.crt");
        _cleanup_free_ char *key = ob_onboard_factory_key_path(ob, ob->gen);
        int r;

        if (!crt || !key)
                return -ENOMEM;
        ob_onboard_drop_chain_file(ob);
        if (ob->method->sends_chain) {
                r = build_chain_file(ob, crt, &ob->chain_file);
                if (r < 0) {
                        ob_onboard_fail_local(ob, "storage-error", r, now,
                                              "cannot write the certificate chain into %s",
                                              ob->c->paths.runtime_dir);
                        return r;
                }
        }
        return ob_onboard_connect_to(
                ob, ob->chain_file ? ob->chain_file : crt, key,
                ob_key_path_is_handle(key) ? "tpm2" : ob->d.keys->ops->tls_provider(ob->d.keys),
                OB_ACT_VERIFY, now);
}

int ob_onboard_factory_resume(ObOnboard *ob, int64_t now)
{
        int r;

        if (ob->stage != OB_STAGE_CERT_ISSUED) {
                r = import_factory(ob, now);
                if (r != 0)
                        return 0; /* waiting, or failure recorded and retry scheduled */
        }
        return connect_factory(ob, now);
}

/* One more refusal of the factory certificate (persisted: "refusals"): how many so far. */
uint32_t ob_onboard_factory_count_refusal(ObOnboard *ob)
{
        return ob->refusals < UINT32_MAX ? ++ob->refusals : ob->refusals;
}

/* The refused schedule (soon_ms > 0: sooner, see ob_onboard_fail_text()), waiting in act. */
void ob_onboard_factory_refusal_fail(ObOnboard *ob, const char *code, int64_t soon_ms,
                                     ObOnboardActivity act, int64_t now, const char *fmt, ...)
{
        char text[640];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        ob_onboard_fail_text(ob, OB_ERR_REFUSED, code, now, soon_ms, act, text);
}

/* static: not registered, inactive or revoked: a persistent status, the refused schedule. */
static void static_refused(ObOnboard *ob, const char *detail, int64_t now)
{
        uint32_t n = ob_onboard_factory_count_refusal(ob);

        ob_onboard_factory_refusal_fail(ob, "certificate-refused", 0, OB_ACT_WAIT_RETRY, now,
                                        "the device certificate %.12s... was refused %u time(s) "
                                        "(%s): is it registered and ACTIVE, with a policy "
                                        "allowing iot:Connect?",
                                        ob->cert_id ? ob->cert_id : "?", n, detail);
}

const ObOnboardMethod ob_onboard_method_static = {
        .method = OB_METHOD_STATIC,
        .factory_cert = true,
        .first_identity = "a static device first connects with its factory certificate "
                          "('agentctl factory status' checks it)",
        .resume = ob_onboard_factory_resume,
        .refused = static_refused,
};
