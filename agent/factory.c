/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `agentctl factory`: put a device identity on the box on the production line, for the
 * methods that start from a certificate (static, jitp, jitr; docs/manufacturing.md).
 *
 *   csr           make the device key (TPM or software, per key.backend) in
 *                 <state_dir>/factory/device.key if absent and print a PKCS#10 CSR for it
 *   install-cert  check a certificate (our key, a chain that verifies, valid now) and install it
 *                 (and its chain) next to the key, atomically
 *   status        what a line station checks before the box ships; exit 0 only when ready
 *
 * They run without the daemon and refuse to change anything while it answers on its control
 * socket; a lock on the factory directory keeps two of them from running at once. Run as root,
 * what they create is given to the owner of the state directory (the agent's user).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "cli.h"
#include "config-file.h"
#include "control-client.h"
#include "csr.h"
#include "factory-paths.h"
#include "factory.h"
#include "fsops.h"
#include "identity.h"
#include "key-provider.h"
#include "macro.h"
#include "store.h"
#include "x509.h"
#ifdef HAVE_TPM
#include "tpm-key.h"
#endif

#define EXIT_CONFIG 78
#define EXIT_NOPERM 77

#define PING_TIMEOUT_MS 3000
#define DAY_S           86400
#define PATH_MAX_LEN    512

OB_DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free)

typedef struct Factory {
        ObConfig *config;
        char state_dir[PATH_MAX_LEN];
        char dir[PATH_MAX_LEN]; /* <state_dir>/factory */
        char key_path[PATH_MAX_LEN], cert_path[PATH_MAX_LEN], chain_path[PATH_MAX_LEN];
        bool vendor_key; /* the key is tpm.vendor_key_handle's, not a file */
        ObKeyProvider *keys;
        char key_err[512];
        int lock_fd;
        uid_t uid; /* the state directory's owner: who gets what we create */
        gid_t gid;
} Factory;

static void factory_done(Factory *f)
{
        f->keys = ob_key_provider_free(f->keys);
        if (f->config)
                f->config = ob_config_free(f->config);
        if (f->lock_fd >= 0)
                (void)close(f->lock_fd);
        f->lock_fd = -1;
}

static bool path_fits(char *buf, size_t size, const char *a, const char *b)
{
        int n = snprintf(buf, size, "%s/%s", a, b);
        return n > 0 && (size_t)n < size;
}

static bool copy_fits(char *buf, size_t size, const char *s)
{
        int n = snprintf(buf, size, "%s", s);
        return n >= 0 && (size_t)n < size;
}

/* Load the configuration and name the factory files. 0, or an exit code after saying why. */
static int factory_init(Factory *f, const char *config_path)
{
        int r;

        *f = (Factory){.lock_fd = -1, .uid = (uid_t)-1, .gid = (gid_t)-1};
        r = ob_cli_load_config(config_path, false, &f->config);
        if (r != 0)
                return r;
        snprintf(f->state_dir, sizeof(f->state_dir), "%s", f->config->paths.state_dir);
        if (!path_fits(f->dir, sizeof(f->dir), f->state_dir, OB_FACTORY_DIR) ||
            !path_fits(f->key_path, sizeof(f->key_path), f->dir, OB_FACTORY_KEY) ||
            !path_fits(f->cert_path, sizeof(f->cert_path), f->dir, OB_FACTORY_CERT) ||
            !path_fits(f->chain_path, sizeof(f->chain_path), f->dir, OB_FACTORY_CHAIN)) {
                ob_cli_complain("paths.state_dir %s is too long", f->state_dir);
                return EXIT_CONFIG;
        }
        if (f->config->tpm.vendor_key_handle && f->config->key.backend == OB_KEY_BACKEND_TPM) {
                f->vendor_key = true;
                snprintf(f->key_path, sizeof(f->key_path), "%s0x%08x", OB_KEY_PATH_HANDLE_PREFIX,
                         f->config->tpm.vendor_key_handle);
        }
        return 0;
}

/* What the daemon reads (status): ob_factory_paths(), the daemon's own resolution (configured
 * provisioning.device_cert / device_key / device_chain win, each on its own). */
