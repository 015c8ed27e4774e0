/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `agentctl factory status`: what a line station checks before the box ships (the key, the
 * certificate, its chain, the configuration that will use them); exit 0 only when ready,
 * OB_FACTORY_EXIT_NOT_READY otherwise (docs/manufacturing.md). Changes nothing. The shared
 * context is agent/factory.c's.
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
#include "store.h"
#include "x509.h"

typedef struct Status {
        json_object *problems, *warnings;
} Status;

_printf_(2, 3) static void add_text(json_object *list, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        json_object_array_add(list, json_object_new_string(buf));
}

static bool method_uses_factory(int m)
{
        return m == OB_METHOD_STATIC || m == OB_METHOD_JITP || m == OB_METHOD_JITR;
}

/* Key: present, loads, its fingerprint. The public key goes to *ret_pub when it loads. */
static json_object *status_key(Factory *f, Status *s, json_object *top, EVP_PKEY **ret_pub)
{
        json_object *k = json_object_new_object();
        struct stat st;
        char fp[65];
        bool present;
        int r;

        json_object_object_add(k, "path", json_object_new_string(f->key_path));
        present = f->vendor_key || lstat(f->key_path, &st) == 0;
        if (!f->vendor_key && !present && errno != ENOENT) {
                add_text(s->problems, "%s: %s", f->key_path, strerror(errno));
                present = true; /* it may be there; it does not load (below) */
        }
        json_object_object_add(k, "present", json_object_new_boolean(present));
        r = ob_factory_open_keys(f, false);
        if (f->config->key.backend == OB_KEY_BACKEND_TPM)
                json_object_object_add(top, "tpm_reachable", json_object_new_boolean(r >= 0));
        else
                json_object_object_add(top, "tpm_reachable", NULL);
        if (r < 0) {
                add_text(s->problems, "%s", f->key_err);
                json_object_object_add(k, "loads", NULL);
        } else if (!present) {
                add_text(s->problems, "no device key %s: run 'agentctl factory csr'", f->key_path);
                json_object_object_add(k, "loads", json_object_new_boolean(false));
        } else if (ob_factory_load_key(f, ret_pub) < 0) {
                add_text(s->problems, "the device key %s does not load: %s", f->key_path,
                         f->key_err);
                json_object_object_add(k, "loads", json_object_new_boolean(false));
        } else
                json_object_object_add(k, "loads", json_object_new_boolean(true));
        json_object_object_add(k, "public_key_sha256",
                               *ret_pub && ob_factory_pub_fingerprint(*ret_pub, fp) >= 0
                                       ? json_object_new_string(fp)
                                       : NULL);
        json_object_object_add(k, "error",
                               r < 0 || (present && !*ret_pub) ? json_object_new_string(f->key_err)
                                                               : NULL);
        return k;
}

static json_object *status_cert(Factory *f, Status *s, EVP_PKEY *pub, X509 **ret_cert)
{
        json_object *j = json_object_new_object();
        _cleanup_(X509_freep) X509 *cert = NULL;
        int64_t now = (int64_t)time(NULL), nb = 0, na = 0;
        bool plausible = ob_clock_plausible(now, OB_BUILD_EPOCH);
        char buf[256], t[32];
        int r;

        json_object_object_add(j, "path", json_object_new_string(f->cert_path));
        r = ob_x509_from_file(f->cert_path, &cert);
        json_object_object_add(j, "installed", json_object_new_boolean(r != -ENOENT));
        if (r == -ENOENT) {
                add_text(s->problems,
                         "no certificate %s: sign the CSR and run 'agentctl factory "
                         "install-cert'",
                         f->cert_path);
                return j;
        }
        if (r < 0) {
                add_text(s->problems, "%s: %s", f->cert_path,
                         r == -EBADMSG ? "not a PEM certificate" : strerror(-r));
                return j;
        }
        if (pub) {
                bool m = ob_x509_matches_key(cert, pub) >= 0;
                json_object_object_add(j, "matches_key", json_object_new_boolean(m));
                if (!m)
                        add_text(s->problems, "%s is not for the key %s", f->cert_path,
                                 f->key_path);
        } else
                json_object_object_add(j, "matches_key", NULL);
        ob_factory_name_text(X509_get_subject_name(cert), buf, sizeof(buf));
        json_object_object_add(j, "subject", json_object_new_string(buf));
        ob_factory_name_text(X509_get_issuer_name(cert), buf, sizeof(buf));
        json_object_object_add(j, "issuer", json_object_new_string(buf));
        if (ob_x509_fingerprint_hex(cert, buf, sizeof(buf)) >= 0)
                json_object_object_add(j, "certificate_id", json_object_new_string(buf));
        if (ob_x509_validity(cert, &nb, &na) < 0) {
                add_text(s->problems, "%s: unreadable validity period", f->cert_path);
                return j;
        }
        json_object_object_add(j, "not_before",
                               json_object_new_string(ob_cli_iso_time(nb, t, sizeof(t))));
        json_object_object_add(j, "not_after",
                               json_object_new_string(ob_cli_iso_time(na, t, sizeof(t))));
        if (plausible) {
                int64_t left = na >= now ? (na - now) / DAY_S : -((now - na + DAY_S - 1) / DAY_S);
                bool valid = nb <= now && now <= na;
                json_object_object_add(j, "days_left", json_object_new_int64(left));
                json_object_object_add(j, "valid_now", json_object_new_boolean(valid));
                if (now < nb)
                        add_text(s->problems, "%s is not valid before %s", f->cert_path,
                                 ob_cli_iso_time(nb, t, sizeof(t)));
                else if (now > na)
                        add_text(s->problems, "%s expired %s", f->cert_path,
                                 ob_cli_iso_time(na, t, sizeof(t)));
        } else {
                json_object_object_add(j, "days_left", NULL);
                json_object_object_add(j, "valid_now", NULL);
                add_text(s->warnings,
                         "the clock is before the build date: certificate validity not checked");
        }
        *ret_cert = TAKE_PTR(cert);
        return j;
}

