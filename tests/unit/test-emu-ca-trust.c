/* SPDX-License-Identifier: Apache-2.0 */
/* The emulator's hashed CA directory (tests/emulator/ca-trust.c): <subject hash>.N files as
 * OpenSSL's hash-dir lookup wants them, CAs with one subject numbered .0, .1, stale entries
 * removed, other files left alone. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca-trust.h"

static X509 *selfsigned(const char *cn)
{
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        X509 *x = X509_new();
        X509_NAME *n = X509_get_subject_name(x);

        assert_non_null(k);
        assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                                    (const unsigned char *)cn, -1, -1, 0),
                         1);
        assert_int_equal(X509_set_issuer_name(x, n), 1);
        assert_int_equal(X509_set_pubkey(x, k), 1);
        assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
        assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
        assert_true(X509_sign(x, k, EVP_sha256()) > 0);
        EVP_PKEY_free(k);
        return x;
}

/* the certificate in DIR/NAME, or NULL */
static X509 *load(const char *dir, const char *name)
{
        char path[4096];
        FILE *f;
        X509 *x;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "re");
        if (!f)
                return NULL;
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        return x;
}

static void assert_holds(const char *dir, const char *name, X509 *want)
{
        X509 *got = load(dir, name);

        assert_non_null(got);
        assert_int_equal(X509_cmp(got, want), 0);
        X509_free(got);
}

static void test_sync(void **state)
{
        char dir[] = "/tmp/ob-test-ca-trust.XXXXXX", a[64], b[64], path[4096];
        X509 *same1 = selfsigned("Example CA"), *same2 = selfsigned("Example CA"),
             *other = selfsigned("Other CA");
        X509 *all[] = {same1, same2, other}, *one[] = {same2};
        FILE *f;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/README", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
        snprintf(a, sizeof(a), "%08lx", X509_subject_name_hash(same1) & 0xffffffffUL);
        snprintf(b, sizeof(b), "%08lx", X509_subject_name_hash(other) & 0xffffffffUL);

        assert_int_equal(ob_emu_trust_sync(dir, all, 3), 0);
        snprintf(path, sizeof(path), "%s.0", a);
        assert_holds(dir, path, same1);
        snprintf(path, sizeof(path), "%s.1", a);
        assert_holds(dir, path, same2); /* same subject: the next number */
        snprintf(path, sizeof(path), "%s.0", b);
        assert_holds(dir, path, other);

        /* the first CA and the other one deleted: the second moves to .0, the rest goes */
        assert_int_equal(ob_emu_trust_sync(dir, one, 1), 0);
        snprintf(path, sizeof(path), "%s.0", a);
        assert_holds(dir, path, same2);
        snprintf(path, sizeof(path), "%s.1", a);
        assert_null(load(dir, path));
        snprintf(path, sizeof(path), "%s.0", b);
        assert_null(load(dir, path));
        snprintf(path, sizeof(path), "%s/README", dir);
        assert_int_equal(access(path, F_OK), 0); /* not ours: left alone */

        assert_int_equal(ob_emu_trust_sync(dir, NULL, 0), 0);
        snprintf(path, sizeof(path), "%s.0", a);
        assert_null(load(dir, path));
        assert_int_equal(ob_emu_trust_sync("/nonexistent/ob-trust", one, 1) < 0, 1);

        snprintf(path, sizeof(path), "%s/README", dir);
        unlink(path);
        assert_int_equal(rmdir(dir), 0); /* nothing else left behind (no temp files) */
        X509_free(same1);
        X509_free(same2);
        X509_free(other);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sync),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
