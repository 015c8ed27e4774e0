/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "fsops.h"
#include "log.h"
#include "macro.h"
#include "x509.h"

static void set_reason(char *reason, size_t size, const char *fmt, ...) _printf_(3, 4);
static void set_reason(char *reason, size_t size, const char *fmt, ...)
{
        va_list ap;

        if (!reason || size == 0)
                return;
        va_start(ap, fmt);
        (void)vsnprintf(reason, size, fmt, ap);
        va_end(ap);
}

/* The first error on OpenSSL's queue as text, and the queue emptied (it never crosses us). */
static const char *ossl_error(char *buf, size_t size)
{
        unsigned long e = ERR_peek_error();

        if (e == 0)
                snprintf(buf, size, "no OpenSSL error");
        else
                ERR_error_string_n(e, buf, size);
        ERR_clear_error();
        return buf;
}

/* Is the error on top of the queue the harmless "no more PEM blocks"? */
static bool at_pem_end(void)
{
        unsigned long e = ERR_peek_last_error();
        return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

int ob_x509_from_pem(const char *pem, size_t len, X509 **ret)
{
        char err[160];

        if (!pem || len == 0 || len > OB_X509_MAX_PEM) {
                ob_log_debug("certificate PEM: %zu bytes (1..%d allowed)", pem ? len : 0,
                             OB_X509_MAX_PEM);
                return -EBADMSG;
        }
        BIO *bio = BIO_new_mem_buf(pem, (int)len);
        if (!bio)
                return -ENOMEM;
        ERR_clear_error();
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        if (!x) {
                ob_log_debug("certificate PEM: %s",
                             at_pem_end() ? "no certificate block" : ossl_error(err, sizeof(err)));
                ERR_clear_error();
                return -EBADMSG;
        }
        ERR_clear_error();
        *ret = x;
        return 0;
}

int ob_x509_from_file(const char *path, X509 **ret)
{
        return ob_x509_from_file_with(NULL, path, ret);
}

int ob_x509_from_file_with(const ObFsOps *ops, const char *path, X509 **ret)
{
        _cleanup_free_ char *pem = NULL;
        size_t n = 0;
        int r;

        r = ob_fs_read_file_with(ops, path, 0, OB_X509_MAX_PEM, &pem, &n);
        if (r < 0)
                return r;
        return ob_x509_from_pem(pem, n, ret);
}

int ob_x509_matches_key(X509 *cert, EVP_PKEY *pub)
{
        EVP_PKEY *ck = X509_get0_pubkey(cert);
        int r = ck && pub && EVP_PKEY_eq(ck, pub) == 1 ? 0 : -EKEYREJECTED;

        ERR_clear_error();
        return r;
}

static int asn1_time_to_unix(const ASN1_TIME *t, int64_t *ret)
{
        int days = 0, secs = 0;

        if (!t)
                return -EBADMSG;
        ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
        if (!epoch)
                return -ENOMEM;
        /* from the epoch to t; no clock read, and no time_t range limit */
        int ok = ASN1_TIME_diff(&days, &secs, epoch, t);
        ASN1_TIME_free(epoch);
        ERR_clear_error();
        if (!ok)
                return -EBADMSG;
        *ret = (int64_t)days * 86400 + secs;
        return 0;
}

int ob_x509_validity(X509 *cert, int64_t *ret_not_before, int64_t *ret_not_after)
{
        int64_t nb, na;
        int r;

        r = asn1_time_to_unix(X509_get0_notBefore(cert), &nb);
        if (r < 0)
                return r;
        r = asn1_time_to_unix(X509_get0_notAfter(cert), &na);
        if (r < 0)
                return r;
        if (ret_not_before)
                *ret_not_before = nb;
        if (ret_not_after)
                *ret_not_after = na;
        return 0;
}

int ob_x509_fingerprint_hex(X509 *cert, char *buf, size_t size)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        if (size < OB_X509_FINGERPRINT_HEX_LEN + 1)
                return -ENOBUFS;
        if (!X509_digest(cert, EVP_sha256(), md, &n) || n != 32) {
                ERR_clear_error();
                return -EBADMSG;
        }
        for (unsigned i = 0; i < n; i++)
                snprintf(buf + 2 * i, 3, "%02x", md[i]);
        return 0;
}

OB_DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE *, X509_STORE_free);
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE_CTX *, X509_STORE_CTX_free);
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free);

/* STACK_OF(X509) spelled out: clang-format mangles the macro before "**". */
static void x509_stack_freep(struct stack_st_X509 **p)
{
        sk_X509_pop_free(*p, X509_free);
}

