/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fake key provider (tests/unit/fake-key-provider.h) and CSR building over the key-provider
 * interface: every key type gives a request that verifies; a signer that fails (on a chosen
 * call) makes ob_csr_build() return its error and leave no output behind.
 */
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
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config-file.h"
#include "csr.h"
#include "fake-key-provider.h"

struct signer {
        ObKeyProvider *p;
        const char *path;
};

static int sign_cb(void *u, const uint8_t *d, size_t n, uint8_t **sig, size_t *len)
{
        struct signer *s = u;
        return s->p->ops->sign_digest(s->p, s->path, d, n, sig, len);
}

static void test_csr_every_key_type(void **state)
{
        static const struct {
                int type, nid;
        } cases[] = {
                {OB_KEY_TYPE_EC_P256, NID_ecdsa_with_SHA256},
                {OB_KEY_TYPE_EC_P384, NID_ecdsa_with_SHA384},
                {OB_KEY_TYPE_RSA_2048, NID_sha256WithRSAEncryption},
        };
        _cleanup_(ob_key_provider_freep) ObKeyProvider *p = NULL;
        assert_int_equal(ob_fake_key_provider_new(&p), 0);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                EVP_PKEY *pub = NULL;
                char *pem = NULL;
                struct signer s = {p, "k"};
                assert_int_equal(p->ops->create(p, "k", cases[i].type, &pub), 0);
                assert_int_equal(ob_csr_build("CN=fake", pub, sign_cb, &s, &pem), 0);
                BIO *b = BIO_new_mem_buf(pem, -1);
                X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
                assert_non_null(req);
                assert_int_equal(X509_REQ_verify(req, pub), 1);
                assert_int_equal(X509_REQ_get_signature_nid(req), cases[i].nid);
                X509_REQ_free(req);
                BIO_free(b);
                free(pem);
                EVP_PKEY_free(pub);
        }
        assert_int_equal(ob_fake_key_provider_calls(p, OB_FAKE_KEY_CREATE), 3);
        assert_int_equal(ob_fake_key_provider_calls(p, OB_FAKE_KEY_SIGN), 3);
}

static void test_csr_sign_failure_leaves_no_output(void **state)
{
        _cleanup_(ob_key_provider_freep) ObKeyProvider *p = NULL;
        EVP_PKEY *pub = NULL;
        struct signer s = {p, "device.key"};
        char *pem = NULL, sentinel[] = "untouched", *out;

        assert_int_equal(ob_fake_key_provider_new(&p), 0);
        s.p = p;
        assert_int_equal(p->ops->create(p, "device.key", OB_KEY_TYPE_EC_P256, &pub), 0);
        /* the second signature fails, e.g. TPM lockout */
        ob_fake_key_provider_fail(p, OB_FAKE_KEY_SIGN, -ENOLCK, 2);
        assert_int_equal(ob_csr_build("CN=a", pub, sign_cb, &s, &pem), 0);
        free(pem);
        out = sentinel;
        assert_int_equal(ob_csr_build("CN=a", pub, sign_cb, &s, &out), -ENOLCK);
        assert_ptr_equal(out, sentinel); /* no half output */
        assert_non_null(strstr(p->ops->last_error(p), "injected"));
        pem = NULL;
        assert_int_equal(ob_csr_build("CN=a", pub, sign_cb, &s, &pem), 0); /* call 3: fine */
        free(pem);
        /* every call from now on */
        ob_fake_key_provider_fail(p, OB_FAKE_KEY_SIGN, -EIO, 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(ob_csr_build("CN=a", pub, sign_cb, &s, &out), -EIO);
        assert_ptr_equal(out, sentinel);
        assert_int_equal(ob_fake_key_provider_calls(p, OB_FAKE_KEY_SIGN), 6);
        EVP_PKEY_free(pub);
}

static void test_fake_ops(void **state)
{
        _cleanup_(ob_key_provider_freep) ObKeyProvider *p = NULL;
        EVP_PKEY *pub = NULL, *pub2 = NULL;

        assert_int_equal(ob_fake_key_provider_new(&p), 0);
        assert_string_equal(p->ops->tls_provider(p), "default");
        assert_int_equal(p->ops->load(p, "a", &pub), -ENOENT);
        assert_int_equal(p->ops->create(p, "a", _OB_KEY_TYPE_MAX, &pub), -EINVAL);
        /* a failed create stores nothing */
        ob_fake_key_provider_fail(p, OB_FAKE_KEY_CREATE, -ENOSPC, 2);
        assert_int_equal(p->ops->create(p, "a", OB_KEY_TYPE_EC_P256, &pub), -ENOSPC);
        assert_null(pub);
        assert_null(ob_fake_key_provider_key(p, "a"));
        assert_int_equal(p->ops->create(p, "a", OB_KEY_TYPE_EC_P256, &pub), 0);
        assert_int_equal(p->ops->load(p, "a", &pub2), 0);
        assert_int_equal(EVP_PKEY_eq(pub, pub2), 1);
        assert_int_equal(EVP_PKEY_eq(pub, ob_fake_key_provider_key(p, "a")), 1);
        ob_fake_key_provider_fail(p, OB_FAKE_KEY_DESTROY, -EROFS, 1);
        assert_int_equal(p->ops->destroy(p, "a"), -EROFS);
        assert_non_null(ob_fake_key_provider_key(p, "a"));
        assert_int_equal(p->ops->destroy(p, "a"), 0);
        assert_int_equal(p->ops->load(p, "a", NULL), -ENOENT);
        /* bounded */
        char path[16];
        for (int i = 0; i < OB_FAKE_KEY_MAX; i++) {
                snprintf(path, sizeof(path), "k%d", i);
                assert_int_equal(p->ops->create(p, path, OB_KEY_TYPE_EC_P256, NULL), 0);
        }
        assert_int_equal(p->ops->create(p, "one-more", OB_KEY_TYPE_EC_P256, NULL), -ENOSPC);
        assert_int_equal(p->ops->create(p, "k0", OB_KEY_TYPE_EC_P256, NULL), 0); /* replaces */
        EVP_PKEY_free(pub);
        EVP_PKEY_free(pub2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_csr_every_key_type),
                cmocka_unit_test(test_csr_sign_failure_leaves_no_output),
                cmocka_unit_test(test_fake_ops),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
