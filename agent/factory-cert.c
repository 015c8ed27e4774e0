/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `agentctl factory install-cert`: check a signed device certificate (our key, a chain that
 * verifies, valid now) and install it and its chain next to the key, atomically
 * (docs/manufacturing.md). The shared context is agent/factory.c's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "cli.h"
#include "config-file.h"
#include "factory-paths.h"
#include "factory-private.h"
#include "factory.h"
#include "fsops.h"
#include "key-provider.h"
#include "macro.h"
#include "x509.h"

static size_t count(const char *s, const char *needle)
{
        size_t n = 0;

        for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* The certificates of pem re-encoded as PEM (nothing else of the input survives: no key block,
 * no text). 0, -EBADMSG, -ENOMEM. */
static int certs_to_pem(const char *pem, size_t len, char **ret, size_t *ret_len)
{
        _cleanup_(BIO_freep) BIO *in = BIO_new_mem_buf(pem, (int)len);
        _cleanup_(BIO_freep) BIO *out = BIO_new(BIO_s_mem());
        X509 *x;
        char *p;
        long n;
        int k = 0;

        if (!in || !out)
                return -ENOMEM;
        while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL))) {
                int ok = PEM_write_bio_X509(out, x);
                X509_free(x);
                if (!ok)
                        return -ENOMEM;
                k++;
        }
        ERR_clear_error();
        if (k == 0)
                return -EBADMSG;
        n = BIO_get_mem_data(out, &p);
        *ret = strndup(p, (size_t)n);
        if (!*ret)
                return -ENOMEM;
        *ret_len = (size_t)n;
        return 0;
}

/* Does the PEM text hold a copy of cert? */
static bool pem_holds_cert(const char *pem, X509 *cert)
{
        _cleanup_(BIO_freep) BIO *in = BIO_new_mem_buf(pem, -1);
        bool found = false;
        X509 *x;

        while (in && !found && (x = PEM_read_bio_X509(in, NULL, NULL, NULL))) {
                found = X509_cmp(x, cert) == 0;
                X509_free(x);
        }
        ERR_clear_error();
        return found;
}

/* The checks of install-cert on cert; 0 or an exit code after saying why. */
static int check_cert(Factory *f, X509 *cert, const char *cert_file, const char *chain_pem,
                      const char *chain_file)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        EVP_PKEY *cert_pub;
        char a[65], b[65], t[32], reason[512];
        int64_t nb, na, now = (int64_t)time(NULL);
        bool plausible = ob_clock_plausible(now, OB_BUILD_EPOCH);
        int r;

        if (ob_factory_open_keys(f, false) < 0) {
                ob_cli_complain("factory install-cert: %s", f->key_err);
                return EXIT_FAILURE;
        }
        r = ob_factory_load_key(f, &pub);
        if (r == -ENOENT && !f->vendor_key) {
                ob_cli_complain(
                        "factory install-cert: no device key %s: run 'agentctl factory csr' "
                        "first",
                        f->key_path);
                return EXIT_FAILURE;
        }
        if (r < 0) {
                ob_cli_complain("factory install-cert: the device key %s does not load: %s",
                                f->key_path, f->key_err);
                return EXIT_FAILURE;
        }
        if (ob_x509_matches_key(cert, pub) < 0) {
                cert_pub = X509_get0_pubkey(cert);
                if (!cert_pub || ob_factory_pub_fingerprint(cert_pub, a) < 0)
                        snprintf(a, sizeof(a), "unreadable");
                if (ob_factory_pub_fingerprint(pub, b) < 0)
                        snprintf(b, sizeof(b), "?");
                ob_cli_complain(
                        "factory install-cert: %s is not for this device's key: its public key "
                        "has SHA-256 %s, the key %s has %s",
                        cert_file, a, f->key_path, b);
                return EXIT_FAILURE;
        }
        if (ob_x509_validity(cert, &nb, &na) < 0) {
                ob_cli_complain("factory install-cert: %s: unreadable validity period", cert_file);
                return EXIT_FAILURE;
        }
        if (plausible && now < nb) {
                ob_cli_complain("factory install-cert: %s is not valid before %s", cert_file,
                                ob_cli_iso_time(nb, t, sizeof(t)));
                return EXIT_FAILURE;
        }
        if (plausible && now > na) {
                ob_cli_complain("factory install-cert: %s expired %s", cert_file,
                                ob_cli_iso_time(na, t, sizeof(t)));
                return EXIT_FAILURE;
        }
        if (!plausible)
                fprintf(stderr,
                        "agentctl: factory install-cert: the clock (%s) is before the build "
                        "date: validity not checked\n",
                        ob_cli_iso_time(now, t, sizeof(t)));
        if (chain_pem) {
                /* the chain goes on the device as it is: it must hold the CA certificates only */
                if (pem_holds_cert(chain_pem, cert)) {
                        ob_cli_complain(
                                "factory install-cert: the chain %s holds the device certificate "
                                "itself: give the CA certificates only",
                                chain_file);
                        return EXIT_FAILURE;
                }
                r = ob_x509_verify_chain(cert, chain_pem, plausible ? now : 0, reason,
                                         sizeof(reason));
                if (r < 0) {
                        ob_cli_complain(
                                "factory install-cert: %s does not verify against the chain "
                                "%s: %s",
                                cert_file, chain_file, reason);
                        return EXIT_FAILURE;
                }
        }
        return 0;
}

