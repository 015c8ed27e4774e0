/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Software keys, for devices without a TPM: the private key is an ordinary PEM file (mode
 * 0600 in a 0700 directory). The agent warns about this at start-up (docs/tpm.md).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "fsops.h"
#include "key-provider.h"

typedef struct Soft {
        ObKeyProvider base;
        char error[256];
} Soft;

_printf_(2, 3) static int fail(Soft *s, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->error, sizeof(s->error), fmt, ap);
        va_end(ap);
        return 0;
}

static int read_key(Soft *s, const char *path, EVP_PKEY **ret)
{
        FILE *f = fopen(path, "re");
        if (!f) {
                int r = ob_negative_errno();
                fail(s, "%s: %s", path, strerror(-r));
                return r;
        }
        EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) {
                EVP_PKEY_free(k);
                fail(s, "%s: not an EC private key in PEM", path);
                return -EBADMSG;
        }
        *ret = k;
        return 0;
}

/* The public half only, so callers never hold the private key by accident. */
static int public_of(EVP_PKEY *k, EVP_PKEY **ret)
{
        unsigned char *der = NULL;
        int n = i2d_PUBKEY(k, &der);
        if (n <= 0)
                return -ENOMEM;
        const unsigned char *p = der;
        *ret = d2i_PUBKEY(NULL, &p, n);
        OPENSSL_free(der);
        return *ret ? 0 : -ENOMEM;
}

static int soft_create(ObKeyProvider *p, const char *path, EVP_PKEY **ret_pub)
{
        Soft *s = (Soft *)p;
        EVP_PKEY *k = EVP_EC_gen("P-256");
        BIO *bio = BIO_new(BIO_s_mem());
        int r = -ENOMEM;

        if (k && bio && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)) {
                char *data;
                long n = BIO_get_mem_data(bio, &data);
                r = ob_fs_write_file_atomic(NULL, path, data, (size_t)n, 0600);
                OPENSSL_cleanse(data, (size_t)n);
                if (r < 0)
                        fail(s, "writing %s: %s", path, strerror(-r));
        }
        if (r == 0 && ret_pub)
                r = public_of(k, ret_pub);
        BIO_free(bio);
        EVP_PKEY_free(k);
        return r;
}

static int soft_load(ObKeyProvider *p, const char *path, EVP_PKEY **ret_pub)
{
        EVP_PKEY *k = NULL; /* set by read_key() on success */
        int r = read_key((Soft *)p, path, &k);
        if (r < 0)
                return r;
        r = ret_pub ? public_of(k, ret_pub) : 0;
        EVP_PKEY_free(k);
        return r;
}

static int soft_sign(ObKeyProvider *p, const char *path, const uint8_t *digest, size_t digest_len,
                     uint8_t **ret_sig, size_t *ret_sig_len)
{
        EVP_PKEY *k = NULL; /* set by read_key() on success */
        EVP_PKEY_CTX *ctx = NULL;
        size_t len = 0;
        int r = read_key((Soft *)p, path, &k);
        if (r < 0)
                return r;
        r = -EIO;
        if ((ctx = EVP_PKEY_CTX_new(k, NULL)) && EVP_PKEY_sign_init(ctx) > 0 &&
            EVP_PKEY_sign(ctx, NULL, &len, digest, digest_len) > 0 && (*ret_sig = malloc(len))) {
                if (EVP_PKEY_sign(ctx, *ret_sig, &len, digest, digest_len) > 0) {
                        *ret_sig_len = len;
                        r = 0;
                } else {
                        free(*ret_sig);
                        *ret_sig = NULL;
                }
        }
        EVP_PKEY_CTX_free(ctx);
        EVP_PKEY_free(k);
        return r;
}

static int soft_destroy(ObKeyProvider *p, const char *path)
{
        if (unlink(path) < 0 && errno != ENOENT)
                return ob_negative_errno();
        return 0;
}

static const char *soft_tls_provider(ObKeyProvider *p)
{
        return "default";
}

static const char *soft_last_error(ObKeyProvider *p)
{
        return ((Soft *)p)->error;
}

static void soft_free(ObKeyProvider *p)
{
        free(p);
}

static const ObKeyProviderOps soft_ops = {
        .create = soft_create,
        .load = soft_load,
        .sign_digest = soft_sign,
        .destroy = soft_destroy,
        .tls_provider = soft_tls_provider,
        .last_error = soft_last_error,
        .free = soft_free,
};

int ob_key_provider_software_new(ObKeyProvider **ret)
{
        Soft *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->base.ops = &soft_ops;
        *ret = &s->base;
        return 0;
}
