/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate checks against certificates made here with libcrypto: a root CA, an intermediate,
 * leaves with fixed validity periods. Key match, validity, fingerprint (against the openssl
 * command), verification (expired, not yet valid, wrong CA, intermediate chain), subject CN.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "isotime.h"
#include "macro.h"
#include "x509.h"

#define T0  1700000000LL /* 2023-11-14T22:13:20Z */
#define DAY 86400LL

static char dir[64];

static EVP_PKEY *root_key, *other_root_key, *inter_key, *leaf_key, *leaf2_key;
static X509 *root, *other_root, *inter, *leaf, *leaf2, *leaf_no_cn;
static char ca_file[128], other_ca_file[128], inter_ca_file[128], bundle_file[128];

static EVP_PKEY *new_key(void)
{
        EVP_PKEY *k = EVP_EC_gen("P-256");
        assert_non_null(k);
        return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        assert_non_null(e);
        assert_int_equal(X509_add_ext(x, e, -1), 1);
        X509_EXTENSION_free(e);
}

/* t at s seconds since the epoch, without a time_t (a 32-bit time_t would truncate 2100) */
static void set_time(ASN1_TIME *t, int64_t s)
{
        char iso[32], gt[32];

        assert_true(ob_isotime_format(s, iso, sizeof(iso)));
        /* YYYY-MM-DDTHH:MM:SSZ -> YYYYMMDDHHMMSSZ (GeneralizedTime; X509 picks UTCTime < 2050) */
        snprintf(gt, sizeof(gt), "%.4s%.2s%.2s%.2s%.2s%.2sZ", iso, iso + 5, iso + 8, iso + 11,
                 iso + 14, iso + 17);
        assert_int_equal(ASN1_TIME_set_string_X509(t, gt), 1);
}

/* A certificate for key with subject CN=cn (none when cn is NULL), signed by issuer/ikey, or
 * self-signed when issuer is NULL. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
                       int64_t not_before, int64_t not_after, bool ca, long serial)
{
        X509 *x = X509_new();
        assert_non_null(x);
        assert_int_equal(X509_set_version(x, 2), 1);
        ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
        X509_NAME *name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Test", -1, -1,
                                   0);
        if (cn)
                X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                                           -1, 0);
        assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
        set_time(X509_getm_notBefore(x), not_before);
        set_time(X509_getm_notAfter(x), not_after);
        assert_int_equal(X509_set_pubkey(x, key), 1);
        X509 *signer = issuer ? issuer : x;
        add_ext(x, signer, NID_subject_key_identifier, "hash");
        add_ext(x, signer, NID_authority_key_identifier, "keyid:always");
        if (ca) {
                add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
                add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
        } else {
                add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
                add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
        }
        assert_true(X509_sign(x, issuer ? ikey : key, EVP_sha256()) > 0);
        return x;
}

static char *to_pem(X509 *x)
{
        BIO *b = BIO_new(BIO_s_mem());
        assert_non_null(b);
        assert_int_equal(PEM_write_bio_X509(b, x), 1);
        char *data;
        long n = BIO_get_mem_data(b, &data);
        char *s = strndup(data, (size_t)n);
        BIO_free(b);
        assert_non_null(s);
        return s;
}

static void write_file(const char *path, const char *a, const char *b)
{
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(a, f);
        if (b)
                fputs(b, f);
        assert_int_equal(fclose(f), 0);
}

static int group_setup(void **state)
{
        snprintf(dir, sizeof(dir), "/tmp/ob-test-x509-XXXXXX");
        assert_non_null(mkdtemp(dir));
        root_key = new_key();
        other_root_key = new_key();
        inter_key = new_key();
        leaf_key = new_key();
        leaf2_key = new_key();
        root = make_cert("Test Root", root_key, NULL, NULL, T0 - 100 * DAY, T0 + 3650 * DAY, true,
                         1);
        other_root = make_cert("Other Root", other_root_key, NULL, NULL, T0 - 100 * DAY,
                               T0 + 3650 * DAY, true, 1);
        inter = make_cert("Test Intermediate", inter_key, root, root_key, T0 - 50 * DAY,
                          T0 + 1000 * DAY, true, 2);
        leaf = make_cert("gw-123", leaf_key, root, root_key, T0, T0 + 365 * DAY, false, 3);
        leaf2 = make_cert("gw-456", leaf2_key, inter, inter_key, T0, T0 + 365 * DAY, false, 4);
        leaf_no_cn = make_cert(NULL, leaf_key, root, root_key, T0, T0 + 365 * DAY, false, 5);

        char *p = to_pem(root), *o = to_pem(other_root), *i = to_pem(inter);
        snprintf(ca_file, sizeof(ca_file), "%s/root.pem", dir);
        snprintf(other_ca_file, sizeof(other_ca_file), "%s/other.pem", dir);
        snprintf(inter_ca_file, sizeof(inter_ca_file), "%s/inter.pem", dir);
        snprintf(bundle_file, sizeof(bundle_file), "%s/bundle.pem", dir);
        write_file(ca_file, p, NULL);
        write_file(other_ca_file, o, NULL);
        write_file(inter_ca_file, i, NULL);
        write_file(bundle_file, o, p); /* the right root second in a bundle */
        free(p);
        free(o);
        free(i);
        return 0;
}