static int use_configured_paths(Factory *f)
{
        ObFactoryPaths p;

        if (ob_factory_paths(f->config, &p) < 0)
                return -ENOMEM;
        bool ok = copy_fits(f->cert_path, sizeof(f->cert_path), p.cert) &&
                  copy_fits(f->key_path, sizeof(f->key_path), p.key) &&
                  copy_fits(f->chain_path, sizeof(f->chain_path), p.chain);
        ob_factory_paths_done(&p);
        return ok ? 0 : -ENAMETOOLONG;
}

static const char *backend_name(const Factory *f)
{
        return f->config->key.backend == OB_KEY_BACKEND_SOFTWARE ? "software" : "tpm";
}

/* Open the key provider; create_srk: make the SRK if absent (csr), else only use it. The
 * reason of a failure is in f->key_err. */
static int open_keys(Factory *f, bool create_srk)
{
        const ObConfig *c = f->config;

        if (c->key.backend == OB_KEY_BACKEND_SOFTWARE)
                return ob_key_provider_software_new(&f->keys);
#ifdef HAVE_TPM
        ObTpm *t = NULL;
        bool created = false;
        int r;

        r = ob_tpm_open_config(c, NULL, create_srk, &t, &created, f->key_err, sizeof(f->key_err));
        if (r < 0)
                return r;
        if (created)
                fprintf(stderr, "agentctl: created the storage root key at 0x%08x\n",
                        c->tpm.srk_handle ? c->tpm.srk_handle : OB_TPM_DEFAULT_SRK);
        r = ob_key_provider_tpm_new(t, &f->keys);
        if (r < 0) {
                ob_tpm_close(t);
                snprintf(f->key_err, sizeof(f->key_err), "%s", strerror(-r));
        }
        return r;
#else
        snprintf(f->key_err, sizeof(f->key_err),
                 "key.backend is tpm but agentctl was built without TPM support");
        return -EOPNOTSUPP;
#endif
}

/* Load our key (the file, or the vendor's handle); the reason of a failure in f->key_err. */
static int load_key(Factory *f, EVP_PKEY **ret_pub)
{
        int r = f->keys->ops->load(f->keys, f->key_path, ret_pub);
        if (r < 0) {
                const char *e = f->keys->ops->last_error(f->keys);
                snprintf(f->key_err, sizeof(f->key_err), "%s", e && e[0] ? e : strerror(-r));
        }
        return r;
}

/* SHA-256 of the public key's SubjectPublicKeyInfo (DER), 64 hex digits. */
static int pub_fingerprint(EVP_PKEY *pub, char ret[65])
{
        unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
        int n = i2d_PUBKEY(pub, &der);

        if (n <= 0) {
                ERR_clear_error();
                return -EINVAL;
        }
        SHA256(der, (size_t)n, md);
        OPENSSL_free(der);
        for (size_t i = 0; i < sizeof(md); i++)
                snprintf(ret + 2 * i, 3, "%02x", md[i]);
        return 0;
}

/*
 * Is the daemon running? It is when anything answers on its control socket (even with an
 * error, or late). 0: nobody listens; 1: it runs; -EACCES: this user cannot tell (why says
 * which).
 */
static int daemon_running(const Factory *f, char *why, size_t why_size)
{
        _cleanup_free_ char *sock = NULL;
        json_object *res = NULL;
        int r;

        if (asprintf(&sock, "%s/control.sock", f->config->paths.runtime_dir) < 0) {
                snprintf(why, why_size, "out of memory");
                return 1;
        }
        r = ob_control_call(sock, "ping", NULL, PING_TIMEOUT_MS, &res, NULL, NULL);
        json_object_put(res);
        if (r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR)
                return 0;
        if (r == -EACCES || r == -EPERM) {
                snprintf(why, why_size,
                         "cannot tell whether the daemon runs: %s is not accessible to this user "
                         "(run as root)",
                         sock);
                return -EACCES;
        }
        snprintf(why, why_size,
                 "the daemon is running (it answers on %s): stop it first "
                 "(systemctl stop onboard-agent)",
                 sock);
        return 1;
}

/* Give path to the state directory's owner when we are root (the agent must read it). */
static int own(const Factory *f, const char *path)
{
        if (geteuid() != 0 || f->uid == (uid_t)-1)
                return 0;
        if (lchown(path, f->uid, f->gid) < 0) {
                int r = -errno;
                ob_cli_fail(OB_CLI_E_IO, "cannot give %s to uid %u: %s", path, (unsigned)f->uid,
                            strerror(-r));
                return r;
        }
        return 0;
}

