/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "csr.h"
#include "macro.h"

/* Parse "A=v,B=w" (with "\," for a literal comma) into name. */
static int parse_subject(const char *subject, X509_NAME *name)
{
        size_t n = strlen(subject);
        if (n == 0 || n > 1024)
                return -EINVAL;
        _cleanup_free_ char *buf = malloc(n + 1);
        if (!buf)
                return -ENOMEM;
        const char *s = subject;
        while (*s) {
                size_t len = 0;
                for (; *s && *s != ','; s++) {
                        if (*s == '\\' && s[1] == ',')
                                s++;
                        buf[len++] = *s;
                }
                buf[len] = 0;
                if (*s == ',' && !*++s)
                        return -EINVAL; /* trailing comma: an empty attribute */
                char *eq = strchr(buf, '=');
                if (!eq || eq == buf || !eq[1])
                        return -EINVAL;
                *eq = 0;
                if (!X509_NAME_add_entry_by_txt(name, buf, MBSTRING_UTF8,
                                                (const unsigned char *)eq + 1, -1, -1, 0))
                        return -EINVAL;
        }
        return X509_NAME_entry_count(name) > 0 ? 0 : -EINVAL;
}

/* The hash and signature algorithm for pub: the hash matches the curve's strength for EC keys
 * (RFC 5480); RSA keys use PKCS#1 v1.5 with SHA-256, whose AlgorithmIdentifier carries an
 * explicit NULL parameter (RFC 4055), where ECDSA's has none (RFC 5758). */
static int signature_algorithm(EVP_PKEY *pub, const EVP_MD **ret_md, int *ret_nid,
                               int *ret_param_type)
{
        switch (EVP_PKEY_get_base_id(pub)) {
        case EVP_PKEY_EC: {
                char group[32];
                if (!EVP_PKEY_get_group_name(pub, group, sizeof(group), NULL))
                        return -EINVAL;
                *ret_param_type = V_ASN1_UNDEF;
                if (strcmp(group, "prime256v1") == 0) {
                        *ret_md = EVP_sha256();
                        *ret_nid = NID_ecdsa_with_SHA256;
                        return 0;
                }
                if (strcmp(group, "secp384r1") == 0) {
                        *ret_md = EVP_sha384();
                        *ret_nid = NID_ecdsa_with_SHA384;
                        return 0;
                }
                return -EINVAL;
        }
        case EVP_PKEY_RSA:
                if (EVP_PKEY_get_bits(pub) < 2048)
                        return -EINVAL;
                *ret_md = EVP_sha256();
                *ret_nid = NID_sha256WithRSAEncryption;
                *ret_param_type = V_ASN1_NULL;
                return 0;
        default:
                return -EINVAL;
        }
}

int ob_csr_build(const char *subject, EVP_PKEY *pub, ObCsrSignFunc sign, void *userdata,
                 char **ret_pem)
{
        X509_REQ *req = NULL;
        X509_NAME *name = NULL;
        X509_ALGOR *alg = NULL;
        ASN1_BIT_STRING *bits = NULL;
        unsigned char *tbs = NULL;
        uint8_t *sig = NULL;
        size_t sig_len = 0;
        BIO *bio = NULL;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        int r = -ENOMEM, tbs_len, sig_nid, param_type;
        const EVP_MD *hash;

        if (!subject || !pub || !sign || signature_algorithm(pub, &hash, &sig_nid, &param_type) < 0)
                return -EINVAL;
        if (!(req = X509_REQ_new()) || !(name = X509_NAME_new()))
                goto out;
        r = parse_subject(subject, name);
        if (r < 0)
                goto out;
        r = -ENOMEM;
        if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, name) ||
            !X509_REQ_set_pubkey(req, pub))
                goto out;
        if (!(alg = X509_ALGOR_new()) ||
            !X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid), param_type, NULL) ||
            !X509_REQ_set1_signature_algo(req, alg))
                goto out;
        tbs_len = i2d_re_X509_REQ_tbs(req, &tbs);
        if (tbs_len <= 0)
                goto out;
        if (!EVP_Digest(tbs, (size_t)tbs_len, md, &md_len, hash, NULL))
                goto out;
        r = sign(userdata, md, md_len, &sig, &sig_len);
        if (r < 0)
                goto out;
        r = -ENOMEM;
        if (!(bits = ASN1_BIT_STRING_new()) || !ASN1_BIT_STRING_set(bits, sig, (int)sig_len))
                goto out;
        /* all bits used: otherwise trailing zero bits would be trimmed off the signature */
        bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
        bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
        X509_REQ_set0_signature(req, TAKE_PTR(bits));
        if (!(bio = BIO_new(BIO_s_mem())) || !PEM_write_bio_X509_REQ(bio, req))
                goto out;
        char *data;
        long n = BIO_get_mem_data(bio, &data);
        *ret_pem = strndup(data, (size_t)n);
        r = *ret_pem ? 0 : -ENOMEM;
out:
        BIO_free(bio);
        free(sig);
        ASN1_BIT_STRING_free(bits);
        OPENSSL_free(tbs);
        X509_ALGOR_free(alg);
        X509_NAME_free(name);
        X509_REQ_free(req);
        return r;
}