int ob_factory_install_cert(const char *config_path, bool json, int argc, char *argv[])
{
        _cleanup_free_ char *cert_in = NULL, *chain_in = NULL, *cert_pem = NULL, *chain_pem = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        const char *cert_file = NULL, *chain_file = NULL;
        size_t cert_len = 0, chain_len = 0, n;
        bool force = false;
        const ObCliOption options[] = {
                {"cert", .arg = &cert_file},
                {"chain", .arg = &chain_file},
                {"force", .flag = &force},
                {"json", .flag = &json},
                {},
        };
        char id[65], subj[256], iss[256], t[32];
        int64_t na = 0;
        Factory f;
        int r;

        if (ob_cli_parse_options("factory install-cert", argc, argv, options) < 0)
                return OB_CLI_EXIT_USAGE;
        if (!cert_file)
                return ob_cli_usage_error("factory install-cert needs --cert FILE");

        r = ob_factory_init(&f, config_path);
        if (r != 0)
                goto finish;
        r = EXIT_FAILURE;
        /* the inputs first: a typo must not need a TPM to be reported */
        if (ob_cli_read_input("factory install-cert", "certificate", cert_file, OB_X509_MAX_PEM,
                              &cert_in, &cert_len) < 0 ||
            (chain_file && ob_cli_read_input("factory install-cert", "chain", chain_file,
                                             OB_X509_MAX_PEM, &chain_in, &chain_len) < 0))
                goto finish;
        n = count(cert_in, "-----BEGIN CERTIFICATE-----");
        if (n == 0 || ob_x509_from_pem(cert_in, cert_len, &cert) < 0) {
                ob_cli_complain("factory install-cert: %s is not a PEM certificate", cert_file);
                goto finish;
        }
        if (n > 1) {
                ob_cli_complain(
                        "factory install-cert: %s holds %zu certificates: give the device's "
                        "certificate alone with --cert and its CA chain with --chain",
                        cert_file, n);
                goto finish;
        }
        if (chain_in && (count(chain_in, "-----BEGIN CERTIFICATE-----") == 0 ||
                         certs_to_pem(chain_in, chain_len, &chain_pem, &chain_len) < 0)) {
                ob_cli_complain("factory install-cert: chain %s holds no PEM certificate",
                                chain_file);
                goto finish;
        }
        if (certs_to_pem(cert_in, cert_len, &cert_pem, &cert_len) < 0)
                goto finish;

        r = ob_factory_prepare(&f);
        if (r != 0)
                goto finish;
        r = EXIT_FAILURE;
        int o = ob_factory_onboarded(&f);
        if (o < 0 && !force) {
                ob_cli_complain(
                        "factory install-cert: cannot tell whether the device is onboarded: "
                        "%s/state.json: %s (--force installs anyway)",
                        f.state_dir, strerror(-o));
                goto finish;
        }
        if (o > 0 && !force) {
                ob_cli_complain(
                        "factory install-cert: the device is already onboarded (%s/state.json): "
                        "a factory certificate would not be used; --force installs it anyway "
                        "(it takes effect after 'agentctl reprovision')",
                        f.state_dir);
                goto finish;
        }
        r = check_cert(&f, cert, cert_file, chain_in, chain_file);
        if (r != 0)
                goto finish;
        r = EXIT_FAILURE;

        /* the chain first, the certificate last: device.crt appearing is the commit */
        if (chain_pem) {
                if (ob_factory_install_file(&f, f.chain_path, chain_pem, chain_len,
                                            OB_FACTORY_CERT_MODE) < 0)
                        goto finish;
        } else if (unlink(f.chain_path) < 0 && errno != ENOENT) {
                ob_cli_fail(OB_CLI_E_IO, "cannot remove the old %s: %s", f.chain_path,
                            strerror(errno));
                goto finish;
        }
        if (ob_factory_install_file(&f, f.cert_path, cert_pem, cert_len, OB_FACTORY_CERT_MODE) < 0)
                goto finish;
        if (f.config->provisioning.device_cert)
                fprintf(stderr,
                        "agentctl: factory install-cert: note: provisioning.device_cert (%s) is "
                        "configured: the daemon uses that one, not %s\n",
                        f.config->provisioning.device_cert, f.cert_path);

        if (ob_x509_fingerprint_hex(cert, id, sizeof(id)) < 0)
                snprintf(id, sizeof(id), "?");
        ob_factory_name_text(X509_get_subject_name(cert), subj, sizeof(subj));
        ob_factory_name_text(X509_get_issuer_name(cert), iss, sizeof(iss));
        (void)ob_x509_validity(cert, NULL, &na);
        if (json) {
                json_object *j = json_object_new_object();
                if (!j)
                        goto finish;
                json_object_object_add(j, "certificate", json_object_new_string(f.cert_path));
                json_object_object_add(j, "chain",
                                       chain_pem ? json_object_new_string(f.chain_path) : NULL);
                json_object_object_add(j, "certificate_id", json_object_new_string(id));
                json_object_object_add(j, "subject", json_object_new_string(subj));
                json_object_object_add(j, "issuer", json_object_new_string(iss));
                json_object_object_add(j, "not_after",
                                       json_object_new_string(ob_cli_iso_time(na, t, sizeof(t))));
                json_object_object_add(j, "forced", json_object_new_boolean(force && o != 0));
                ob_cli_print_json(j);
                json_object_put(j);
        } else {
                printf("Installed %s%s%s\n", f.cert_path, chain_pem ? " and " : "",
                       chain_pem ? f.chain_path : "");
                printf("Certificate id: %s\nSubject: %s\nIssuer: %s\nNot after: %s\n", id, subj,
                       iss, ob_cli_iso_time(na, t, sizeof(t)));
        }
        r = 0;
finish:
        ob_factory_done(&f);
        return r;
}