/*
 * For the mutating commands: the daemon must not run; create the state directory (0700) and
 * the factory directory (OB_FACTORY_DIR_MODE) if missing, and take the factory lock. 0 or an
 * exit code.
 */
static int prepare(Factory *f)
{
        char why[PATH_MAX_LEN + 128];
        struct stat st;
        int r;

        r = daemon_running(f, why, sizeof(why));
        if (r < 0) {
                ob_cli_fail(OB_CLI_E_PERMISSION_DENIED, "factory: %s", why);
                return EXIT_NOPERM;
        }
        if (r > 0) {
                ob_cli_fail(OB_CLI_E_DAEMON_RUNNING, "factory: %s", why);
                return EXIT_FAILURE;
        }
        if (mkdir(f->state_dir, 0700) < 0 && errno != EEXIST) {
                ob_cli_fail(OB_CLI_E_IO, "cannot create the state directory %s: %s", f->state_dir,
                            strerror(errno));
                return EXIT_FAILURE;
        }
        if (stat(f->state_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                ob_cli_fail(OB_CLI_E_IO, "state directory %s: %s", f->state_dir,
                            errno ? strerror(errno) : "not a directory");
                return EXIT_FAILURE;
        }
        f->uid = st.st_uid;
        f->gid = st.st_gid;
        if (mkdir(f->dir, OB_FACTORY_DIR_MODE) == 0) {
                /* the mode exactly, whatever the umask */
                if (chmod(f->dir, OB_FACTORY_DIR_MODE) < 0) {
                        ob_cli_fail(OB_CLI_E_IO, "cannot set the mode of %s: %s", f->dir,
                                    strerror(errno));
                        return EXIT_FAILURE;
                }
                if (own(f, f->dir) < 0)
                        return EXIT_FAILURE;
        } else if (errno != EEXIST) {
                ob_cli_fail(OB_CLI_E_IO, "cannot create %s: %s", f->dir, strerror(errno));
                return EXIT_FAILURE;
        }
        f->lock_fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (f->lock_fd < 0) {
                ob_cli_fail(OB_CLI_E_IO, "cannot open %s: %s", f->dir, strerror(errno));
                return EXIT_FAILURE;
        }
        if (flock(f->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                ob_cli_fail(OB_CLI_E_BUSY,
                            "%s is locked: another 'agentctl factory' command is running", f->dir);
                return EXIT_FAILURE;
        }
        return 0;
}

/* 1 the device is onboarded, 0 not (no state yet), negative: state.json cannot be read. */
static int onboarded(const Factory *f)
{
        _cleanup_(ob_store_freep) ObStore *store = NULL;
        json_object *state = NULL, *v, *cur, *gen;
        ObStoreLoadInfo info;
        int r;

        r = ob_store_open(f->state_dir, "state.json", NULL, &store);
        if (r >= 0)
                r = ob_store_load(store, &state, &info);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = (json_object_object_get_ex(state, "stage", &v) &&
             json_object_is_type(v, json_type_string) &&
             strcmp(json_object_get_string(v), "onboarded") == 0) ||
            (json_object_object_get_ex(state, "current", &cur) && cur &&
             json_object_object_get_ex(cur, "generation", &gen) && json_object_get_int64(gen) > 0);
        json_object_put(state);
        return r;
}

/* Write data to path atomically (temp, fsync, rename, fsync dir) and give it to the agent. */
static int install_file(const Factory *f, const char *path, const char *data, size_t len,
                        mode_t mode)
{
        int r = ob_fs_write_file_atomic(NULL, path, data, len, mode);
        if (r < 0) {
                ob_cli_fail(OB_CLI_E_IO, "cannot write %s: %s", path, strerror(-r));
                return r;
        }
        return own(f, path);
}

/* ------------------------------------------------------------------ csr */

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
                r = load_key(f, ret_pub);
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
                r = load_key(f, ret_pub);
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
        if (own(f, f->key_path) < 0)
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

        r = factory_init(&f, config_path);
        if (r == 0)
                r = prepare(&f);
        if (r != 0)
                goto finish;
        if (open_keys(&f, true) < 0) {
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
        if (pub_fingerprint(pub, fp) < 0)
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
                json_object_object_add(j, "key_backend", json_object_new_string(backend_name(&f)));
                json_object_object_add(j, "key_created", json_object_new_boolean(created));
                json_object_object_add(j, "public_key_sha256", json_object_new_string(fp));
                ob_cli_print_json(j);
                json_object_put(j);
        }
        fprintf(stderr, "agentctl: %s %s key %s (public key SHA-256 %s); CSR for \"%s\"%s%s\n",
                created ? "created" : "reused", backend_name(&f), f.key_path, fp, subject,
                out ? " written to " : "", out ? out : "");
        r = 0;
finish:
        factory_done(&f);
        return r;
}

/* ------------------------------------------------------------------ install-cert */

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

static void name_text(X509_NAME *name, char *buf, size_t size)
{
        _cleanup_(BIO_freep) BIO *b = BIO_new(BIO_s_mem());
        char *p;
        long n;

        snprintf(buf, size, "?");
        if (!b || X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV) < 0)
                return;
        n = BIO_get_mem_data(b, &p);
        snprintf(buf, size, "%.*s", (int)OB_MIN((long)size - 1, n), p);
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

        if (open_keys(f, false) < 0) {
                ob_cli_complain("factory install-cert: %s", f->key_err);
                return EXIT_FAILURE;
        }
        r = load_key(f, &pub);
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
                if (!cert_pub || pub_fingerprint(cert_pub, a) < 0)
                        snprintf(a, sizeof(a), "unreadable");
                if (pub_fingerprint(pub, b) < 0)
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

        r = factory_init(&f, config_path);
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

        r = prepare(&f);
        if (r != 0)
                goto finish;
        r = EXIT_FAILURE;
        int o = onboarded(&f);
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
                if (install_file(&f, f.chain_path, chain_pem, chain_len, OB_FACTORY_CERT_MODE) < 0)
                        goto finish;
        } else if (unlink(f.chain_path) < 0 && errno != ENOENT) {
                ob_cli_fail(OB_CLI_E_IO, "cannot remove the old %s: %s", f.chain_path,
                            strerror(errno));
                goto finish;
        }
        if (install_file(&f, f.cert_path, cert_pem, cert_len, OB_FACTORY_CERT_MODE) < 0)
                goto finish;
        if (f.config->provisioning.device_cert)
                fprintf(stderr,
                        "agentctl: factory install-cert: note: provisioning.device_cert (%s) is "
                        "configured: the daemon uses that one, not %s\n",
                        f.config->provisioning.device_cert, f.cert_path);

        if (ob_x509_fingerprint_hex(cert, id, sizeof(id)) < 0)
                snprintf(id, sizeof(id), "?");
        name_text(X509_get_subject_name(cert), subj, sizeof(subj));
        name_text(X509_get_issuer_name(cert), iss, sizeof(iss));
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
        factory_done(&f);
        return r;
}

