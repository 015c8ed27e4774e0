/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "config-file.h"
#include "fake-key-provider.h"

typedef struct FakeKey {
        char *path;
        EVP_PKEY *key;
} FakeKey;

typedef struct Fake {
        ObKeyProvider base;
        FakeKey keys[OB_FAKE_KEY_MAX];
        unsigned calls[_OB_FAKE_KEY_OP_MAX];
        int fail_error[_OB_FAKE_KEY_OP_MAX];
        unsigned fail_call[_OB_FAKE_KEY_OP_MAX];
        char error[128];
} Fake;

/* Count the call; the injected error if this call is to fail, else 0. */
static int enter(Fake *f, ObFakeKeyOp op)
{
        unsigned n = ++f->calls[op];
        int e = f->fail_error[op];
        if (e < 0 && (f->fail_call[op] == 0 || f->fail_call[op] == n)) {
                snprintf(f->error, sizeof(f->error), "injected failure: op %d call %u: %s", op, n,
                         strerror(-e));
                return e;
        }
        return 0;
}

static FakeKey *find(Fake *f, const char *path)
{
        for (size_t i = 0; i < OB_FAKE_KEY_MAX; i++)
                if (f->keys[i].path && strcmp(f->keys[i].path, path) == 0)
                        return &f->keys[i];
        return NULL;
}

static void drop(FakeKey *k)
{
        free(k->path);
        EVP_PKEY_free(k->key);
        *k = (FakeKey){0};
}

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

static int fake_create(ObKeyProvider *p, const char *path, int key_type, EVP_PKEY **ret_pub)
{
        Fake *f = (Fake *)p;
        FakeKey *slot = NULL;
        EVP_PKEY *k = NULL;
        int r = enter(f, OB_FAKE_KEY_CREATE);
        if (r < 0)
                return r;
        if (key_type < 0 || key_type >= _OB_KEY_TYPE_MAX)
                return -EINVAL;
        switch ((ObKeyType)key_type) {
        case OB_KEY_TYPE_EC_P256:
                k = EVP_EC_gen("P-256");
                break;
        case OB_KEY_TYPE_EC_P384:
                k = EVP_EC_gen("P-384");
                break;
        case OB_KEY_TYPE_RSA_2048:
                k = EVP_RSA_gen(2048);
                break;
        case _OB_KEY_TYPE_MAX:
                break;
        }
        if (!k)
                return -ENOMEM;
        /* replaces an existing key at path, like the atomic file write of the real backends */
        slot = find(f, path);
        for (size_t i = 0; !slot && i < OB_FAKE_KEY_MAX; i++)
                if (!f->keys[i].path)
                        slot = &f->keys[i];
        if (!slot) {
                EVP_PKEY_free(k);
                return -ENOSPC;
        }
        EVP_PKEY *pub = NULL;
        char *copy = strdup(path);
        if (!copy || (ret_pub && public_of(k, &pub) < 0)) {
                free(copy);
                EVP_PKEY_free(k);
                return -ENOMEM;
        }
        drop(slot);
        slot->path = copy;
        slot->key = k;
        if (ret_pub)
                *ret_pub = pub;
        return 0;
}

static int fake_load(ObKeyProvider *p, const char *path, EVP_PKEY **ret_pub)
{
        Fake *f = (Fake *)p;
        int r = enter(f, OB_FAKE_KEY_LOAD);
        if (r < 0)
                return r;
        FakeKey *k = find(f, path);
        if (!k)
                return -ENOENT;
        return ret_pub ? public_of(k->key, ret_pub) : 0;
}

static int fake_sign(ObKeyProvider *p, const char *path, const uint8_t *digest, size_t digest_len,
                     uint8_t **ret_sig, size_t *ret_sig_len)
{
        Fake *f = (Fake *)p;
        EVP_PKEY_CTX *ctx = NULL;
        uint8_t *sig = NULL;
        size_t len = 0;
        int r = enter(f, OB_FAKE_KEY_SIGN);
        if (r < 0)
                return r;
        FakeKey *k = find(f, path);
        if (!k)
                return -ENOENT;
        const EVP_MD *md = digest_len == 32 ? EVP_sha256() : digest_len == 48 ? EVP_sha384() : NULL;
        if (!md)
                return -EINVAL;
        r = -EIO;
        if ((ctx = EVP_PKEY_CTX_new(k->key, NULL)) && EVP_PKEY_sign_init(ctx) > 0 &&
            EVP_PKEY_CTX_set_signature_md(ctx, md) > 0 &&
            (EVP_PKEY_get_base_id(k->key) != EVP_PKEY_RSA ||
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0) &&
            EVP_PKEY_sign(ctx, NULL, &len, digest, digest_len) > 0 && (sig = malloc(len)) &&
            EVP_PKEY_sign(ctx, sig, &len, digest, digest_len) > 0) {
                *ret_sig = TAKE_PTR(sig);
                *ret_sig_len = len;
                r = 0;
        }
        free(sig);
        EVP_PKEY_CTX_free(ctx);
        return r;
}

static int fake_destroy(ObKeyProvider *p, const char *path)
{
        Fake *f = (Fake *)p;
        int r = enter(f, OB_FAKE_KEY_DESTROY);
        if (r < 0)
                return r;
        FakeKey *k = find(f, path);
        if (k)
                drop(k);
        return 0;
}

static const char *fake_tls_provider(ObKeyProvider *p)
{
        return "default";
}

static const char *fake_last_error(ObKeyProvider *p)
{
        return ((Fake *)p)->error;
}

static void fake_free(ObKeyProvider *p)
{
        Fake *f = (Fake *)p;
        for (size_t i = 0; i < OB_FAKE_KEY_MAX; i++)
                drop(&f->keys[i]);
        free(f);
}

static const ObKeyProviderOps fake_ops = {
        .create = fake_create,
        .load = fake_load,
        .sign_digest = fake_sign,
        .destroy = fake_destroy,
        .tls_provider = fake_tls_provider,
        .last_error = fake_last_error,
        .free = fake_free,
};

int ob_fake_key_provider_new(ObKeyProvider **ret)
{
        Fake *f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->base.ops = &fake_ops;
        *ret = &f->base;
        return 0;
}

void ob_fake_key_provider_fail(ObKeyProvider *p, ObFakeKeyOp op, int error, unsigned call)
{
        Fake *f = (Fake *)p;
        f->fail_error[op] = error;
        f->fail_call[op] = call;
}

unsigned ob_fake_key_provider_calls(ObKeyProvider *p, ObFakeKeyOp op)
{
        return ((Fake *)p)->calls[op];
}

EVP_PKEY *ob_fake_key_provider_key(ObKeyProvider *p, const char *path)
{
        FakeKey *k = find((Fake *)p, path);
        return k ? k->key : NULL;
}