static int group_teardown(void **state)
{
        X509 *certs[] = {root, other_root, inter, leaf, leaf2, leaf_no_cn};
        EVP_PKEY *keys[] = {root_key, other_root_key, inter_key, leaf_key, leaf2_key};
        for (size_t i = 0; i < OB_ELEMENTSOF(certs); i++)
                X509_free(certs[i]);
        for (size_t i = 0; i < OB_ELEMENTSOF(keys); i++)
                EVP_PKEY_free(keys[i]);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static void test_from_pem(void **state)
{
        char *pem = to_pem(leaf);
        X509 *x = NULL;

        assert_int_equal(ob_x509_from_pem(pem, strlen(pem), &x), 0);
        assert_int_equal(X509_cmp(x, leaf), 0);
        X509_free(x);

        /* a key block before the certificate is skipped: the first certificate is taken */
        char *two = NULL;
        char *inter_pem = to_pem(inter);
        assert_true(asprintf(&two,
                             "Bag Attributes\n-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n%s%s",
                             pem, inter_pem) > 0);
        x = NULL;
        assert_int_equal(ob_x509_from_pem(two, strlen(two), &x), 0);
        assert_int_equal(X509_cmp(x, leaf), 0);
        X509_free(x);
        free(two);
        free(inter_pem);

        static const char *const garbage[] = {
                "hello",
                "-----BEGIN CERTIFICATE-----\nnot base64 !!!\n-----END CERTIFICATE-----\n",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "-----BEGIN CERTIFICATE-----\nMIIB",
        };
        for (size_t i = 0; i < OB_ELEMENTSOF(garbage); i++) {
                x = NULL;
                assert_int_equal(ob_x509_from_pem(garbage[i], strlen(garbage[i]), &x), -EBADMSG);
                assert_null(x);
        }
        /* truncated real certificate */
        assert_int_equal(ob_x509_from_pem(pem, strlen(pem) / 2, &x), -EBADMSG);
        assert_int_equal(ob_x509_from_pem(pem, 0, &x), -EBADMSG);
        assert_int_equal(ERR_peek_error(), 0); /* no OpenSSL error left behind */
        free(pem);
}

static void test_matches_key(void **state)
{
        assert_int_equal(ob_x509_matches_key(leaf, leaf_key), 0);
        assert_int_equal(ob_x509_matches_key(leaf, leaf2_key), -EKEYREJECTED);
        assert_int_equal(ob_x509_matches_key(leaf, root_key), -EKEYREJECTED);

        /* the public half alone, as the TPM gives it */
        unsigned char *der = NULL;
        int n = i2d_PUBKEY(leaf_key, &der);
        assert_true(n > 0);
        const unsigned char *p = der;
        EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, n);
        assert_non_null(pub);
        assert_int_equal(ob_x509_matches_key(leaf, pub), 0);
        EVP_PKEY_free(pub);
        OPENSSL_free(der);
}

static void test_validity(void **state)
{
        int64_t nb = 0, na = 0;

        assert_int_equal(ob_x509_validity(leaf, &nb, &na), 0);
        assert_true(nb == T0);
        assert_true(na == T0 + 365 * DAY);

        /* past 2038 and past 2049 (GeneralizedTime) */
        X509 *late = make_cert("late", leaf_key, root, root_key, 4102444800LL /* 2100-01-01 */,
                               4102444800LL + 1, false, 9);
        assert_int_equal(ob_x509_validity(late, &nb, NULL), 0);
        assert_true(nb == 4102444800LL);
        X509_free(late);
}

