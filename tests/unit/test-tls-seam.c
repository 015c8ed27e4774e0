/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS-with-TPM-key seam's runtime check (agent/tls-handle-key.h). Built three times:
 * - test-tls-seam links agent/tls-handle-key.c the way the daemon does (exported);
 * - test-tls-seam-hidden compiles it with hidden visibility (OB_TEST_SEAM_HIDDEN): Paho and
 *   every other library bind to libssl's SSL_CTX_use_PrivateKey_file, and dlsym(RTLD_DEFAULT)
 *   says so (caught before the connection);
 * - test-tls-seam-versioned exports it under a version of its own (tls-seam-versioned.map,
 *   OB_TEST_SEAM_VERSIONED): dlsym(RTLD_DEFAULT) finds the agent's, but Paho's reference
 *   SSL_CTX_use_PrivateKey_file@OPENSSL_3.0.0 binds to libssl's (caught after Paho set up TLS).
 * That is how a libssl or Paho linked differently would look. A "handle:" key must then fail
 * loudly, naming the cause, not as a puzzling file error nor connected with another key. No TPM
 * needed: the handles used are malformed or never reach a provider, and "tpm2" is a built-in
 * provider with nothing in it.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <openssl/core_dispatch.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls-handle-key.h"
#include "tls-provider.h"
#include "transport-paho.h"

typedef int (*UsePrivateKeyFile)(SSL_CTX *ctx, const char *file, int type);

/* libssl's own function, the way a library bound directly to libssl calls it */
static UsePrivateKeyFile libssl_use_private_key_file(void)
{
        void *h = dlopen("libssl.so.3", RTLD_NOW | RTLD_NOLOAD);
        UsePrivateKeyFile f;

        assert_non_null(h);
        f = (UsePrivateKeyFile)dlsym(h, "SSL_CTX_use_PrivateKey_file");
        assert_non_null(f);
        dlclose(h);
        return f;
}

/* A call that bypassed the replacement is seen as such; one through it is counted. */
static void test_reached(void **state)
{
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        unsigned before;

        (void)state;
        assert_non_null(ctx);
        assert_non_null(ob_tls_handle_key_calls);
        before = ob_tls_handle_key_calls();
        assert_int_equal(libssl_use_private_key_file()(ctx, "handle:0x01000010", SSL_FILETYPE_PEM),
                         0);
        assert_false(ob_tls_handle_key_reached(before));
        /* this program's own call binds to the replacement, exported or not */
        assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, "handle:0x01000010", SSL_FILETYPE_PEM),
                         0);
        assert_true(ob_tls_handle_key_reached(before));
        SSL_CTX_free(ctx);
}

/* Is the executable's definition the one libraries bind to? */
static void test_active(void **state)
{
        (void)state;
        assert_non_null(ob_tls_handle_key_active);
#if defined(OB_TEST_SEAM_HIDDEN)
        assert_false(ob_tls_handle_key_active());
        assert_ptr_equal(dlsym(RTLD_DEFAULT, "SSL_CTX_use_PrivateKey_file"),
                         (void *)libssl_use_private_key_file());
#else
        assert_true(ob_tls_handle_key_active());
#endif
}

#if defined(OB_TEST_SEAM_HIDDEN) || defined(OB_TEST_SEAM_VERSIONED)
/* a "tpm2" provider with nothing in it: the transport loads one for a "handle:" key */
static int empty_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                               const OSSL_DISPATCH **out, void **provctx)
{
        static const OSSL_DISPATCH none[] = {{0, NULL}};

        (void)handle;
        (void)in;
        *out = none;
        *provctx = NULL;
        return 1;
}

/* A self-signed certificate for Paho's keyStore (it loads it before the key), in a file. */
static void write_cert(char *path)
{
        EVP_PKEY *k = EVP_EC_gen("P-256");
        X509 *x = X509_new();
        FILE *f;
        int fd = mkstemp(path);

        assert_true(fd >= 0 && k && x);
        assert_true(X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), 1));
        assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
        assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
        assert_true(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                               (const unsigned char *)"gw-seam", -1, -1, 0));
        assert_true(X509_set_issuer_name(x, X509_get_subject_name(x)) && X509_set_pubkey(x, k) &&
                    X509_sign(x, k, EVP_sha256()));
        f = fdopen(fd, "w");
        assert_non_null(f);
        assert_true(PEM_write_X509(f, x));
        fclose(f);
        X509_free(x);
        EVP_PKEY_free(k);
}

/* The transport's connection with a "handle:" key fails as a TLS problem that names the cause:
 * with the replacement hidden before anything is sent; with it versioned once Paho has made
 * its SSL_CTX (a TCP listener here that never answers is enough for that). */
static void test_transport_fails_loudly(void **state)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof(a);
        char cert[] = "/tmp/test-tls-seam-XXXXXX";
        int lfd = socket(AF_INET, SOCK_STREAM, 0);
        ObTransport t = {0};
        ObTransportEvent ev;
        ObConnectOptions o = {.host = "127.0.0.1",
                              .client_id = "gw-seam",
                              .ca_file = cert,
                              .cert_file = cert,
                              .key_file = "handle:0x81000010",
                              .provider = "tpm2",
                              .timeout_ms = 5000};

        (void)state;
        assert_true(lfd >= 0);
        assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(lfd, 4), 0);
        assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
        o.port = ntohs(a.sin_port);
        write_cert(cert);
        assert_int_equal(OSSL_PROVIDER_add_builtin(NULL, "tpm2", empty_provider_init), 1);

        assert_int_equal(ob_transport_paho_new(&t), 0);
        assert_int_equal(t.ops->connect(t.impl, &o), 0);
        assert_int_equal(ob_transport_wait_event(&t, 10000, &ev), 0);
        assert_int_equal(ev.type, OB_TEV_CONNECT_FAILED);
        assert_int_equal(ev.err_class, OB_ERR_TLS);
        assert_int_equal(ev.cause, OB_CONN_TLS);
        assert_string_equal(ev.detail, OB_TLS_SEAM_UNBOUND_TEXT);
        ob_transport_event_clear(&ev);
#ifdef OB_TEST_SEAM_HIDDEN
        /* the probe too (it calls the function itself, so only the hidden case is caught) */
        assert_int_equal(t.ops->probe(t.impl, &o), 0);
        assert_int_equal(ob_transport_wait_event(&t, 10000, &ev), 0);
        assert_int_equal(ev.type, OB_TEV_CONNECT_FAILED);
        assert_string_equal(ev.detail, OB_TLS_SEAM_UNBOUND_TEXT);
        ob_transport_event_clear(&ev);
#endif
        ob_transport_free(&t);
        close(lfd);
        unlink(cert);
}
#endif

/* as the daemon does, before anything draws random bytes (ob_transport_paho_new() again) */
static int setup(void **state)
{
        (void)state;
        return ob_tls_provider_load_default();
}

int main(void)
{
#ifdef HAVE_PAHO_SSL_CTX_CALLBACK
        /* no SSL_CTX_use_PrivateKey_file replacement to check: Paho's callback loads the key */
        printf("skip: Paho has an SSL_CTX callback (HAVE_PAHO_SSL_CTX_CALLBACK)\n");
        return 77;
#endif
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_active),
                cmocka_unit_test(test_reached),
#if defined(OB_TEST_SEAM_HIDDEN) || defined(OB_TEST_SEAM_VERSIONED)
                cmocka_unit_test(test_transport_fails_loudly),
#endif
        };
        return cmocka_run_group_tests(tests, setup, NULL);
}
