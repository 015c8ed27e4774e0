/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "csr.h"

/* A software signer standing in for the TPM: signs the digest with the private key. */
static int soft_sign(void *userdata, const uint8_t *digest, size_t digest_len, uint8_t **ret_sig,
                     size_t *ret_sig_len)
{
        EVP_PKEY *key = userdata;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
        size_t len = 0;
        assert_non_null(ctx);
        assert_true(digest_len == 32 || digest_len == 48);
        assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
        assert_int_equal(
                EVP_PKEY_CTX_set_signature_md(ctx, digest_len == 32 ? EVP_sha256() : EVP_sha384()),
                1);
        assert_int_equal(EVP_PKEY_sign(ctx, NULL, &len, digest, digest_len), 1);
        *ret_sig = malloc(len);
        assert_int_equal(EVP_PKEY_sign(ctx, *ret_sig, &len, digest, digest_len), 1);
        *ret_sig_len = len;
        EVP_PKEY_CTX_free(ctx);
        return 0;
}

static int failing_sign(void *userdata, const uint8_t *digest, size_t digest_len, uint8_t **ret_sig,
                        size_t *ret_sig_len)
{
        return -ENOLCK; /* e.g. TPM lockout */
}

static EVP_PKEY *new_key(void)
{
        EVP_PKEY *k = EVP_EC_gen("P-256");
        assert_non_null(k);
        return k;
}

static X509_REQ *parse(const char *pem)
{
        BIO *b = BIO_new_mem_buf(pem, -1);
        X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
        BIO_free(b);
        assert_non_null(req);
        return req;
}

static void test_csr_verifies_with_subject_and_key(void **state)
{
        EVP_PKEY *key = new_key();
        char *pem = NULL;
        /* many signatures, so DER signatures with trailing zero bytes/bits are covered too */
        for (int i = 0; i < 64; i++) {
                free(pem);
                assert_int_equal(
                        ob_csr_build("CN=gw-123,O=Acme\\, Inc.", key, soft_sign, key, &pem), 0);
                X509_REQ *req = parse(pem);
                assert_int_equal(X509_REQ_verify(req, key), 1);
                EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
                assert_int_equal(EVP_PKEY_eq(pub, key), 1);
                char buf[128];
                X509_NAME_oneline(X509_REQ_get_subject_name(req), buf, sizeof(buf));
                assert_string_equal(buf, "/CN=gw-123/O=Acme, Inc.");
                assert_int_equal(X509_REQ_get_signature_nid(req), NID_ecdsa_with_SHA256);
                X509_REQ_free(req);
        }
        free(pem);
        EVP_PKEY_free(key);
}

/* Each key type gets its own signature algorithm and hash, and the request verifies; RSA's
 * AlgorithmIdentifier carries the NULL parameter, ECDSA's none. */
static void test_key_types(void **state)
{
        struct {
                EVP_PKEY *key;
                int nid;
                const char *der_alg; /* the DER AlgorithmIdentifier of the signature */
                size_t der_alg_len;
        } cases[] = {
                {EVP_EC_gen("P-256"), NID_ecdsa_with_SHA256,
                 "\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02", 12},
                {EVP_EC_gen("P-384"), NID_ecdsa_with_SHA384,
                 "\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x03", 12},
                {EVP_RSA_gen(2048), NID_sha256WithRSAEncryption,
                 "\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00", 15},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *pem = NULL;
                assert_non_null(cases[i].key);
                assert_int_equal(ob_csr_build("CN=t", cases[i].key, soft_sign, cases[i].key, &pem),
                                 0);
                X509_REQ *req = parse(pem);
                assert_int_equal(X509_REQ_verify(req, cases[i].key), 1);
                assert_int_equal(X509_REQ_get_signature_nid(req), cases[i].nid);
                unsigned char *der = NULL;
                int n = i2d_X509_REQ(req, &der);
                assert_true(n > 0);
                /* the signature algorithm follows the request info at the top level */
                assert_non_null(memmem(der, (size_t)n, cases[i].der_alg, cases[i].der_alg_len));
                OPENSSL_free(der);
                X509_REQ_free(req);
                free(pem);
                EVP_PKEY_free(cases[i].key);
        }
}

static void test_signature_from_another_key_fails_verification(void **state)
{
        EVP_PKEY *key = new_key(), *other = new_key();
        char *pem;
        assert_int_equal(ob_csr_build("CN=x", key, soft_sign, other, &pem), 0);
        X509_REQ *req = parse(pem);
        assert_int_not_equal(X509_REQ_verify(req, key), 1);
        X509_REQ_free(req);
        free(pem);
        EVP_PKEY_free(key);
        EVP_PKEY_free(other);
}

static void test_bad_input(void **state)
{
        EVP_PKEY *key = new_key();
        char *pem = NULL;
        static const char *const bad[] = {"", "CN", "=x", "CN=", "CN=x,", "NOSUCHATTR=x"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (ob_csr_build(bad[i], key, soft_sign, key, &pem) != -EINVAL)
                        fail_msg("accepted subject \"%s\"", bad[i]);
        assert_int_equal(ob_csr_build("CN=x", key, failing_sign, NULL, &pem), -ENOLCK);
        assert_int_equal(ob_csr_build("CN=x", NULL, soft_sign, key, &pem), -EINVAL);
        /* keys we do not make: small RSA, other curves, EdDSA */
        EVP_PKEY *rsa = EVP_RSA_gen(1024), *p521 = EVP_EC_gen("P-521");
        EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        assert_int_equal(ob_csr_build("CN=x", rsa, soft_sign, rsa, &pem), -EINVAL);
        assert_int_equal(ob_csr_build("CN=x", p521, soft_sign, p521, &pem), -EINVAL);
        assert_int_equal(ob_csr_build("CN=x", ed, soft_sign, ed, &pem), -EINVAL);
        assert_null(pem);
        EVP_PKEY_free(rsa);
        EVP_PKEY_free(p521);
        EVP_PKEY_free(ed);
        EVP_PKEY_free(key);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_csr_verifies_with_subject_and_key),
                cmocka_unit_test(test_key_types),
                cmocka_unit_test(test_signature_from_another_key_fails_verification),
                cmocka_unit_test(test_bad_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
