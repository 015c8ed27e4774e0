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
 *
 * This file is what the three share (agent/factory-private.h): the context, the guard and the
 * writing; each command is in a file of its own (agent/factory-csr.c, factory-cert.c,
 * factory-status.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/sha.h>

#include "cli.h"
#include "config-file.h"
#include "control-client.h"
#include "factory-paths.h"
#include "factory-private.h"
#include "factory.h"
#include "fsops.h"
#include "key-provider.h"
#include "store.h"
#ifdef HAVE_TPM
#include "tpm-key.h"
#endif

#define PING_TIMEOUT_MS 3000

void ob_factory_done(Factory *f)
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
int ob_factory_init(Factory *f, const char *config_path)
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
int ob_factory_use_configured_paths(Factory *f)
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

const char *ob_factory_backend_name(const Factory *f)
{
        return f->config->key.backend == OB_KEY_BACKEND_SOFTWARE ? "software" : "tpm";
}

/* Open the key provider; create_srk: make the SRK if absent (csr), else only use it. The
 * reason of a failure is in f->key_err. */
int ob_factory_open_keys(Factory *f, bool create_srk)
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
int ob_factory_load_key(Factory *f, EVP_PKEY **ret_pub)
{
        int r = f->keys->ops->load(f->keys, f->key_path, ret_pub);
        if (r < 0) {
                const char *e = f->keys->ops->last_error(f->keys);
                snprintf(f->key_err, sizeof(f->key_err), "%s", e && e[0] ? e : strerror(-r));
        }
        return r;
}

/* SHA-256 of the public key's SubjectPublicKeyInfo (DER), 64 hex digits. */
int ob_factory_pub_fingerprint(EVP_PKEY *pub, char ret[65])
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
int ob_factory_own(const Factory *f, const char *path)
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
int ob_factory_prepare(Factory *f)
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
                if (ob_factory_own(f, f->dir) < 0)
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
int ob_factory_onboarded(const Factory *f)
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
int ob_factory_install_file(const Factory *f, const char *path, const char *data, size_t len,
                            mode_t mode)
{
        int r = ob_fs_write_file_atomic(NULL, path, data, len, mode);
        if (r < 0) {
                ob_cli_fail(OB_CLI_E_IO, "cannot write %s: %s", path, strerror(-r));
                return r;
        }
        return ob_factory_own(f, path);
}

void ob_factory_name_text(X509_NAME *name, char *buf, size_t size)
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