static json_object *status_chain(Factory *f, Status *s, X509 *cert)
{
        json_object *j = json_object_new_object();
        _cleanup_free_ char *pem = NULL;
        int64_t now = (int64_t)time(NULL);
        char reason[512];
        int m = f->config->provisioning.method, r;

        json_object_object_add(j, "path", json_object_new_string(f->chain_path));
        r = ob_fs_read_file(f->chain_path, 0, OB_X509_MAX_PEM, &pem, NULL);
        json_object_object_add(j, "present", json_object_new_boolean(r != -ENOENT));
        if (r == -ENOENT) {
                json_object_object_add(j, "verifies", NULL);
                if ((m == OB_METHOD_JITP || m == OB_METHOD_JITR) &&
                    !f->config->provisioning.device_chain)
                        add_text(s->problems,
                                 "no CA chain %s: %s needs the issuing CA in the first TLS "
                                 "handshake (install-cert --chain)",
                                 f->chain_path, ob_provisioning_method_to_string(m));
                return j;
        }
        if (r < 0) {
                add_text(s->problems, "%s: %s", f->chain_path, strerror(-r));
                json_object_object_add(j, "verifies", json_object_new_boolean(false));
                return j;
        }
        if (!cert) {
                json_object_object_add(j, "verifies", NULL);
                return j;
        }
        r = ob_x509_verify_chain(cert, pem, ob_clock_plausible(now, OB_BUILD_EPOCH) ? now : 0,
                                 reason, sizeof(reason));
        json_object_object_add(j, "verifies", json_object_new_boolean(r >= 0));
        json_object_object_add(j, "reason", r < 0 ? json_object_new_string(reason) : NULL);
        if (r < 0)
                add_text(s->problems, "the certificate does not verify against %s: %s",
                         f->chain_path, reason);
        return j;
}

static const char *jget(json_object *o, const char *k1, const char *k2)
{
        json_object *v = o;

        if (!json_object_object_get_ex(v, k1, &v) || !v)
                return NULL;
        if (k2 && (!json_object_object_get_ex(v, k2, &v) || !v))
                return NULL;
        return json_object_get_string(v);
}

