/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
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

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms):
 * no time_t, so 2049 and 9999 work on every platform. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = yoe + era * 400 + (*m <= 2);
}

int ob_emu_pki_parse_time(const char *s, int64_t *ret)
{
        int y, mo, d, h, mi, se, n = 0;
        int64_t yy;
        int m2, d2;

        if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 ||
            n != 20 || s[n] != '\0')
                return -EINVAL;
        if (y < 1950 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59 || h < 0 ||
            mi < 0 || se < 0)
                return -EINVAL;
        int64_t days = days_from_civil(y, mo, d);
        civil_from_days(days, &yy, &m2, &d2);
        if (yy != y || m2 != mo || d2 != d) /* 2049-02-30 */
                return -EINVAL;
        *ret = days * 86400 + h * 3600 + mi * 60 + se;
        return 0;
}

int ob_emu_pki_set_time(ASN1_TIME *t, int64_t secs)
{
        char buf[32];
        int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400), y;
        int64_t rem = secs - days * 86400;
        int m, d;

        civil_from_days(days, &y, &m, &d);
        if (y < 1950 || y > 9999)
                return -EINVAL;
        snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02dZ", (int)y, m, d, (int)(rem / 3600),
                 (int)(rem % 3600 / 60), (int)(rem % 60));
        /* RFC 5280 form: UTCTime through 2049, GeneralizedTime from 2050 */
        return ASN1_TIME_set_string_X509(t, buf) == 1 ? 0 : -EINVAL;
}

/* "/CN=x/O=y" (a backslash escapes the next character) -> X509_NAME, or NULL. */
static X509_NAME *name_parse(const char *s)
{
        X509_NAME *name;
        size_t n;

        if (!s || s[0] != '/' || (n = strlen(s)) > 1024)
                return NULL;
        name = X509_NAME_new();
        if (!name)
                return NULL;
        for (const char *p = s + 1; *p;) {
                char key[64], val[1025];
                size_t k = 0, v = 0;
                while (*p && *p != '=' && k < sizeof(key) - 1)
                        key[k++] = *p++;
                key[k] = '\0';
                if (*p != '=' || k == 0)
                        goto fail;
                p++;
                while (*p && *p != '/' && v < sizeof(val) - 1) {
                        if (*p == '\\' && p[1])
                                p++;
                        val[v++] = *p++;
                }
                val[v] = '\0';
                if (*p == '/')
                        p++;
                if (!X509_NAME_add_entry_by_txt(name, key, MBSTRING_UTF8,
                                                (const unsigned char *)val, -1, -1, 0))
                        goto fail;
        }
        if (X509_NAME_entry_count(name) > 0)
                return name;
fail:
        X509_NAME_free(name);
        return NULL;
}

bool ob_emu_pki_subject_valid(const char *subject)
{
        X509_NAME *n = name_parse(subject);

        X509_NAME_free(n);
        return n != NULL;
}

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
        int r = ext && X509_add_ext(x, ext, -1) == 1 ? 0 : -EIO;

        X509_EXTENSION_free(ext);
        return r;
}

/* AWS's profile (docs/emulator.md, "Issued certificates"): v3, 20-byte serial, AKI, SKI,
 * critical CA:FALSE, critical keyUsage digitalSignature, SHA-256. */
static int issue(X509_NAME *subject, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key,
                 const ObEmuIssue *p, X509 **ret)
{
        X509 *x = X509_new();
        unsigned char serial[20];
        BIGNUM *bn = NULL;
        X509V3_CTX v3;
        int r = -EIO;

        if (!x)
                return -ENOMEM;
        if (RAND_bytes(serial, sizeof(serial)) != 1)
                goto out;
        serial[0] &= 0x7f;
        serial[0] |= 0x40; /* positive, and 20 bytes long like AWS's */
        bn = BN_bin2bn(serial, sizeof(serial), NULL);
        if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
                goto out;
        if (X509_set_version(x, 2) != 1 || X509_set_subject_name(x, subject) != 1 ||
            X509_set_issuer_name(x, X509_get_subject_name(issuer)) != 1 ||
            X509_set_pubkey(x, pub) != 1)
                goto out;
        if (p->not_after <= p->now ||
            ob_emu_pki_set_time(X509_getm_notBefore(x), p->not_before ? p->not_before : p->now) <
                    0 ||
            ob_emu_pki_set_time(X509_getm_notAfter(x), p->not_after) < 0) {
                r = -ERANGE;
                goto out;
        }
        X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
        if (add_ext(x, &v3, NID_authority_key_identifier, "keyid:always") < 0 ||
            add_ext(x, &v3, NID_subject_key_identifier, "hash") < 0 ||
            add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
            add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") < 0)
                goto out;
        if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
                goto out;
        *ret = TAKE_PTR(x);
        r = 0;
out:
        BN_free(bn);
        X509_free(x);
        return r;
}

int ob_emu_pki_sign_csr(const char *csr_pem, X509 *issuer, EVP_PKEY *issuer_key,
                        const ObEmuIssue *p, X509 **ret)
{
        BIO *b;
        X509_REQ *req;
        EVP_PKEY *pub;
        X509_NAME *name = NULL;
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
        if (r == 0 && p->subject && !(name = name_parse(p->subject)))
                r = -EIO; /* checked when the setting was made: not the device's fault */
        if (r == 0)
                r = issue(name ? name : X509_REQ_get_subject_name(req), pub, issuer, issuer_key, p,
                          ret);
        X509_NAME_free(name);
        X509_REQ_free(req);
        return r;
}

int ob_emu_pki_make_key_and_cert(const char *key_type, X509 *issuer, EVP_PKEY *issuer_key,
                                 const ObEmuIssue *p, X509 **ret_cert, char **ret_key_pem)
{
        EVP_PKEY *k;
        X509_NAME *name = NULL;
        BIO *b = NULL;
        char *data;
        long n;
        int r = -EIO;

        if (key_type && !strcmp(key_type, "EC"))
                k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        else
                k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        if (!k)
                return -EIO;
        name = name_parse(p->subject ? p->subject : OB_EMU_AWS_SUBJECT);
        if (!name)
                goto out;
        r = issue(name, k, issuer, issuer_key, p, ret_cert);
        if (r < 0)
                goto out;
        r = -EIO;
        b = BIO_new(BIO_s_mem());
        /* RSA as AWS sends it, PKCS#1 ("BEGIN RSA PRIVATE KEY"); EC as PKCS#8 */
        if (!b || (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA
                           ? PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL)
                           : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) != 1)
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
