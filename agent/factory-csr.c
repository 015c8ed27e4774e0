/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `agentctl factory csr`: make the device key (TPM or software, per key.backend) in
 * <state_dir>/factory/device.key if absent, or use tpm.vendor_key_handle's, and print a PKCS#10
 * CSR for it with the subject of identity.csr_subject (docs/manufacturing.md). The shared
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
#include "csr.h"
#include "factory-private.h"
#include "factory.h"
#include "fsops.h"
#include "identity.h"
#include "key-provider.h"
#include "macro.h"

/* The subject from identity.csr_subject: {serial}, {machine_id}, {thing_name}. */
static int default_subject(const ObConfig *c, char **ret)
{
        _cleanup_free_ char *serial = NULL, *source = NULL, *mid = NULL, *thing = NULL;
        const char *vars[9];
        char err[512] = "";
        size_t n = 0;
        int r;

        r = ob_identity_serial((const char *const *)c->identity.serial_sources, NULL, &serial,
                               &source, err, sizeof(err));
        if (r < 0 && r != -ENOENT) {
                ob_cli_complain("factory csr: cannot read the serial number: %s", err);
                return r;
        }
        (void)ob_identity_machine_id(NULL, &mid);
        if (serial) {
                vars[n++] = "serial";
                vars[n++] = serial;
        }
        if (mid) {
                vars[n++] = "machine_id";
                vars[n++] = mid;
        }
        vars[n] = NULL;
        if (c->identity.thing_name) {
                r = ob_config_template_expand(c->identity.thing_name, vars, &thing);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        if (thing || serial) {
                vars[n++] = "thing_name";
                vars[n++] = thing ? thing : serial;
        }
        vars[n] = NULL;
        r = ob_config_template_expand(c->identity.csr_subject, vars, ret);
        if (r == -ENOENT)
                ob_cli_complain(
                        "factory csr: identity.csr_subject \"%s\" needs a value this device "
                        "does not have (serial number: %s); give --subject",
                        c->identity.csr_subject, err[0] ? err : "none");
        else if (r < 0)
                ob_cli_complain("factory csr: identity.csr_subject \"%s\": %s",
                                c->identity.csr_subject, strerror(-r));
        return r;
}

static int csr_sign(void *userdata, const uint8_t *digest, size_t digest_len, uint8_t **ret_sig,
                    size_t *ret_sig_len)
{
        Factory *f = userdata;

        return f->keys->ops->sign_digest(f->keys, f->key_path, digest, digest_len, ret_sig,
                                         ret_sig_len);
}

/* Our key: loaded when it exists (never replaced), created when absent. 0 or an exit code. */
static int ensure_key(Factory *f, EVP_PKEY **ret_pub, bool *ret_created)
{
        struct stat st;
        int r;

        *ret_created = false;
        if (f->vendor_key) {
                r = ob_factory_load_key(f, ret_pub);
                if (r < 0) {
                        ob_cli_complain(
                                "factory csr: the vendor key %s (tpm.vendor_key_handle): %s",
                                f->key_path, f->key_err);
                        return EXIT_FAILURE;
                }
                return 0;
        }
        if (lstat(f->key_path, &st) == 0) {
                if (!S_ISREG(st.st_mode)) {
                        ob_cli_complain("factory csr: %s is not a regular file", f->key_path);
                        return EXIT_FAILURE;
                }
                r = ob_factory_load_key(f, ret_pub);
                if (r < 0) {
                        ob_cli_complain(
                                "factory csr: %s exists but does not load (%s): it is not "
                                "replaced; if this device is to get a new identity, remove it "
                                "and run 'agentctl factory csr' again",
                                f->key_path, f->key_err);
                        return EXIT_FAILURE;
                }
                return 0;
        }
        if (errno != ENOENT) {
                ob_cli_complain("factory csr: %s: %s", f->key_path, strerror(errno));
                return EXIT_FAILURE;
        }
        r = f->keys->ops->create(f->keys, f->key_path, f->config->key.type, ret_pub);
        if (r < 0) {
                const char *e = f->keys->ops->last_error(f->keys);
                ob_cli_complain("factory csr: cannot create the device key %s: %s", f->key_path,
                                e && e[0] ? e : strerror(-r));
                return EXIT_FAILURE;
        }
        if (ob_factory_own(f, f->key_path) < 0)
                return EXIT_FAILURE;
        *ret_created = true;
        return 0;
}

int ob_factory_csr(const char *config_path, bool json, int argc, char *argv[])
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        _cleanup_free_ char *subject = NULL, *csr = NULL;
        const char *arg_subject = NULL, *out = NULL;
        const ObCliOption options[] = {
                {"subject", .arg = &arg_subject},
                {"out", .arg = &out},
                {"json", .flag = &json},
                {},
        };
        Factory f;
        char fp[65];
        bool created;
        int r;

        if (ob_cli_parse_options("factory csr", argc, argv, options) < 0)
                return OB_CLI_EXIT_USAGE;

        r = ob_factory_init(&f, config_path);
        if (r == 0)
                r = ob_factory_prepare(&f);
        if (r != 0)
                goto finish;
        if (ob_factory_open_keys(&f, true) < 0) {
                ob_cli_complain("factory csr: %s", f.key_err);
                r = EXIT_FAILURE;
                goto finish;
        }
        r = ensure_key(&f, &pub, &created);
        if (r != 0)
                goto finish;
        r = EXIT_FAILURE;
        if (arg_subject) {
                subject = strdup(arg_subject);
                if (!subject)
                        goto finish;
        } else if (default_subject(f.config, &subject) < 0)
                goto finish;
        int k = ob_csr_build(subject, pub, csr_sign, &f, &csr);
        if (k == -EINVAL) {
                ob_cli_complain(
                        "factory csr: bad subject \"%s\" (attribute=value, comma-separated, "
                        "e.g. \"CN=gw-1,O=Acme\") or unsupported key",
                        subject);
                goto finish;
        }
        if (k < 0) {
                const char *e = f.keys->ops->last_error(f.keys);
                ob_cli_complain("factory csr: cannot sign the CSR with %s: %s", f.key_path,
                                e && e[0] ? e : strerror(-k));
                goto finish;
        }
        if (out) {
                k = ob_fs_write_file_atomic(NULL, out, csr, strlen(csr), 0644);
                if (k < 0) {
                        ob_cli_fail(OB_CLI_E_IO, "factory csr: cannot write %s: %s", out,
                                    strerror(-k));
                        goto finish;
                }
        } else if (!json && (fputs(csr, stdout) < 0 || fflush(stdout) != 0)) {
                ob_cli_fail(OB_CLI_E_IO, "factory csr: cannot write the CSR to standard output");
                goto finish;
        }
        if (ob_factory_pub_fingerprint(pub, fp) < 0)
                snprintf(fp, sizeof(fp), "?");
        if (json) {
                json_object *j = json_object_new_object();
                if (!j)
                        goto finish;
                /* the CSR itself when it is not in a file */
                json_object_object_add(j, "csr", out ? NULL : json_object_new_string(csr));
                json_object_object_add(j, "out", out ? json_object_new_string(out) : NULL);
                json_object_object_add(j, "subject", json_object_new_string(subject));
                json_object_object_add(j, "key", json_object_new_string(f.key_path));
                json_object_object_add(j, "key_backend",
                                       json_object_new_string(ob_factory_backend_name(&f)));
                json_object_object_add(j, "key_created", json_object_new_boolean(created));
                json_object_object_add(j, "public_key_sha256", json_object_new_string(fp));
                ob_cli_print_json(j);
                json_object_put(j);
        }
        fprintf(stderr, "agentctl: %s %s key %s (public key SHA-256 %s); CSR for \"%s\"%s%s\n",
                created ? "created" : "reused", ob_factory_backend_name(&f), f.key_path, fp,
                subject, out ? " written to " : "", out ? out : "");
        r = 0;
finish:
        ob_factory_done(&f);
        return r;
}