/* AWS issues certificates valid until 2049-12-31T23:59:59Z, some CAs until 9999-12-31T23:59:59Z:
 * verification at times past 2038 works whatever the width of time_t (on a 32-bit time_t
 * OpenSSL's time check is replaced by our own, lib/x509.c check_chain_time). */
static void test_verify_after_2038(void **state)
{
        const int64_t y2049 = 2524607999LL;   /* 2049-12-31T23:59:59Z */
        const int64_t y9999 = 253402300799LL; /* 9999-12-31T23:59:59Z */
        char reason[256], path[160], iso[32];
        (void)state;

        X509 *ca = make_cert("ca9999", root_key, NULL, NULL, T0, y9999, true, 20);
        X509 *dev = make_cert("dev2049", leaf_key, ca, root_key, T0, y2049, false, 21);
        char *pem = to_pem(ca);
        snprintf(path, sizeof(path), "%s/ca9999.pem", dir);
        write_file(path, pem, NULL);
        free(pem);

        int64_t nb, na;
        assert_int_equal(ob_x509_validity(dev, &nb, &na), 0);
        assert_true(na == y2049);
        assert_true(ob_isotime_format(na, iso, sizeof(iso)));
        assert_string_equal(iso, "2049-12-31T23:59:59Z");
        assert_int_equal(ob_x509_validity(ca, NULL, &na), 0);
        assert_true(na == y9999);
        assert_true(ob_isotime_format(na, iso, sizeof(iso)));
        assert_string_equal(iso, "9999-12-31T23:59:59Z");

        /* valid in 2040 and a second before notAfter, expired at it (OpenSSL's X509_cmp_time
         * rule, kept by the 64-bit check) */
        assert_int_equal(ob_x509_verify(dev, NULL, path, 2208988800LL /* 2040-01-01 */, reason,
                                        sizeof(reason)),
                         0);
        assert_int_equal(ob_x509_verify(dev, NULL, path, y2049 - 1, reason, sizeof(reason)), 0);
        assert_int_equal(ob_x509_verify(dev, NULL, path, y2049, reason, sizeof(reason)),
                         -EKEYREJECTED);
        assert_non_null(strstr(reason, "expired"));
        assert_int_equal(ob_x509_verify(dev, NULL, path, T0 - 1, reason, sizeof(reason)),
                         -EKEYREJECTED);
        assert_non_null(strstr(reason, "not yet valid"));
        X509_free(dev);
        X509_free(ca);
}

static void test_fingerprint(void **state)
{
        char hex[OB_X509_FINGERPRINT_HEX_LEN + 1], small[64], path[160], cmd[400], out[80] = "";

        assert_int_equal(ob_x509_fingerprint_hex(leaf, small, sizeof(small)), -ENOBUFS);
        assert_int_equal(ob_x509_fingerprint_hex(leaf, hex, sizeof(hex)), 0);
        assert_int_equal(strlen(hex), 64);
        assert_int_equal(strspn(hex, "0123456789abcdef"), 64);

        char *pem = to_pem(leaf);
        snprintf(path, sizeof(path), "%s/leaf.pem", dir);
        write_file(path, pem, NULL);
        free(pem);
        snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s' -outform DER | sha256sum", path);
        if (system("openssl version >/dev/null 2>&1") != 0) {
                print_message("openssl command not installed: fingerprint not cross-checked\n");
                return;
        }
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        assert_non_null(fgets(out, sizeof(out), f));
        assert_int_equal(pclose(f), 0);
        out[64] = 0;
        assert_string_equal(hex, out);
}