/* ------------------------------------------------------------------ status */

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
        r = open_keys(f, false);
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
        } else if (load_key(f, ret_pub) < 0) {
                add_text(s->problems, "the device key %s does not load: %s", f->key_path,
                         f->key_err);
                json_object_object_add(k, "loads", json_object_new_boolean(false));
        } else
                json_object_object_add(k, "loads", json_object_new_boolean(true));
        json_object_object_add(
                k, "public_key_sha256",
                *ret_pub && pub_fingerprint(*ret_pub, fp) >= 0 ? json_object_new_string(fp) : NULL);
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
        name_text(X509_get_subject_name(cert), buf, sizeof(buf));
        json_object_object_add(j, "subject", json_object_new_string(buf));
        name_text(X509_get_issuer_name(cert), buf, sizeof(buf));
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

        r = factory_init(&f, config_path);
        if (r != 0)
                goto finish;
        r = EXIT_FAILURE;
        if (use_configured_paths(&f) < 0) {
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
        json_object_object_add(o, "key_backend", json_object_new_string(backend_name(&f)));
        json_object_object_add(o, "key", status_key(&f, &s, o, &pub));
        json_object_object_add(o, "certificate", status_cert(&f, &s, pub, &cert));
        json_object_object_add(o, "chain", status_chain(&f, &s, cert));
        int on = onboarded(&f);
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
        factory_done(&f);
        return r;
}
