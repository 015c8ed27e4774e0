/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent accepts of an issued certificate (lib/cert-accept): our key, the right id, an
 * end entity fit for TLS client authentication, valid now within the clock-skew allowance. And
 * what it deliberately accepts: any subject (AWS IoT writes "CN=AWS IoT Certificate" whatever
 * the CSR said), any issuer.
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert-accept.h"
#include "x509.h"

#define NOW  1800000000LL
#define SKEW 3600 /* clock.max_skew's default */

static EVP_PKEY *our_key, *other_key, *ca_key;

typedef struct Spec {
        const char *cn;
        EVP_PKEY *key;
        int64_t nb_off, na_off; /* seconds from NOW */
        const char *exts[3][2]; /* {nid name, value} */
} Spec;

/* A certificate as Spec says, signed by ca_key; its PEM and id in pem/id. */
static void make(const Spec *s, char **pem, char id[65])
{
        X509 *x = X509_new();
        X509V3_CTX ctx;
        BIO *b = BIO_new(BIO_s_mem());
        char *data;
        long n;

        assert_non_null(x);
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
        X509_time_adj_ex(X509_getm_notBefore(x), 0, (long)s->nb_off, &(time_t){NOW});
        X509_time_adj_ex(X509_getm_notAfter(x), 0, (long)s->na_off, &(time_t){NOW});
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   (const unsigned char *)(s->cn ? s->cn : "AWS IoT Certificate"),
                                   -1, -1, 0);
        X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "OU", MBSTRING_ASC,
                                   (const unsigned char *)"Amazon Web Services", -1, -1, 0);
        X509_set_pubkey(x, s->key ? s->key : our_key);
        X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
        for (int i = 0; i < 3 && s->exts[i][0]; i++) {
                X509_EXTENSION *e =
                        X509V3_EXT_conf_nid(NULL, &ctx, OBJ_sn2nid(s->exts[i][0]), s->exts[i][1]);
                assert_non_null(e);
                X509_add_ext(x, e, -1);
                X509_EXTENSION_free(e);
        }
        assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
        assert_int_equal(ob_x509_fingerprint_hex(x, id, 65), 0);
        PEM_write_bio_X509(b, x);
        n = BIO_get_mem_data(b, &data);
        *pem = strndup(data, (size_t)n);
        BIO_free(b);
        X509_free(x);
}

/* ob_cert_accept on a certificate made from s; the verdict's code, or "accepted". */
static const char *judge(const Spec *s, ObCertVerdict *v)
{
        char *pem, id[65];
        int r;

        make(s, &pem, id);
        r = ob_cert_accept(pem, our_key, id, NOW, SKEW, v);
        free(pem);
        if (r == 0) {
                assert_null(v->code);
                return "accepted";
        }
        assert_non_null(v->code);
        assert_true(strlen(v->text) > 10);
        return v->code;
}

static int setup(void **state)
{
        (void)state;
        our_key = EVP_EC_gen("P-256");
        other_key = EVP_EC_gen("P-256");
        ca_key = EVP_EC_gen("P-256");
        return our_key && other_key && ca_key ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        EVP_PKEY_free(our_key);
        EVP_PKEY_free(other_key);
        EVP_PKEY_free(ca_key);
        return 0;
}

/* What AWS IoT issues: CN=AWS IoT Certificate, CA:FALSE, digitalSignature, to 2049. */
static void test_aws_like_certificate_accepted(void **state)
{
        Spec s = {.nb_off = -60,
                  .na_off = 365LL * 86400 * 20,
                  .exts = {{"basicConstraints", "critical,CA:FALSE"},
                           {"keyUsage", "critical,digitalSignature"}}};
        ObCertVerdict v;

        (void)state;
        assert_string_equal(judge(&s, &v), "accepted");
        assert_int_equal(v.not_before, NOW - 60);
        assert_int_equal(v.not_after, NOW + 365LL * 86400 * 20);
        /* without any extension (a certificate provider's minimal certificate) */
        Spec bare = {.nb_off = -60, .na_off = 86400};
        assert_string_equal(judge(&bare, &v), "accepted");
        /* clientAuth, or any usage, in an extendedKeyUsage */
        Spec eku = {.nb_off = -60, .na_off = 86400, .exts = {{"extendedKeyUsage", "clientAuth"}}};
        assert_string_equal(judge(&eku, &v), "accepted");
        Spec any = {.nb_off = -60,
                    .na_off = 86400,
                    .exts = {{"extendedKeyUsage", "serverAuth,anyExtendedKeyUsage"}}};
        assert_string_equal(judge(&any, &v), "accepted");
}