/* Read every PEM certificate from bio into each(); -EBADMSG when something else is there. */
static int read_certs(BIO *bio, unsigned max, int (*each)(X509 *x, void *userdata), void *userdata,
                      const char *what, char *reason, size_t reason_size)
{
        char err[160];
        unsigned n = 0;

        ERR_clear_error();
        for (;;) {
                X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                if (!x) {
                        if (at_pem_end()) {
                                ERR_clear_error();
                                break;
                        }
                        set_reason(reason, reason_size, "%s: certificate %u: %s", what, n + 1,
                                   ossl_error(err, sizeof(err)));
                        return -EBADMSG;
                }
                if (++n > max) {
                        X509_free(x);
                        set_reason(reason, reason_size, "%s: more than %u certificates", what, max);
                        return -EBADMSG;
                }
                int r = each(x, userdata);
                if (r < 0) {
                        set_reason(reason, reason_size, "%s: certificate %u: %s", what, n,
                                   ossl_error(err, sizeof(err)));
                        return r;
                }
        }
        return (int)n;
}

static int add_anchor(X509 *x, void *userdata)
{
        int ok = X509_STORE_add_cert(userdata, x);
        X509_free(x); /* the store holds its own reference */
        return ok ? 0 : -ENOMEM;
}

static int add_untrusted(X509 *x, void *userdata)
{
        if (!sk_X509_push(userdata, x)) {
                X509_free(x);
                return -ENOMEM;
        }
        return 0;
}

/* The certificates of chain_pem (at most OB_X509_MAX_PEM, OB_X509_MAX_CHAIN of them) pushed on
 * into; -EBADMSG with the reason when it is too large, unreadable or holds none. */
static int read_chain(const char *chain_pem, STACK_OF(X509) * into, char *reason,
                      size_t reason_size)
{
        size_t len = strlen(chain_pem);
        int r;

        if (len > OB_X509_MAX_PEM) {
                set_reason(reason, reason_size, "chain: larger than %d bytes", OB_X509_MAX_PEM);
                return -EBADMSG;
        }
        _cleanup_(BIO_freep) BIO *b = BIO_new_mem_buf(chain_pem, (int)len);
        if (!b) {
                ERR_clear_error();
                return -ENOMEM;
        }
        r = read_certs(b, OB_X509_MAX_CHAIN, add_untrusted, into, "chain", reason, reason_size);
        if (r < 0)
                return r;
        if (r == 0) {
                set_reason(reason, reason_size, "chain: no certificate");
                return -EBADMSG;
        }
        return 0;
}

/* Each certificate of a verified chain valid at at_s: 0, or -EKEYREJECTED with OpenSSL's words
 * for the first that is not (the depth and subject as verify_with gives them). */
static int check_chain_time(STACK_OF(X509) * chain, int64_t at_s, char *reason, size_t reason_size)
{
        for (int i = 0; i < sk_X509_num(chain); i++) {
                X509 *c = sk_X509_value(chain, i);
                int64_t nb, na;
                int e = 0;
                char subject[256];

                if (ob_x509_validity(c, &nb, &na) < 0)
                        e = X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD;
                else if (at_s < nb)
                        e = X509_V_ERR_CERT_NOT_YET_VALID;
                else if (at_s >= na) /* as X509_cmp_time: expired at notAfter's second */
                        e = X509_V_ERR_CERT_HAS_EXPIRED;
                if (e == 0)
                        continue;
                if (!X509_NAME_oneline(X509_get_subject_name(c), subject, sizeof(subject)))
                        snprintf(subject, sizeof(subject), "?");
                set_reason(reason, reason_size, "%s (depth %d, %s)",
                           X509_verify_cert_error_string(e), i, subject);
                return -EKEYREJECTED;
        }
        return 0;
}

/* Verify cert against the anchors of store, through untrusted, at at_s (0: no time check;
 * partial chains allowed). 0, -ENOMEM, or -EKEYREJECTED with OpenSSL's reason and the subject
 * where it failed. */
static int verify_with(X509_STORE_CTX *ctx, X509_STORE *store, X509 *cert,
                       STACK_OF(X509) * untrusted, int64_t at_s, char *reason, size_t reason_size)
{
        char subject[256];

        if (!X509_STORE_CTX_init(ctx, store, cert, untrusted)) {
                ERR_clear_error();
                return -ENOMEM;
        }
        X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
        /* OpenSSL takes the verification time as a time_t: where at_s does not fit (after 2038
         * with a 32-bit time_t), it checks the chain without time and we check each link's
         * validity here, in 64 bits. */
        bool own_time_check = at_s != 0 && (int64_t)(time_t)at_s != at_s;
        if (at_s == 0 || own_time_check)
                X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
        else
                X509_VERIFY_PARAM_set_time(param, (time_t)at_s);
        if (X509_verify_cert(ctx) == 1) {
                ERR_clear_error();
                return own_time_check ? check_chain_time(X509_STORE_CTX_get0_chain(ctx), at_s,
                                                         reason, reason_size)
                                      : 0;
        }
        int e = X509_STORE_CTX_get_error(ctx);
        X509 *at = X509_STORE_CTX_get_current_cert(ctx);
        if (!at || !X509_NAME_oneline(X509_get_subject_name(at), subject, sizeof(subject)))
                snprintf(subject, sizeof(subject), "?");
        set_reason(reason, reason_size, "%s (depth %d, %s)", X509_verify_cert_error_string(e),
                   X509_STORE_CTX_get_error_depth(ctx), subject);
        ERR_clear_error();
        return -EKEYREJECTED;
}

