/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "macro.h"
#include "pki.h"

static void hex(const unsigned char *in, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * n] = '\0';
}

int ob_emu_pki_cert_id(X509 *cert, char ret[static OB_EMU_CERT_ID_LEN + 1])
{
        unsigned char md[32];
        unsigned int len = sizeof(md);

        if (!cert || X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != 32)
                return -EINVAL;
        hex(md, 32, ret);
        return 0;
}

X509 *ob_emu_pki_cert_from_pem(const char *pem)
{
        BIO *b = BIO_new_mem_buf(pem, -1);
        X509 *x;

        if (!b)
                return NULL;
        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
        return x;
}

char *ob_emu_pki_cert_to_pem(X509 *cert)
{
        BIO *b = BIO_new(BIO_s_mem());
        char *data, *out = NULL;
        long n;

        if (!b)
                return NULL;
        if (PEM_write_bio_X509(b, cert) == 1) {
                n = BIO_get_mem_data(b, &data);
                out = n > 0 ? strndup(data, (size_t)n) : NULL;
        }
        BIO_free(b);
        return out;
}

bool ob_emu_pki_issued_by(X509 *cert, X509 *ca)
{
        EVP_PKEY *k;

        if (X509_check_issued(ca, cert) != X509_V_OK)
                return false;
        k = X509_get0_pubkey(ca);
        return k && X509_verify(cert, k) == 1;
}

static int key_ok(EVP_PKEY *k)
{
        char group[64];
        size_t len = 0;

        switch (EVP_PKEY_get_base_id(k)) {
        case EVP_PKEY_RSA:
                return EVP_PKEY_get_bits(k) >= 2048 ? 0 : -EINVAL;
        case EVP_PKEY_EC:
                if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                    sizeof(group), &len))
                        return -EINVAL;
                if (!strcmp(group, "prime256v1") || !strcmp(group, "secp384r1") ||
                    !strcmp(group, "secp521r1"))
                        return 0;
                return -EINVAL;
        default:
                return -EINVAL;
        }
}

static int issue(X509_NAME *subject, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key, time_t now,
                 int64_t validity_s, X509 **ret)
{
        X509 *x = X509_new();
        unsigned char serial[16];
        BIGNUM *bn = NULL;
        X509V3_CTX v3;
        X509_EXTENSION *ext;
        int r = -EIO;

        if (!x)
                return -ENOMEM;
        if (RAND_bytes(serial, sizeof(serial)) != 1)
                goto out;
        serial[0] &= 0x7f;
        bn = BN_bin2bn(serial, sizeof(serial), NULL);
        if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
                goto out;
        if (X509_set_version(x, 2) != 1 || X509_set_subject_name(x, subject) != 1 ||
            X509_set_issuer_name(x, X509_get_subject_name(issuer)) != 1 ||
            X509_set_pubkey(x, pub) != 1)
                goto out;
        if (!X509_time_adj_ex(X509_getm_notBefore(x), 0, -60, &now) ||
            !X509_time_adj_ex(X509_getm_notAfter(x), (int)(validity_s / 86400),
                              (long)(validity_s % 86400), &now))
                goto out;
        X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:FALSE");
        if (!ext || X509_add_ext(x, ext, -1) != 1) {
                X509_EXTENSION_free(ext);
                goto out;
        }
        X509_EXTENSION_free(ext);
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "clientAuth");
        if (!ext || X509_add_ext(x, ext, -1) != 1) {
                X509_EXTENSION_free(ext);
                goto out;
        }
        X509_EXTENSION_free(ext);
        if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
                goto out;
        *ret = TAKE_PTR(x);
        r = 0;
out:
        BN_free(bn);
        X509_free(x);
        return r;
}

int ob_emu_pki_sign_csr(const char *csr_pem, X509 *issuer, EVP_PKEY *issuer_key, time_t now,
                        int64_t validity_s, X509 **ret)
{
        BIO *b;
        X509_REQ *req;
        EVP_PKEY *pub;
        int r;

        if (!csr_pem || !*csr_pem)
                return -EBADMSG;
        b = BIO_new_mem_buf(csr_pem, -1);
        if (!b)
                return -ENOMEM;
        req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
        BIO_free(b);
        if (!req)
                return -EBADMSG;
        pub = X509_REQ_get0_pubkey(req);
        if (!pub || X509_REQ_verify(req, pub) != 1) {
                X509_REQ_free(req);
                return -EBADMSG;
        }
        r = key_ok(pub);
        if (r == 0)
                r = issue(X509_REQ_get_subject_name(req), pub, issuer, issuer_key, now, validity_s,
                          ret);
        X509_REQ_free(req);
        return r;
}

int ob_emu_pki_make_key_and_cert(const char *key_type, const char *cn, X509 *issuer,
                                 EVP_PKEY *issuer_key, time_t now, int64_t validity_s,
                                 X509 **ret_cert, char **ret_key_pem)
{
        EVP_PKEY *k;
        X509_NAME *name = NULL;
        BIO *b = NULL;
        char *data;
        long n;
        int r = -EIO;

        if (key_type && !strcmp(key_type, "RSA"))
                k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        else
                k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (!k)
                return -EIO;
        name = X509_NAME_new();
        if (!name || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                 (const unsigned char *)cn, -1, -1, 0))
                goto out;
        r = issue(name, k, issuer, issuer_key, now, validity_s, ret_cert);
        if (r < 0)
                goto out;
        r = -EIO;
        b = BIO_new(BIO_s_mem());
        if (!b || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1)
                goto fail_cert;
        n = BIO_get_mem_data(b, &data);
        *ret_key_pem = n > 0 ? strndup(data, (size_t)n) : NULL;
        if (!*ret_key_pem)
                goto fail_cert;
        r = 0;
        goto out;
fail_cert:
        X509_free(*ret_cert);
        *ret_cert = NULL;
out:
        BIO_free(b); /* BIO_s_mem memory is not wiped: acceptable for emulator test keys */
        X509_NAME_free(name);
        EVP_PKEY_free(k);
        return r;
}

json_object *ob_emu_pki_subject_params(X509 *cert)
{
        static const struct {
                int nid;
                const char *param;
        } map[] = {
                {NID_commonName, "AWS::IoT::Certificate::CommonName"},
                {NID_countryName, "AWS::IoT::Certificate::Country"},
                {NID_organizationName, "AWS::IoT::Certificate::Organization"},
                {NID_organizationalUnitName, "AWS::IoT::Certificate::OrganizationalUnit"},
                {NID_dnQualifier, "AWS::IoT::Certificate::DistinguishedNameQualifier"},
                {NID_stateOrProvinceName, "AWS::IoT::Certificate::StateName"},
                {NID_serialNumber, "AWS::IoT::Certificate::SerialNumber"},
        };
        X509_NAME *subject = X509_get_subject_name(cert);
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < OB_ELEMENTSOF(map); i++) {
                char buf[256];
                if (X509_NAME_get_text_by_NID(subject, map[i].nid, buf, sizeof(buf)) > 0)
                        json_object_object_add(o, map[i].param, json_object_new_string(buf));
        }
        return o;
}

char *ob_emu_pki_random_hex(size_t n_bytes)
{
        unsigned char buf[64];
        char *out;

        if (n_bytes > sizeof(buf) || RAND_bytes(buf, (int)n_bytes) != 1)
                return NULL;
        out = malloc(2 * n_bytes + 1);
        if (out)
                hex(buf, n_bytes, out);
        return out;
}
