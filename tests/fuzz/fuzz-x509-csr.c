/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for certificate and CSR handling with OpenSSL, as the agent does it. The
 * first input byte picks the path, the rest is the input:
 *   even: the certificatePem of a fleet provisioning reply (or a file in the store), read with
 *         PEM_read_bio_X509 and checked as the agent will: an EC P-256 key, equal to ours or
 *         not, subject, validity, the SHA-256 certificate id; a chain of up to four; then
 *         judged by ob_cert_accept (lib/cert-accept.c) with its own id, which either accepts
 *         it or refuses it with a code and a sentence.
 *   odd:  a subject string for ob_csr_build (lib/csr.c): a CSR built from it must read back
 *         and verify against our key.
 * Seeds: tests/fuzz/corpus/x509-csr/.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cert-accept.h"
#include "csr.h"
#include "fuzz.h"
#include "x509.h"

static EVP_PKEY *our_key(void)
{
        static EVP_PKEY *key;
        if (!key)
                key = EVP_EC_gen("P-256");
        FUZZ_ASSERT(key);
        return key;
}

static int sign(void *userdata, const uint8_t *digest, size_t digest_len, uint8_t **ret_sig,
                size_t *ret_sig_len)
{
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(userdata, NULL);
        size_t n = 0;
        uint8_t *sig = NULL;
        int r = -EIO;

        if (ctx && EVP_PKEY_sign_init(ctx) > 0 &&
            EVP_PKEY_sign(ctx, NULL, &n, digest, digest_len) > 0 && (sig = malloc(n)) &&
            EVP_PKEY_sign(ctx, sig, &n, digest, digest_len) > 0) {
                *ret_sig = sig;
                *ret_sig_len = n;
                sig = NULL;
                r = 0;
        }
        free(sig);
        EVP_PKEY_CTX_free(ctx);
        return r;
}

static void check_certificate(X509 *x)
{
        EVP_PKEY *pub = X509_get0_pubkey(x);
        char group[32] = "";
        unsigned char id[EVP_MAX_MD_SIZE];
        unsigned id_len = 0;
        struct tm tm;

        if (pub && EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC)
                (void)EVP_PKEY_get_group_name(pub, group, sizeof(group), NULL);
        if (pub)
                (void)EVP_PKEY_eq(pub, our_key());
        BIO *out = BIO_new(BIO_s_mem());
        FUZZ_ASSERT(out);
        (void)X509_NAME_print_ex(out, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
        (void)X509_NAME_print_ex(out, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253);
        BIO_free(out);
        (void)ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm);
        (void)ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm);
        (void)X509_digest(x, EVP_sha256(), id, &id_len);
}

/* What the agent decides of a reply's certificatePem (given the right id, to get past it). */
static void judge(const uint8_t *data, size_t size)
{
        char *pem = strndup((const char *)data, size), id[OB_X509_FINGERPRINT_HEX_LEN + 1] = "";
        ObCertVerdict v;
        X509 *x = NULL;
        int r;

        FUZZ_ASSERT(pem);
        if (ob_x509_from_pem(pem, strlen(pem), &x) == 0) {
                (void)ob_x509_fingerprint_hex(x, id, sizeof(id));
                X509_free(x);
        }
        r = ob_cert_accept(pem, our_key(), id, (int64_t)time(NULL), 3600, &v);
        FUZZ_ASSERT(r == 0 || r == -ENOMEM || (r < 0 && v.code && v.text[0]));
        free(pem);
}

static void certificates(const uint8_t *data, size_t size)
{
        BIO *bio = BIO_new_mem_buf(data, (int)size);
        X509 *x;

        FUZZ_ASSERT(bio);
        for (int i = 0; i < 4 && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)); i++) {
                check_certificate(x);
                X509_free(x);
        }
        BIO_free(bio);
        judge(data, size);
}

static void csr(const uint8_t *data, size_t size)
{
        char *subject = strndup((const char *)data, size), *pem = NULL;

        FUZZ_ASSERT(subject);
        int r = ob_csr_build(subject, our_key(), sign, our_key(), &pem);
        free(subject);
        if (r < 0) {
                FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
                FUZZ_ASSERT(!pem);
                return;
        }
        BIO *bio = BIO_new_mem_buf(pem, -1);
        FUZZ_ASSERT(bio);
        X509_REQ *req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
        FUZZ_ASSERT(req);
        FUZZ_ASSERT(X509_REQ_verify(req, our_key()) == 1);
        FUZZ_ASSERT(X509_NAME_entry_count(X509_REQ_get_subject_name(req)) > 0);
        X509_REQ_free(req);
        BIO_free(bio);
        free(pem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1 || size > 64 * 1024)
                return 0;
        if (data[0] % 2 == 0)
                certificates(data + 1, size - 1);
        else
                csr(data + 1, size - 1);
        ERR_clear_error();
        return 0;
}