int ob_x509_verify(X509 *cert, const char *chain_pem, const char *ca_file, int64_t at_s,
                   char *reason, size_t reason_size)
{
        _cleanup_(X509_STORE_freep) X509_STORE *store = NULL;
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *ctx = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *untrusted = NULL;
        _cleanup_(BIO_freep) BIO *cab = NULL;
        int r;

        set_reason(reason, reason_size, "%s", "");
        if (!cert || !ca_file || at_s < 0) {
                set_reason(reason, reason_size, "invalid argument");
                return -EINVAL;
        }
        store = X509_STORE_new();
        untrusted = sk_X509_new_null();
        ctx = X509_STORE_CTX_new();
        if (!store || !untrusted || !ctx) {
                ERR_clear_error();
                return -ENOMEM;
        }

        errno = 0;
        cab = BIO_new_file(ca_file, "re");
        if (!cab) {
                r = errno > 0 ? -errno : -EIO;
                ERR_clear_error();
                set_reason(reason, reason_size, "cannot open CA file %s: %s", ca_file,
                           strerror(-r));
                return r;
        }
        r = read_certs(cab, OB_X509_MAX_ANCHORS, add_anchor, store, "CA file", reason, reason_size);
        if (r < 0)
                return r;
        if (r == 0) {
                set_reason(reason, reason_size, "CA file %s holds no certificate", ca_file);
                return -EBADMSG;
        }

        if (chain_pem && *chain_pem) {
                r = read_chain(chain_pem, untrusted, reason, reason_size);
                if (r < 0)
                        return r;
        }
        return verify_with(ctx, store, cert, untrusted, at_s, reason, reason_size);
}

/* Is x issued by a certificate of chain other than itself? */
static bool issuer_in_chain(X509 *x, STACK_OF(X509) * chain)
{
        for (int i = 0; i < sk_X509_num(chain); i++) {
                X509 *c = sk_X509_value(chain, i);
                if (c != x && X509_check_issued(c, x) == X509_V_OK)
                        return true;
        }
        return false;
}

int ob_x509_verify_chain(X509 *cert, const char *chain_pem, int64_t at_s, char *reason,
                         size_t reason_size)
{
        _cleanup_(X509_STORE_freep) X509_STORE *store = NULL;
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *ctx = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *all = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *untrusted = NULL;
        int r;

        set_reason(reason, reason_size, "%s", "");
        if (!cert || !chain_pem || at_s < 0) {
                set_reason(reason, reason_size, "invalid argument");
                return -EINVAL;
        }
        store = X509_STORE_new();
        all = sk_X509_new_null();
        untrusted = sk_X509_new_null();
        ctx = X509_STORE_CTX_new();
        if (!store || !all || !untrusted || !ctx) {
                ERR_clear_error();
                return -ENOMEM;
        }
        r = read_chain(chain_pem, all, reason, reason_size);
        if (r < 0)
                return r;
        /* a "full chain" file may hold the certificate itself: trusting it would prove nothing */
        for (int i = sk_X509_num(all) - 1; i >= 0; i--)
                if (X509_cmp(sk_X509_value(all, i), cert) == 0)
                        X509_free(sk_X509_delete(all, i));
        if (sk_X509_num(all) == 0) {
                set_reason(reason, reason_size, "chain: only the certificate itself");
                return -EBADMSG;
        }
        for (int i = 0; i < sk_X509_num(all); i++) {
                X509 *x = sk_X509_value(all, i);
                bool top = X509_check_issued(x, x) == X509_V_OK || !issuer_in_chain(x, all);
                if (top ? !X509_STORE_add_cert(store, x) : !sk_X509_push(untrusted, x)) {
                        ERR_clear_error();
                        return -ENOMEM;
                }
                if (!top && !X509_up_ref(x)) {
                        (void)sk_X509_pop(untrusted);
                        return -ENOMEM;
                }
        }
        return verify_with(ctx, store, cert, untrusted, at_s, reason, reason_size);
}

int ob_x509_subject_cn(X509 *cert, char **ret)
{
        X509_NAME *name = X509_get_subject_name(cert);
        unsigned char *utf8 = NULL;
        int i = -1, last = -1;

        while ((i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0)
                last = i;
        if (last < 0)
                return -ENOENT;
        ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
        int n = ASN1_STRING_to_UTF8(&utf8, s);
        if (n < 0) {
                ERR_clear_error();
                return -EBADMSG;
        }
        if (memchr(utf8, 0, (size_t)n)) {
                OPENSSL_free(utf8);
                return -EBADMSG;
        }
        char *cn = strndup((const char *)utf8, (size_t)n);
        OPENSSL_free(utf8);
        if (!cn)
                return -ENOMEM;
        *ret = cn;
        return 0;
}

bool ob_clock_plausible(int64_t now_s, int64_t build_epoch_s)
{
        return now_s >= build_epoch_s;
}