static void print_status_human(json_object *o)
{
        json_object *l;

        printf("Ready to ship:  %s\n", jget(o, "ready", NULL));
        printf("Method:         %s\n", jget(o, "method", NULL));
        printf("Endpoint:       %s\n",
               jget(o, "endpoint", NULL) ? jget(o, "endpoint", NULL) : "not configured");
        printf("Key backend:    %s%s%s\n", jget(o, "key_backend", NULL),
               jget(o, "tpm_reachable", NULL) ? ", TPM reachable: " : "",
               jget(o, "tpm_reachable", NULL) ? jget(o, "tpm_reachable", NULL) : "");
        printf("Key:            %s (present: %s, loads: %s)\n", jget(o, "key", "path"),
               jget(o, "key", "present"),
               jget(o, "key", "loads") ? jget(o, "key", "loads") : "unknown");
        if (jget(o, "key", "public_key_sha256"))
                printf("  public key:   SHA-256 %s\n", jget(o, "key", "public_key_sha256"));
        printf("Certificate:    %s (installed: %s", jget(o, "certificate", "path"),
               jget(o, "certificate", "installed"));
        if (jget(o, "certificate", "matches_key"))
                printf(", matches the key: %s", jget(o, "certificate", "matches_key"));
        printf(")\n");
        if (jget(o, "certificate", "subject")) {
                printf("  subject:      %s\n", jget(o, "certificate", "subject"));
                printf("  issuer:       %s\n", jget(o, "certificate", "issuer"));
        }
        if (jget(o, "certificate", "not_after"))
                printf("  valid:        %s .. %s (%s days left)\n",
                       jget(o, "certificate", "not_before"), jget(o, "certificate", "not_after"),
                       jget(o, "certificate", "days_left") ? jget(o, "certificate", "days_left")
                                                           : "?");
        printf("Chain:          %s (present: %s", jget(o, "chain", "path"),
               jget(o, "chain", "present"));
        if (jget(o, "chain", "verifies"))
                printf(", verifies: %s", jget(o, "chain", "verifies"));
        printf(")\n");
        printf("Onboarded:      %s\n", jget(o, "onboarded", NULL));
        if (json_object_object_get_ex(o, "problems", &l))
                for (size_t i = 0; i < json_object_array_length(l); i++)
                        printf("Problem:        %s\n",
                               json_object_get_string(json_object_array_get_idx(l, i)));
        if (json_object_object_get_ex(o, "warnings", &l))
                for (size_t i = 0; i < json_object_array_length(l); i++)
                        printf("Warning:        %s\n",
                               json_object_get_string(json_object_array_get_idx(l, i)));
}

int ob_factory_status(const char *config_path, bool json, int argc, char *argv[])
{
        const ObCliOption options[] = {{"json", .flag = &json}, {}};
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        json_object *o = NULL;
        Status s = {};
        Factory f;
        char ep[300];
        int r, m;

        if (ob_cli_parse_options("factory status", argc, argv, options) < 0)
                return OB_CLI_EXIT_USAGE;

        r = ob_factory_init(&f, config_path);
        if (r != 0)
                goto finish;
        r = EXIT_FAILURE;
        if (ob_factory_use_configured_paths(&f) < 0) {
                ob_cli_complain("factory status: the configured device paths are too long");
                goto finish;
        }
        o = json_object_new_object();
        s.problems = json_object_new_array();
        s.warnings = json_object_new_array();
        if (!o || !s.problems || !s.warnings)
                goto finish;
        m = f.config->provisioning.method;
        json_object_object_add(o, "method",
                               json_object_new_string(ob_provisioning_method_to_string(m)));
        if (!method_uses_factory(m))
                add_text(s.problems,
                         "provisioning.method is %s: the factory certificate is used by static, "
                         "jitp and jitr only",
                         ob_provisioning_method_to_string(m));
        if (f.config->endpoint.host && f.config->endpoint.host[0])
                snprintf(ep, sizeof(ep), "%s:%u", f.config->endpoint.host, f.config->endpoint.port);
        else
                add_text(s.problems, "endpoint.host is not configured");
        json_object_object_add(o, "endpoint",
                               f.config->endpoint.host && f.config->endpoint.host[0]
                                       ? json_object_new_string(ep)
                                       : NULL);
        json_object_object_add(o, "key_backend",
                               json_object_new_string(ob_factory_backend_name(&f)));
        json_object_object_add(o, "key", status_key(&f, &s, o, &pub));
        json_object_object_add(o, "certificate", status_cert(&f, &s, pub, &cert));
        json_object_object_add(o, "chain", status_chain(&f, &s, cert));
        int on = ob_factory_onboarded(&f);
        json_object_object_add(o, "onboarded", on >= 0 ? json_object_new_boolean(on > 0) : NULL);
        if (on > 0)
                add_text(s.warnings, "the device is already onboarded: the daemon no longer uses "
                                     "the factory files");
        else if (on < 0)
                add_text(s.warnings, "%s/state.json cannot be read: %s", f.state_dir,
                         strerror(-on));
        if (f.config->provisioning.device_cert || f.config->provisioning.device_chain ||
            (f.config->provisioning.device_key && f.config->key.backend == OB_KEY_BACKEND_SOFTWARE))
                add_text(s.warnings, "provisioning.device_cert/device_key/device_chain are "
                                     "configured: the daemon reads those, and so does this "
                                     "status, not the factory folder's files");
        bool ready = json_object_array_length(s.problems) == 0;
        json_object_object_add(o, "ready", json_object_new_boolean(ready));
        json_object_object_add(o, "problems", TAKE_PTR(s.problems));
        json_object_object_add(o, "warnings", TAKE_PTR(s.warnings));
        if (json)
                ob_cli_print_json(o);
        else
                print_status_human(o);
        r = ready ? 0 : OB_FACTORY_EXIT_NOT_READY;
finish:
        json_object_put(o);
        json_object_put(s.problems);
        json_object_put(s.warnings);
        ob_factory_done(&f);
        return r;
}
