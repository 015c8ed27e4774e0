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
        assert_int_equal(digest_len, 32);
        assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
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
        EVP_PKEY *rsa = EVP_RSA_gen(2048);
        assert_int_equal(ob_csr_build("CN=x", rsa, soft_sign, rsa, &pem), -EINVAL);
        assert_null(pem);
        EVP_PKEY_free(rsa);
        EVP_PKEY_free(key);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_csr_verifies_with_subject_and_key),
                cmocka_unit_test(test_signature_from_another_key_fails_verification),
                cmocka_unit_test(test_bad_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
