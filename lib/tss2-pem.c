/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "macro.h"
#include "tss2-pem.h"

#define PEM_NAME "TSS2 PRIVATE KEY"

/* 2.23.133.10.1.3 */
static const uint8_t oid_loadable[] = {0x06, 0x06, 0x67, 0x81, 0x05, 0x0a, 0x01, 0x03};

typedef struct Buf {
        uint8_t *p;
        size_t len, cap;
} Buf;

static int put(Buf *b, const void *d, size_t n)
{
        if (b->len + n > b->cap)
                return -EINVAL;
        memcpy(b->p + b->len, d, n);
        b->len += n;
        return 0;
}

static int put_tl(Buf *b, uint8_t tag, size_t len)
{
        uint8_t h[4] = {tag};
        size_t n;
        if (len < 0x80) {
                h[1] = (uint8_t)len;
                n = 2;
        } else if (len < 0x100) {
                h[1] = 0x81;
                h[2] = (uint8_t)len;
                n = 3;
        } else if (len < 0x10000) {
                h[1] = 0x82;
                h[2] = (uint8_t)(len >> 8);
                h[3] = (uint8_t)len;
                n = 4;
        } else
                return -EINVAL;
        return put(b, h, n);
}

static size_t tl_size(size_t len)
{
        return len < 0x80 ? 2 : len < 0x100 ? 3 : 4;
}