static void test_verify(void **state)
{
        char reason[256];
        char *inter_pem = to_pem(inter);

        assert_int_equal(ob_x509_verify(leaf, NULL, ca_file, T0 + DAY, reason, sizeof(reason)), 0);
        assert_string_equal(reason, "");
        assert_int_equal(ob_x509_verify(leaf, NULL, bundle_file, T0 + DAY, reason, sizeof(reason)),
                         0);

        /* expired, not yet valid; time checks skipped with 0 */
        assert_int_equal(
                ob_x509_verify(leaf, NULL, ca_file, T0 + 400 * DAY, reason, sizeof(reason)),
                -EKEYREJECTED);
        assert_non_null(strstr(reason, "expired"));
        assert_non_null(strstr(reason, "depth 0"));
        assert_non_null(strstr(reason, "gw-123"));
        assert_int_equal(ob_x509_verify(leaf, NULL, ca_file, T0 - 1, reason, sizeof(reason)),
                         -EKEYREJECTED);
        assert_non_null(strstr(reason, "not yet valid"));
        assert_int_equal(ob_x509_verify(leaf, NULL, ca_file, 0, reason, sizeof(reason)), 0);

        /* the wrong CA */
        assert_int_equal(
                ob_x509_verify(leaf, NULL, other_ca_file, T0 + DAY, reason, sizeof(reason)),
                -EKEYREJECTED);
        assert_non_null(strstr(reason, "issuer"));

        /* an intermediate: needed in the chain, found there, and enough as an anchor */
        assert_int_equal(ob_x509_verify(leaf2, NULL, ca_file, T0 + DAY, reason, sizeof(reason)),
                         -EKEYREJECTED);
        assert_int_equal(
                ob_x509_verify(leaf2, inter_pem, ca_file, T0 + DAY, reason, sizeof(reason)), 0);
        assert_int_equal(
                ob_x509_verify(leaf2, inter_pem, other_ca_file, T0 + DAY, reason, sizeof(reason)),
                -EKEYREJECTED);
        assert_int_equal(
                ob_x509_verify(leaf2, NULL, inter_ca_file, T0 + DAY, reason, sizeof(reason)), 0);
        /* the intermediate expires before the leaf would: at T0+1001 days the chain fails */
        assert_int_equal(
                ob_x509_verify(inter, NULL, ca_file, T0 + 1001 * DAY, reason, sizeof(reason)),
                -EKEYREJECTED);
        assert_non_null(strstr(reason, "expired"));

        /* a leaf is no CA: a certificate "issued" by it does not verify */
        X509 *bad = make_cert("evil", leaf2_key, leaf, leaf_key, T0, T0 + DAY, false, 7);
        char *leaf_pem = to_pem(leaf);
        assert_int_equal(ob_x509_verify(bad, leaf_pem, ca_file, T0 + 1, reason, sizeof(reason)),
                         -EKEYREJECTED);
        X509_free(bad);
        free(leaf_pem);

        /* malformed inputs */
        assert_int_equal(ob_x509_verify(leaf2,
                                        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
                                        "CERTIFICATE-----\n",
                                        ca_file, T0 + DAY, reason, sizeof(reason)),
                         -EBADMSG);
        assert_non_null(strstr(reason, "chain"));
        assert_int_equal(
                ob_x509_verify(leaf2, "no pem here", ca_file, T0 + DAY, reason, sizeof(reason)),
                -EBADMSG);
        char missing[160];
        snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
        assert_int_equal(ob_x509_verify(leaf, NULL, missing, T0 + DAY, reason, sizeof(reason)),
                         -ENOENT);
        assert_non_null(strstr(reason, "missing.pem"));
        char junk[160];
        snprintf(junk, sizeof(junk), "%s/junk.pem", dir);
        write_file(junk, "junk\n", NULL);
        assert_int_equal(ob_x509_verify(leaf, NULL, junk, T0 + DAY, reason, sizeof(reason)),
                         -EBADMSG);
        assert_int_equal(ob_x509_verify(leaf, NULL, ca_file, -5, reason, sizeof(reason)), -EINVAL);
        /* a NULL reason buffer is fine */
        assert_int_equal(ob_x509_verify(leaf, NULL, other_ca_file, T0 + DAY, NULL, 0),
                         -EKEYREJECTED);
        assert_int_equal(ERR_peek_error(), 0);
        free(inter_pem);
}

