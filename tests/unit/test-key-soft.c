/* SPDX-License-Identifier: Apache-2.0 */
/* The software key backend behind the key-provider interface (no TPM needed). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config-file.h"
#include "csr.h"
#include "key-provider.h"

static char dir[64], path[128];

static int setup(void **state)
{
        snprintf(dir, sizeof(dir), "/tmp/ob-test-keysoft-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/device.key", dir);
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

struct signer {
        ObKeyProvider *p;
        const char *path;
};

static int sign_cb(void *u, const uint8_t *d, size_t n, uint8_t **sig, size_t *len)
{
        struct signer *s = u;
        return s->p->ops->sign_digest(s->p, s->path, d, n, sig, len);
}

static void create_load_sign(int key_type, int sig_nid, int bits)
{
        _cleanup_(ob_key_provider_freep) ObKeyProvider *p = NULL;
        EVP_PKEY *pub1 = NULL, *pub2 = NULL;
        struct stat st;

        assert_int_equal(ob_key_provider_software_new(&p), 0);
        assert_string_equal(p->ops->tls_provider(p), "default");
        assert_int_equal(p->ops->create(p, path, key_type, &pub1), 0);
        assert_int_equal(EVP_PKEY_get_bits(pub1), bits);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(p->ops->load(p, path, &pub2), 0);
        assert_int_equal(EVP_PKEY_eq(pub1, pub2), 1);
        /* the returned key is public only */
        assert_int_equal(EVP_PKEY_get_bn_param(pub1, "priv", &(BIGNUM *){NULL}), 0);

        /* signatures made through the interface verify: a CSR over the provider */
        struct signer s = {p, path};
        char *pem = NULL;
        assert_int_equal(ob_csr_build("CN=soft", pub2, sign_cb, &s, &pem), 0);
        BIO *b = BIO_new_mem_buf(pem, -1);
        X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
        assert_non_null(req);
        assert_int_equal(X509_REQ_verify(req, pub1), 1);
        assert_int_equal(X509_REQ_get_signature_nid(req), sig_nid);
        X509_REQ_free(req);
        BIO_free(b);
        free(pem);

        assert_int_equal(p->ops->destroy(p, path), 0);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(p->ops->destroy(p, path), 0); /* idempotent */
        EVP_PKEY_free(pub1);
        EVP_PKEY_free(pub2);
}

static void test_create_load_sign(void **state)
{
        create_load_sign(OB_KEY_TYPE_EC_P256, NID_ecdsa_with_SHA256, 256);
        create_load_sign(OB_KEY_TYPE_EC_P384, NID_ecdsa_with_SHA384, 384);
        create_load_sign(OB_KEY_TYPE_RSA_2048, NID_sha256WithRSAEncryption, 2048);
}

static void test_errors(void **state)
{
        _cleanup_(ob_key_provider_freep) ObKeyProvider *p = NULL;
        EVP_PKEY *pub = NULL;
        assert_int_equal(ob_key_provider_software_new(&p), 0);
        assert_int_equal(p->ops->load(p, path, &pub), -ENOENT);
        assert_non_null(strstr(p->ops->last_error(p), "device.key"));
        FILE *f = fopen(path, "w");
        fputs("not a key\n", f);
        fclose(f);
        assert_int_equal(p->ops->load(p, path, &pub), -EBADMSG);
        assert_non_null(strstr(p->ops->last_error(p), "not an EC or RSA private key"));
        char bad[160];
        snprintf(bad, sizeof(bad), "%s/no/such/dir/k.pem", dir);
        assert_int_equal(p->ops->create(p, bad, OB_KEY_TYPE_EC_P256, &pub), -ENOENT);
        assert_int_equal(p->ops->create(p, path, _OB_KEY_TYPE_MAX, &pub), -EINVAL);
        assert_int_equal(p->ops->create(p, path, -1, &pub), -EINVAL);
        /* persistent TPM handles belong to the TPM backend */
        assert_int_equal(p->ops->create(p, "handle:0x81000002", OB_KEY_TYPE_EC_P256, &pub),
                         -EOPNOTSUPP);
        assert_int_equal(p->ops->load(p, "handle:0x81000002", &pub), -EOPNOTSUPP);
        assert_int_equal(p->ops->destroy(p, "handle:0x81000002"), -EOPNOTSUPP);
        assert_null(pub);
        /* digests of other lengths than SHA-256 and SHA-384 */
        assert_int_equal(p->ops->create(p, path, OB_KEY_TYPE_EC_P256, NULL), 0);
        uint8_t d[64] = {0}, *sig = NULL;
        size_t len;
        assert_int_equal(p->ops->sign_digest(p, path, d, 20, &sig, &len), -EINVAL);
        assert_int_equal(p->ops->sign_digest(p, path, d, 64, &sig, &len), -EINVAL);
        assert_null(sig);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create_load_sign, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
