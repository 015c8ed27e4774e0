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
#include <openssl/rsa.h>

#include "config-file.h"
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

/* Persistent TPM handles are the TPM backend's. */
static int not_a_handle(Soft *s, const char *path)
{
        if (!ob_key_path_is_handle(path))
                return 0;
        fail(s, "%s: TPM handles need the TPM key backend", path);
        return -EOPNOTSUPP;
}

static int read_key(Soft *s, const char *path, EVP_PKEY **ret)
{
        int r = not_a_handle(s, path);
        if (r < 0)
                return r;
        FILE *f = fopen(path, "re");
        if (!f) {
                r = ob_negative_errno();
                fail(s, "%s: %s", path, strerror(-r));
                return r;
        }
        EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (!k ||
            (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC && EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA)) {
                EVP_PKEY_free(k);
                fail(s, "%s: not an EC or RSA private key in PEM", path);
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

static EVP_PKEY *generate(int key_type)
{
        switch ((ObKeyType)key_type) {
        case OB_KEY_TYPE_EC_P256:
                return EVP_EC_gen("P-256");
        case OB_KEY_TYPE_EC_P384:
                return EVP_EC_gen("P-384");
        case OB_KEY_TYPE_RSA_2048:
                return EVP_RSA_gen(2048);
        case _OB_KEY_TYPE_MAX:
                break;
        }
        return NULL;
}

static int soft_create(ObKeyProvider *p, const char *path, int key_type, EVP_PKEY **ret_pub)
{
        Soft *s = (Soft *)p;
        EVP_PKEY *k;
        BIO *bio;
        int r;

        if (key_type < 0 || key_type >= _OB_KEY_TYPE_MAX) {
                fail(s, "unknown key type %d", key_type);
                return -EINVAL;
        }
        r = not_a_handle(s, path);
        if (r < 0)
                return r;
        k = generate(key_type);
        bio = BIO_new(BIO_s_mem());
        r = -ENOMEM;

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
        uint8_t *sig = NULL;
        size_t len = 0;
        /* the digest's length names its hash (key-provider.h) */
        const EVP_MD *md = digest_len == 32 ? EVP_sha256() : digest_len == 48 ? EVP_sha384() : NULL;
        if (!md) {
                fail((Soft *)p, "a %zu-byte digest is neither SHA-256 nor SHA-384", digest_len);
                return -EINVAL;
        }
        int r = read_key((Soft *)p, path, &k);
        if (r < 0)
                return r;
        r = -EIO;
        /* RSA: PKCS#1 v1.5 over a DigestInfo naming md; EC: ECDSA, DER */
        if ((ctx = EVP_PKEY_CTX_new(k, NULL)) && EVP_PKEY_sign_init(ctx) > 0 &&
            EVP_PKEY_CTX_set_signature_md(ctx, md) > 0 &&
            (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA ||
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0) &&
            EVP_PKEY_sign(ctx, NULL, &len, digest, digest_len) > 0 && (sig = malloc(len)) &&
            EVP_PKEY_sign(ctx, sig, &len, digest, digest_len) > 0) {
                *ret_sig = TAKE_PTR(sig);
                *ret_sig_len = len;
                r = 0;
        } else
                fail((Soft *)p, "%s: signing failed", path);
        free(sig);
        EVP_PKEY_CTX_free(ctx);
        EVP_PKEY_free(k);
        return r;
}

static int soft_destroy(ObKeyProvider *p, const char *path)
{
        int r = not_a_handle((Soft *)p, path);
        if (r < 0)
                return r;
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