/* ob_x509_verify_chain: the chain's top is trusted, every link below it is checked */
static void test_verify_chain(void **state)
{
        char reason[256];
        char *r = to_pem(root), *i = to_pem(inter), *o = to_pem(other_root);
        char full[8192], wrong[8192], forged_chain[8192];

        snprintf(full, sizeof(full), "%s%s", i, r);
        assert_int_equal(ob_x509_verify_chain(leaf2, full, T0 + DAY, reason, sizeof(reason)), 0);
        assert_string_equal(reason, "");
        /* the order does not matter; the intermediate alone is enough as the top */
        snprintf(wrong, sizeof(wrong), "%s%s", r, i);
        assert_int_equal(ob_x509_verify_chain(leaf2, wrong, T0 + DAY, reason, sizeof(reason)), 0);
        assert_int_equal(ob_x509_verify_chain(leaf2, i, T0 + DAY, reason, sizeof(reason)), 0);
        assert_int_equal(ob_x509_verify_chain(leaf, r, T0 + DAY, reason, sizeof(reason)), 0);

        /* the intermediate missing, another CA */
        assert_int_equal(ob_x509_verify_chain(leaf2, r, T0 + DAY, reason, sizeof(reason)),
                         -EKEYREJECTED);
        assert_non_null(strstr(reason, "issuer"));
        assert_int_equal(ob_x509_verify_chain(leaf, o, T0 + DAY, reason, sizeof(reason)),
                         -EKEYREJECTED);

        /* an intermediate that names the root as issuer but was signed by another key: the
         * link to the root is checked (were every chain certificate trusted, this would pass) */
        X509 *forged = make_cert("Test Intermediate", inter_key, root, other_root_key,
                                 T0 - 50 * DAY, T0 + 1000 * DAY, true, 9);
        char *f = to_pem(forged);
        snprintf(forged_chain, sizeof(forged_chain), "%s%s", f, r);
        assert_int_equal(
                ob_x509_verify_chain(leaf2, forged_chain, T0 + DAY, reason, sizeof(reason)),
                -EKEYREJECTED);
        assert_non_null(strstr(reason, "signature"));
        X509_free(forged);
        free(f);

        /* validity of the leaf and of the chain at the given time; 0 = not checked */
        assert_int_equal(ob_x509_verify_chain(leaf2, full, T0 + 400 * DAY, reason, sizeof(reason)),
                         -EKEYREJECTED);
        assert_non_null(strstr(reason, "expired"));
        assert_int_equal(ob_x509_verify_chain(leaf2, full, 0, reason, sizeof(reason)), 0);

        /* a full chain with the certificate itself: the copy is no anchor */
        char *l2 = to_pem(leaf2), *l = to_pem(leaf), with_leaf[12288];
        snprintf(with_leaf, sizeof(with_leaf), "%s%s%s", l2, i, r);
        assert_int_equal(ob_x509_verify_chain(leaf2, with_leaf, T0 + DAY, reason, sizeof(reason)),
                         0);
        assert_int_equal(ob_x509_verify_chain(leaf2, l2, T0 + DAY, reason, sizeof(reason)),
                         -EBADMSG);
        assert_non_null(strstr(reason, "itself"));
        /* a leaf as the "CA": not a CA */
        assert_int_equal(ob_x509_verify_chain(leaf2, l, T0 + DAY, reason, sizeof(reason)),
                         -EKEYREJECTED);
        free(l2);
        free(l);

        /* malformed */
        assert_int_equal(
                ob_x509_verify_chain(leaf2, "no pem here", T0 + DAY, reason, sizeof(reason)),
                -EBADMSG);
        assert_int_equal(ob_x509_verify_chain(leaf2, NULL, T0 + DAY, reason, sizeof(reason)),
                         -EINVAL);
        assert_int_equal(ob_x509_verify_chain(leaf2, full, -1, NULL, 0), -EINVAL);
        assert_int_equal(ERR_peek_error(), 0);
        free(r);
        free(i);
        free(o);
}