/* The subject is not checked: AWS ignores the CSR's subject, and says nothing of it. */
static void test_any_subject_accepted(void **state)
{
        Spec s = {.cn = "another-device", .nb_off = -60, .na_off = 86400};
        ObCertVerdict v;

        (void)state;
        assert_string_equal(judge(&s, &v), "accepted");
}

static void test_other_key_refused(void **state)
{
        Spec s = {.key = NULL, .nb_off = -60, .na_off = 86400};
        ObCertVerdict v;
        char *pem, id[65];

        (void)state;
        s.key = other_key;
        assert_string_equal(judge(&s, &v), "certificate-key-mismatch");
        assert_non_null(strstr(v.text, "not for our key"));
        /* and no key at all to compare with */
        s.key = NULL;
        make(&s, &pem, id);
        assert_int_equal(ob_cert_accept(pem, NULL, id, NOW, SKEW, &v), -EKEYREJECTED);
        free(pem);
}

static void test_bad_reply_refused(void **state)
{
        Spec s = {.nb_off = -60, .na_off = 86400};
        ObCertVerdict v;
        char *pem, id[65];

        (void)state;
        make(&s, &pem, id);
        id[0] = id[0] == 'a' ? 'b' : 'a';
        assert_int_equal(ob_cert_accept(pem, our_key, id, NOW, SKEW, &v), -EBADMSG);
        assert_string_equal(v.code, "bad-reply");
        assert_int_equal(ob_cert_accept(pem, our_key, NULL, NOW, SKEW, &v), -EBADMSG);
        free(pem);
        assert_int_equal(ob_cert_accept("not a certificate", our_key, id, NOW, SKEW, &v), -EBADMSG);
        assert_string_equal(v.code, "bad-reply");
        assert_int_equal(ob_cert_accept(NULL, our_key, id, NOW, SKEW, &v), -EBADMSG);
}

static void test_unfit_for_tls_client_refused(void **state)
{
        ObCertVerdict v;
        Spec ca = {.nb_off = -60, .na_off = 86400, .exts = {{"basicConstraints", "CA:TRUE"}}};
        Spec ku = {.nb_off = -60,
                   .na_off = 86400,
                   .exts = {{"keyUsage", "critical,keyCertSign,cRLSign"}}};
        Spec eku = {.nb_off = -60, .na_off = 86400, .exts = {{"extendedKeyUsage", "serverAuth"}}};

        (void)state;
        assert_string_equal(judge(&ca, &v), "certificate-unfit");
        assert_non_null(strstr(v.text, "CA certificate"));
        assert_string_equal(judge(&ku, &v), "certificate-unfit");
        assert_non_null(strstr(v.text, "digitalSignature"));
        assert_string_equal(judge(&eku, &v), "certificate-unfit");
        assert_non_null(strstr(v.text, "clientAuth"));
}

static void test_validity(void **state)
{
        ObCertVerdict v;
        Spec expired = {.nb_off = -2 * 86400, .na_off = -1};
        Spec future = {.nb_off = 2 * 86400, .na_off = 365 * 86400};
        Spec skew_ok = {.nb_off = SKEW, .na_off = 86400};
        Spec skew_over = {.nb_off = SKEW + 1, .na_off = 86400};

        (void)state;
        assert_string_equal(judge(&expired, &v), "certificate-expired");
        assert_non_null(strstr(v.text, "expired"));
        assert_string_equal(judge(&future, &v), "certificate-not-yet-valid");
        assert_non_null(strstr(v.text, "172800 s ahead"));
        assert_string_equal(judge(&skew_ok, &v), "accepted");
        assert_string_equal(judge(&skew_over, &v), "certificate-not-yet-valid");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_aws_like_certificate_accepted),
                cmocka_unit_test(test_any_subject_accepted),
                cmocka_unit_test(test_other_key_refused),
                cmocka_unit_test(test_bad_reply_refused),
                cmocka_unit_test(test_unfit_for_tls_client_refused),
                cmocka_unit_test(test_validity),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