/* Minimal two's-complement INTEGER content for an unsigned 32-bit value. */
static size_t int_content(uint32_t v, uint8_t out[5])
{
        uint8_t tmp[5] = {0, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        size_t i = 0;
        while (i < 4 && tmp[i] == 0 && !(tmp[i + 1] & 0x80))
                i++;
        memcpy(out, tmp + i, 5 - i);
        return 5 - i;
}

int ob_tss2_key_to_der(const ObTss2Key *k, uint8_t **ret, size_t *ret_len)
{
        uint8_t parent[5];
        size_t plen = int_content(k->parent, parent);

        if (k->pub_len > OB_TSS2_PEM_MAX_BLOB || k->priv_len > OB_TSS2_PEM_MAX_BLOB)
                return -EINVAL;
        size_t body = sizeof(oid_loadable) + (k->empty_auth ? 5 : 0) + 2 + plen +
                      tl_size(k->pub_len) + k->pub_len + tl_size(k->priv_len) + k->priv_len;
        Buf b = {.cap = tl_size(body) + body};
        b.p = malloc(b.cap);
        if (!b.p)
                return -ENOMEM;
        static const uint8_t empty_auth_true[] = {0xa0, 0x03, 0x01, 0x01, 0xff};
        if (put_tl(&b, 0x30, body) < 0 || put(&b, oid_loadable, sizeof(oid_loadable)) < 0 ||
            (k->empty_auth && put(&b, empty_auth_true, sizeof(empty_auth_true)) < 0) ||
            put_tl(&b, 0x02, plen) < 0 || put(&b, parent, plen) < 0 ||
            put_tl(&b, 0x04, k->pub_len) < 0 || put(&b, k->pub, k->pub_len) < 0 ||
            put_tl(&b, 0x04, k->priv_len) < 0 || put(&b, k->priv, k->priv_len) < 0 ||
            b.len != b.cap) {
                free(b.p);
                return -EINVAL;
        }
        *ret = b.p;
        *ret_len = b.len;
        return 0;
}

typedef struct Rd {
        const uint8_t *p;
        size_t len, pos;
} Rd;

/* Read a tag and a DER (minimal) length; the content starts at r->pos. */
static int get_tl(Rd *r, uint8_t tag, size_t *ret_len)
{
        size_t len;
        if (r->pos + 2 > r->len || r->p[r->pos] != tag)
                return -EBADMSG;
        uint8_t l0 = r->p[r->pos + 1];
        r->pos += 2;
        if (l0 < 0x80)
                len = l0;
        else if (l0 == 0x81) {
                if (r->pos + 1 > r->len || r->p[r->pos] < 0x80)
                        return -EBADMSG;
                len = r->p[r->pos++];
        } else if (l0 == 0x82) {
                if (r->pos + 2 > r->len || r->p[r->pos] == 0)
                        return -EBADMSG;
                len = (size_t)r->p[r->pos] << 8 | r->p[r->pos + 1];
                r->pos += 2;
                if (len < 0x100)
                        return -EBADMSG;
        } else
                return -EBADMSG;
        if (len > r->len - r->pos)
                return -EBADMSG;
        *ret_len = len;
        return 0;
}

int ob_tss2_key_from_der(const uint8_t *der, size_t len, ObTss2Key *ret)
{
        Rd r = {der, len, 0};
        size_t n;
        ObTss2Key k = {0};

        if (get_tl(&r, 0x30, &n) < 0 || r.pos + n != len)
                return -EBADMSG;
        if (r.pos + sizeof(oid_loadable) > len ||
            memcmp(r.p + r.pos, oid_loadable, sizeof(oid_loadable)) != 0)
                return -EBADMSG;
        r.pos += sizeof(oid_loadable);
        if (r.pos < len && r.p[r.pos] == 0xa0) {
                size_t m;
                if (get_tl(&r, 0xa0, &m) < 0 || m != 3 || get_tl(&r, 0x01, &m) < 0 || m != 1)
                        return -EBADMSG;
                /* DER says 0xff, but tpm2-openssl 1.1 writes TRUE as 0x01: accept BER */
                k.empty_auth = r.p[r.pos] != 0x00;
                r.pos++;
        }
        if (get_tl(&r, 0x02, &n) < 0 || n == 0 || n > 5)
                return -EBADMSG;
        if (r.p[r.pos] & 0x80) /* negative */
                return -EBADMSG;
        if (n > 1 && r.p[r.pos] == 0 && !(r.p[r.pos + 1] & 0x80)) /* not minimal */
                return -EBADMSG;
        if (n == 5 && r.p[r.pos] != 0)
                return -EBADMSG;
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
                v = v << 8 | r.p[r.pos + i];
        k.parent = (uint32_t)v;
        r.pos += n;
        if (get_tl(&r, 0x04, &n) < 0 || n == 0 || n > OB_TSS2_PEM_MAX_BLOB)
                return -EBADMSG;
        memcpy(k.pub, r.p + r.pos, n);
        k.pub_len = n;
        r.pos += n;
        if (get_tl(&r, 0x04, &n) < 0 || n == 0 || n > OB_TSS2_PEM_MAX_BLOB)
                return -EBADMSG;
        memcpy(k.priv, r.p + r.pos, n);
        k.priv_len = n;
        r.pos += n;
        if (r.pos != len)
                return -EBADMSG;
        *ret = k;
        return 0;
}

int ob_tss2_key_to_pem(const ObTss2Key *k, char **ret)
{
        _cleanup_free_ uint8_t *der = NULL;
        size_t der_len;
        int r = ob_tss2_key_to_der(k, &der, &der_len);
        if (r < 0)
                return r;
        BIO *bio = BIO_new(BIO_s_mem());
        if (!bio)
                return -ENOMEM;
        if (!PEM_write_bio(bio, PEM_NAME, "", der, (long)der_len)) {
                BIO_free(bio);
                return -ENOMEM;
        }
        char *data;
        long n = BIO_get_mem_data(bio, &data);
        char *s = n > 0 ? strndup(data, (size_t)n) : NULL;
        BIO_free(bio);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int ob_tss2_key_from_pem(const char *pem, size_t len, ObTss2Key *ret)
{
        char *name = NULL, *header = NULL;
        unsigned char *der = NULL;
        long der_len = 0;
        int r = -EBADMSG;

        if (len > 64 * 1024)
                return -EBADMSG;
        BIO *bio = BIO_new_mem_buf(pem, (int)len);
        if (!bio)
                return -ENOMEM;
        if (PEM_read_bio(bio, &name, &header, &der, &der_len) && strcmp(name, PEM_NAME) == 0 &&
            header[0] == 0)
                r = ob_tss2_key_from_der(der, (size_t)der_len, ret);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        BIO_free(bio);
        return r;
}