/* The limits on a chain sent with a certificate: count, size, nothing in it. */
static void test_verify_chain_limits(void **state)
{
        char reason[256];
        char *inter_pem = to_pem(inter);
        size_t one = strlen(inter_pem), n = OB_X509_MAX_CHAIN + 1;
        char *many = calloc(n * one + 1, 1), *big = malloc(OB_X509_MAX_PEM + 2);

        (void)state;
        assert_non_null(many);
        assert_non_null(big);
        /* OB_X509_MAX_CHAIN copies verify; one more is refused */
        for (size_t i = 0; i < OB_X509_MAX_CHAIN; i++)
                memcpy(many + i * one, inter_pem, one);
        assert_int_equal(ob_x509_verify(leaf2, many, ca_file, T0 + DAY, reason, sizeof(reason)), 0);
        memcpy(many + OB_X509_MAX_CHAIN * one, inter_pem, one);
        assert_int_equal(ob_x509_verify(leaf2, many, ca_file, T0 + DAY, reason, sizeof(reason)),
                         -EBADMSG);
        assert_non_null(strstr(reason, "more than 16 certificates"));
        /* larger than OB_X509_MAX_PEM */
        memset(big, '\n', OB_X509_MAX_PEM + 1);
        big[OB_X509_MAX_PEM + 1] = 0;
        assert_int_equal(ob_x509_verify(leaf2, big, ca_file, T0 + DAY, reason, sizeof(reason)),
                         -EBADMSG);
        assert_non_null(strstr(reason, "larger than"));
        /* only blank lines: no certificate */
        assert_int_equal(ob_x509_verify(leaf2, "\n\n", ca_file, T0 + DAY, reason, sizeof(reason)),
                         -EBADMSG);
        assert_non_null(strstr(reason, "no certificate"));
        /* the fingerprint needs room for 64 hex digits and the NUL */
        char fp[OB_X509_FINGERPRINT_HEX_LEN];
        assert_int_equal(ob_x509_fingerprint_hex(leaf, fp, sizeof(fp)), -ENOBUFS);
        assert_int_equal(ERR_peek_error(), 0);
        free(many);
        free(big);
        free(inter_pem);
}

static void test_subject_cn(void **state)
{
        char *cn = NULL;

        assert_int_equal(ob_x509_subject_cn(leaf, &cn), 0);
        assert_string_equal(cn, "gw-123");
        free(cn);
        cn = NULL;
        assert_int_equal(ob_x509_subject_cn(leaf_no_cn, &cn), -ENOENT);
        assert_null(cn);
}

/* ob_x509_from_file over ob_fs_read_file: the file's certificate, or the reason. */
static void test_from_file(void **state)
{
        char path[160], big[160], fp_file[65], fp_mem[65];
        X509 *x = NULL;
        FILE *f;

        (void)state;
        assert_int_equal(ob_x509_from_file(ca_file, &x), 0);
        assert_int_equal(ob_x509_fingerprint_hex(x, fp_file, sizeof(fp_file)), 0);
        assert_int_equal(ob_x509_fingerprint_hex(root, fp_mem, sizeof(fp_mem)), 0);
        assert_string_equal(fp_file, fp_mem);
        X509_free(x);
        x = NULL;
        snprintf(path, sizeof(path), "%s/none.pem", dir);
        assert_int_equal(ob_x509_from_file(path, &x), -ENOENT);
        snprintf(path, sizeof(path), "%s/garbage.pem", dir);
        write_file(path, "not a certificate\n", NULL);
        assert_int_equal(ob_x509_from_file(path, &x), -EBADMSG);
        /* one byte over the limit is refused before parsing */
        snprintf(big, sizeof(big), "%s/big.pem", dir);
        f = fopen(big, "we");
        assert_non_null(f);
        for (size_t i = 0; i < OB_X509_MAX_PEM + 1; i++)
                fputc('A', f);
        fclose(f);
        assert_int_equal(ob_x509_from_file(big, &x), -EFBIG);
        assert_null(x);
        /* a FIFO planted in place of the file is refused at once, not read (would block) */
        snprintf(path, sizeof(path), "%s/fifo.pem", dir);
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(ob_x509_from_file(path, &x), -EINVAL);
        assert_null(x);
}

static void test_clock_plausible(void **state)
{
        assert_false(ob_clock_plausible(0, OB_BUILD_EPOCH));
        assert_false(ob_clock_plausible(OB_BUILD_EPOCH - 1, OB_BUILD_EPOCH));
        assert_true(ob_clock_plausible(OB_BUILD_EPOCH, OB_BUILD_EPOCH));
        assert_true(ob_clock_plausible(OB_BUILD_EPOCH + 86400, OB_BUILD_EPOCH));
        assert_true(OB_BUILD_EPOCH > T0); /* configure gave a real date */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_from_pem),     cmocka_unit_test(test_matches_key),
                cmocka_unit_test(test_validity),     cmocka_unit_test(test_verify_after_2038),
                cmocka_unit_test(test_fingerprint),  cmocka_unit_test(test_verify),
                cmocka_unit_test(test_verify_chain), cmocka_unit_test(test_verify_chain_limits),
                cmocka_unit_test(test_subject_cn),   cmocka_unit_test(test_clock_plausible),
                cmocka_unit_test(test_from_file),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
