/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The inputs and helpers the checks share (agent/check-private.h): each input is computed once,
 * on first use, and kept in the context, so that skipping one check (--skip) never disables
 * another: a check whose input is missing says "skip" and names the check that explains why.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "check-private.h"
#include "control-client.h"
#include "conn-outcome.h"
#include "creds.h"
#include "factory-paths.h"
#include "fsops.h"
#include "handle-key.h"
#include "tls-provider.h"
#include "key-provider.h"
#include "onboard.h"

#define MAX_PEM_FILE       (64 * 1024)
#define MAX_NET_TIMEOUT_MS 10000

_printf_(3, 4) void ob_check_say(ObCheckOutcome *o, ObHealthResult r, const char *fmt, ...)
{
        va_list ap;

        o->result = r;
        va_start(ap, fmt);
        vsnprintf(o->detail, sizeof(o->detail), fmt, ap);
        va_end(ap);
}

_printf_(2, 3) void ob_check_hint(ObCheckOutcome *o, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(o->hint, sizeof(o->hint), fmt, ap);
        va_end(ap);
}

bool ob_check_access_error(int r)
{
        return r == -EACCES || r == -EPERM;
}

/* The public half of a PEM private key file (software keys: the claim, a software device key). */
int ob_check_read_key_pub(const char *path, EVP_PKEY **ret)
{
        _cleanup_free_ char *pem = NULL;
        size_t n = 0;
        BIO *b;
        EVP_PKEY *k;
        int r;

        r = ob_fs_read_file(path, 0, MAX_PEM_FILE, &pem, &n);
        if (r < 0)
                return r;
        b = BIO_new_mem_buf(pem, (int)n);
        if (!b)
                return -ENOMEM;
        k = PEM_read_bio_PrivateKey_ex(b, NULL, NULL, NULL, NULL, "provider=default");
        BIO_free(b);
        OPENSSL_cleanse(pem, n);
        ERR_clear_error();
        if (!k)
                return -EBADMSG;
        *ret = k;
        return 0;
}

int ob_check_need_config(ObCheckContext *ctx)
{
        ObConfigDiags d = {0};
        int r;

        if (ctx->config_lazy.tried)
                return ctx->config_lazy.r;
        ctx->config_lazy.tried = true;
        r = ob_config_load(ctx->config_path, NULL, &ctx->config, &d);
        ctx->config_warnings = d.n_warnings;
        for (size_t i = 0; i < d.n; i++) {
                _cleanup_free_ char *line = NULL;
                /* the first error, or else the first warning */
                if ((r < 0) != (d.items[i].severity == OB_CONFIG_ERROR))
                        continue;
                if (ob_config_diag_format(&d.items[i], &line) >= 0)
                        snprintf(ctx->config_err, sizeof(ctx->config_err), "%s", line);
                break;
        }
        ob_config_diags_clear(&d);
        ctx->config_lazy.r = r;
        return r;
}

bool ob_check_no_config(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (ob_check_need_config(ctx) >= 0)
                return false;
        ob_check_say(o, OB_HEALTH_SKIP, "the configuration is not usable (see check config)");
        return true;
}

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;

        if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                return json_object_get_string(v);
        return NULL;
}

static uint64_t jgen(json_object *o, const char *key)
{
        json_object *s, *v;

        if (o && json_object_object_get_ex(o, key, &s) && s &&
            json_object_object_get_ex(s, "generation", &v) && json_object_is_type(v, json_type_int))
                return (uint64_t)json_object_get_int64(v);
        return 0;
}

int ob_check_need_state(ObCheckContext *ctx)
{
        _cleanup_(ob_store_freep) ObStore *store = NULL;
        int r;

        if (ctx->state_lazy.tried)
                return ctx->state_lazy.r;
        ctx->state_lazy.tried = true;
        ctx->stage = "new";
        r = ob_store_open(ctx->config->paths.state_dir, "state.json", NULL, &store);
        if (r >= 0)
                r = ob_store_load(store, &ctx->state, &ctx->info);
        if (r >= 0) {
                const char *s = jstr(ctx->state, "stage");
                ObOnboardStage st;
                if (s && ob_onboard_stage_from_string(s, &st) >= 0)
                        ctx->stage = ob_onboard_stage_to_string(st);
                /* a committed identity counts, also while a rotation builds the next slot
                 * (the stage then describes the rotation) */
                ctx->onboarded = (s && strcmp(ctx->stage, "onboarded") == 0) ||
                                 jgen(ctx->state, "current") > 0;
                ctx->gen =
                        ctx->onboarded ? jgen(ctx->state, "current") : jgen(ctx->state, "pending");
                {
                        json_object *v;
                        ctx->decommissioned =
                                json_object_object_get_ex(ctx->state, "decommissioned", &v) &&
                                json_object_get_boolean(v);
                }
        }
        ctx->state_lazy.r = r;
        return r;
}

#ifdef HAVE_TPM
bool ob_check_tpm_backend(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (ob_check_no_config(ctx, o))
                return false;
        if (ctx->config->key.backend == OB_KEY_BACKEND_SOFTWARE) {
                ob_check_say(o, OB_HEALTH_SKIP, "key.backend is software: no TPM in use");
                return false;
        }
        return true;
}

int ob_check_need_tpm(ObCheckContext *ctx)
{
        const char *tcti = ctx->config->tpm.tcti ? ctx->config->tpm.tcti : OB_TPM_DEFAULT_TCTI;
        ObTpmOptions opts = {
                .tcti = tcti,
                .srk_handle = ctx->config->tpm.srk_handle,
                .owner_auth_file = ctx->config->tpm.owner_auth_file,
        };

        if (ctx->tpm_lazy.tried)
                return ctx->tpm_lazy.r;
        ctx->tpm_lazy.tried = true;
        /* "device:/dev/tpmrm0": say "no access" rather than "no TPM" when that is the reason */
        if (strncmp(tcti, "device:", 7) == 0 && access(tcti + 7, F_OK) == 0 &&
            access(tcti + 7, R_OK | W_OK) < 0 && ob_check_access_error(-errno)) {
                ctx->tpm_no_access = true;
                snprintf(ctx->tpm_err, sizeof(ctx->tpm_err), "%s is not accessible to this user",
                         tcti + 7);
                return (ctx->tpm_lazy.r = -EACCES);
        }
        ctx->tpm_lazy.r = ob_tpm_open(&opts, &ctx->tpm, ctx->tpm_err, sizeof(ctx->tpm_err));
        /* a resource manager behind D-Bus (tabrmd) refuses other users without saying why:
         * without root, "no TPM" may well be "no access" */
        if (ob_check_access_error(ctx->tpm_lazy.r) ||
            (ctx->tpm_lazy.r == -ENODEV && geteuid() != 0))
                ctx->tpm_no_access = true;
        return ctx->tpm_lazy.r;
}

bool ob_check_have_tpm(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (!ob_check_tpm_backend(ctx, o))
                return false;
        if (ob_check_need_tpm(ctx) >= 0)
                return true;
        ob_check_say(o, OB_HEALTH_SKIP, "the TPM is not reachable (see check tpm)");
        return false;
}

#endif

bool ob_check_tpm_key(const ObCheckContext *ctx)
{
        return ctx->config->key.backend == OB_KEY_BACKEND_TPM;
}

bool ob_check_factory_method(const ObCheckContext *ctx)
{
        return ob_onboard_method_uses_factory_cert(ctx->config);
}

/*
 * Where the device key and certificate are: credentials/current (onboarded) or the pending
 * slot; a vendor's key at a persistent handle; for static/jitp/jitr before the first
 * connect, the factory files (configured, or <state_dir>/factory/) when they exist.
 * 0, or -ENOENT: none yet.
 */
int ob_check_locate_device_files(ObCheckContext *ctx)
{
        const ObConfig *c = ctx->config;
        const char *dir = c->paths.state_dir;
        int r;

        r = ob_check_need_state(ctx);
        if (r < 0 && r != -ENOENT)
                return r;
        if (ctx->onboarded) {
                snprintf(ctx->key_path, sizeof(ctx->key_path), "%s/%s/%s/device.key", dir,
                         OB_CREDS_DIR, OB_CREDS_CURRENT);
                snprintf(ctx->cert_path, sizeof(ctx->cert_path), "%s/%s/%s/device.crt", dir,
                         OB_CREDS_DIR, OB_CREDS_CURRENT);
        } else if (ctx->gen > 0) {
                snprintf(ctx->key_path, sizeof(ctx->key_path), "%s/%s/%llu/device.key", dir,
                         OB_CREDS_DIR, (unsigned long long)ctx->gen);
                snprintf(ctx->cert_path, sizeof(ctx->cert_path), "%s/%s/%llu/device.crt", dir,
                         OB_CREDS_DIR, (unsigned long long)ctx->gen);
        } else if (ob_check_factory_method(ctx)) {
                _cleanup_(ob_factory_paths_done) ObFactoryPaths fp = {0};

                if (ob_factory_paths(c, &fp) < 0)
                        return -ENOMEM;
                if (access(fp.cert, F_OK) == 0)
                        snprintf(ctx->cert_path, sizeof(ctx->cert_path), "%s", fp.cert);
                if (fp.key_handle || access(fp.key, F_OK) == 0)
                        snprintf(ctx->key_path, sizeof(ctx->key_path), "%s", fp.key);
        }
        if (ctx->key_path[0] && !ob_key_path_is_handle(ctx->key_path)) {
                /* a slot made from the vendor's key has no key file: the handle (as the agent) */
                _cleanup_free_ char *k = ob_factory_slot_key(c, ctx->key_path, NULL);
                if (!k)
                        return -ENOMEM;
                snprintf(ctx->key_path, sizeof(ctx->key_path), "%s", k);
        }
        return ctx->key_path[0] ? 0 : -ENOENT;
}

int ob_check_need_device_key(ObCheckContext *ctx)
{
        int r;

        if (ctx->key_lazy.tried)
                return ctx->key_lazy.r;
        ctx->key_lazy.tried = true;
        r = ob_check_locate_device_files(ctx);
        if (r < 0)
                return (ctx->key_lazy.r = r);
        if (ob_check_tpm_key(ctx)) {
#ifdef HAVE_TPM
                r = ob_check_need_tpm(ctx);
                if (r < 0)
                        return (ctx->key_lazy.r = -ENODEV);
                r = ob_tpm_load_key(ctx->tpm, ctx->key_path, &ctx->device_pub);
                if (r < 0)
                        snprintf(ctx->key_err, sizeof(ctx->key_err), "%s",
                                 ob_tpm_last_error(ctx->tpm));
#else
                r = -EOPNOTSUPP;
#endif
        } else {
                r = ob_check_read_key_pub(ctx->key_path, &ctx->device_pub);
        }
        if (r < 0 && !ctx->key_err[0])
                snprintf(ctx->key_err, sizeof(ctx->key_err), "%s: %s", ctx->key_path,
                         r == -EBADMSG ? "not a private key" : strerror(-r));
        return (ctx->key_lazy.r = r);
}

int ob_check_need_dns(ObCheckContext *ctx)
{
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        int r;

        if (ctx->dns_lazy.tried)
                return ctx->dns_lazy.r;
        ctx->dns_lazy.tried = true;
        snprintf(ctx->port, sizeof(ctx->port), "%u", ctx->config->endpoint.port);
        r = getaddrinfo(ctx->config->endpoint.host, ctx->port, &hints, &ctx->addrs);
        return (ctx->dns_lazy.r = r == 0 ? 0 : r);
}

int ob_check_timeout_ms(const ObCheckContext *ctx)
{
        return (int)OB_MIN(ctx->config->endpoint.connect_timeout_ms, (uint64_t)MAX_NET_TIMEOUT_MS);
}

/* Connect to one address within the timeout: a connected blocking socket, or negative errno. */
static int connect_one(const struct addrinfo *a, int tmo_ms)
{
        _cleanup_close_ int fd = -1;
        struct pollfd p;
        int err = 0, r;
        socklen_t l = sizeof(err);

        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0)
                return -errno;
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
                if (errno != EINPROGRESS)
                        return -errno;
                p = (struct pollfd){.fd = fd, .events = POLLOUT};
                do
                        r = poll(&p, 1, tmo_ms);
                while (r < 0 && errno == EINTR);
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        return -errno;
                if (err != 0)
                        return -err;
        }
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* Connect to the first address that answers; ret_addr names it. */
int ob_check_connect_endpoint(ObCheckContext *ctx, char *ret_addr, size_t n)
{
        int r = -EHOSTUNREACH;

        for (const struct addrinfo *a = ctx->addrs; a; a = a->ai_next) {
                char ip[INET6_ADDRSTRLEN];
                if (getnameinfo(a->ai_addr, a->ai_addrlen, ip, sizeof(ip), NULL, 0,
                                NI_NUMERICHOST) != 0)
                        snprintf(ip, sizeof(ip), "?");
                snprintf(ret_addr, n, "%s%s%s:%s", strchr(ip, ':') ? "[" : "", ip,
                         strchr(ip, ':') ? "]" : "", ctx->port);
                r = connect_one(a, ob_check_timeout_ms(ctx));
                if (r >= 0)
                        return r;
        }
        return r;
}

bool ob_check_have_addresses(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (ob_check_no_config(ctx, o))
                return false;
        if (ob_check_need_dns(ctx) == 0)
                return true;
        ob_check_say(o, OB_HEALTH_SKIP, "%s does not resolve (see check dns)",
                     ctx->config->endpoint.host);
        return false;
}

int ob_check_need_tcp(ObCheckContext *ctx)
{
        char addr[OB_CHECK_ADDR_MAX];
        struct timespec t0, t1;
        int fd;

        if (ctx->tcp_lazy.tried)
                return ctx->tcp_lazy.r;
        ctx->tcp_lazy.tried = true;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        fd = ob_check_connect_endpoint(ctx, addr, sizeof(addr));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (fd < 0) {
                snprintf(ctx->tcp_detail, sizeof(ctx->tcp_detail), "%s: %s", addr,
                         fd == -ETIMEDOUT ? "no answer within the connect timeout" : strerror(-fd));
                return (ctx->tcp_lazy.r = fd);
        }
        close(fd);
        snprintf(ctx->tcp_detail, sizeof(ctx->tcp_detail), "connected to %s in %lld ms", addr,
                 (long long)(t1.tv_sec - t0.tv_sec) * 1000 +
                         (long long)(t1.tv_nsec - t0.tv_nsec) / 1000000);
        return (ctx->tcp_lazy.r = 0);
}

typedef struct VerifyNote {
        int error; /* the first verification error */
        char subject[200];
} VerifyNote;

static int verify_note_index = -1;

static void name_text(X509_NAME *n, char *buf, size_t size)
{
        BIO *b = BIO_new(BIO_s_mem());
        int k;

        buf[0] = 0;
        if (!b)
                return;
        if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
                k = BIO_read(b, buf, (int)size - 1);
                buf[k > 0 ? k : 0] = 0;
        }
        BIO_free(b);
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
        SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
        VerifyNote *n = ssl ? SSL_get_ex_data(ssl, verify_note_index) : NULL;

        if (!ok && n && n->error == 0) {
                X509 *c = X509_STORE_CTX_get_current_cert(x);
                n->error = X509_STORE_CTX_get_error(x);
                if (c)
                        name_text(X509_get_subject_name(c), n->subject, sizeof(n->subject));
        }
        return ok;
}

void ob_check_chain_text(SSL *ssl, char *buf, size_t size)
{
        STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
        size_t used = 0;

        buf[0] = 0;
        for (int i = 0; chain && i < sk_X509_num(chain) && used + 1 < size; i++) {
                char s[200];
                name_text(X509_get_subject_name(sk_X509_value(chain, i)), s, sizeof(s));
                used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " <- " : "", s);
        }
}

const char *ob_check_ssl_error_text(char *buf, size_t n)
{
        unsigned long e = ERR_peek_last_error();

        if (e)
                ERR_error_string_n(e, buf, n);
        else
                snprintf(buf, n, "%s", errno ? strerror(errno) : "connection closed");
        ERR_clear_error();
        return buf;
}

void ob_check_client_credentials(ObCheckContext *ctx, const char **ret_cert, const char **ret_key,
                                 bool *ret_tpm, char *what, size_t n)
{
        const ObConfig *c = ctx->config;

        *ret_cert = *ret_key = NULL;
        *ret_tpm = false;
        if (ob_check_need_device_key(ctx) >= 0 && ctx->onboarded && ctx->cert_path[0]) {
                *ret_cert = ctx->cert_path;
                *ret_key = ctx->key_path;
                *ret_tpm = ob_check_tpm_key(ctx);
                snprintf(what, n, "device (%s key)", *ret_tpm ? "TPM" : "software");
                return;
        }
        if (ctx->onboarded) {
                snprintf(what, n, "none (device key not usable: see check device-key)");
                return;
        }
        /* static, jitp, jitr: the factory certificate; for JITP/JITR it is what registers the
         * device at its first connect (issue 17: a check presenting none saw nothing) */
        if (ob_check_factory_method(ctx) && ob_check_need_device_key(ctx) >= 0 &&
            ctx->cert_path[0]) {
                bool jit = c->provisioning.method != OB_METHOD_STATIC;
                *ret_cert = ctx->cert_path;
                *ret_key = ctx->key_path;
                *ret_tpm = ob_check_tpm_key(ctx);
                snprintf(what, n, "factory certificate (%s key)%s", *ret_tpm ? "TPM" : "software",
                         jit ? "; AWS registers it at the first MQTT connect" : "");
                return;
        }
        if (c->provisioning.method == OB_METHOD_FLEET_CLAIM && c->provisioning.claim_cert &&
            c->provisioning.claim_key && access(c->provisioning.claim_cert, R_OK) == 0 &&
            access(c->provisioning.claim_key, R_OK) == 0) {
                *ret_cert = c->provisioning.claim_cert;
                *ret_key = c->provisioning.claim_key;
                snprintf(what, n, "claim");
                return;
        }
        snprintf(what, n, "none");
}

/* The provider OpenSSL must prefer for the key (docs: DESIGN "provider choice per
 * connection"). */
static OSSL_PROVIDER *tpm2; /* loaded once, for the life of agentctl */

int ob_check_select_provider(ObCheckContext *ctx, bool tpm)
{
        if (tpm && !tpm2) {
                if (ctx->config->tpm.tcti)
                        (void)setenv("TPM2OPENSSL_TCTI", ctx->config->tpm.tcti, 1);
                tpm2 = OSSL_PROVIDER_load(NULL, "tpm2");
                if (!tpm2) {
                        ERR_clear_error();
                        return -ENOPKG;
                }
        }
        return EVP_set_default_properties(NULL, ob_tls_default_properties(tpm)) ? 0 : -EINVAL;
}

OSSL_PROVIDER *ob_check_tpm2_provider(void)
{
        return tpm2;
}

int ob_check_tls_open(ObCheckContext *ctx, ObCheckOutcome *o, ObCheckTls *t)
{
        const ObConfig *c;
        const char *key = NULL;
        VerifyNote note = {0};
        char err[256];
        struct timeval tv;
        int r, tmo;

        *t = (ObCheckTls){.fd = -1};
        if (!ob_check_have_addresses(ctx, o))
                return -ENOENT;
        if (ob_check_need_tcp(ctx) < 0) {
                ob_check_say(o, OB_HEALTH_SKIP, "no TCP connection (see check tcp)");
                return -ENOENT;
        }
        c = ctx->config;
        ob_check_client_credentials(ctx, &t->cert, &key, &t->tpm, t->who, sizeof(t->who));
        if (ob_check_select_provider(ctx, t->tpm) < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "the OpenSSL tpm2 provider cannot be loaded");
                ob_check_hint(o, "install tpm2-openssl (the agent needs it for TLS with the TPM "
                                 "key)");
                return -ENOPKG;
        }
        t->sctx = SSL_CTX_new(TLS_client_method());
        if (!t->sctx) {
                ob_check_say(o, OB_HEALTH_FAIL, "OpenSSL: %s",
                             ob_check_ssl_error_text(err, sizeof(err)));
                return -ENOMEM;
        }
        (void)SSL_CTX_set_min_proto_version(t->sctx, TLS1_2_VERSION);
        if (!c->endpoint.root_ca || SSL_CTX_load_verify_file(t->sctx, c->endpoint.root_ca) != 1) {
                ob_check_say(o, OB_HEALTH_FAIL, "endpoint.root_ca %s cannot be read: %s",
                             c->endpoint.root_ca ? c->endpoint.root_ca : "(unset)",
                             ob_check_ssl_error_text(err, sizeof(err)));
                ob_check_hint(o, "install the Amazon root CA file named by endpoint.root_ca");
                return -EINVAL;
        }
        if (t->cert &&
            (SSL_CTX_use_certificate_chain_file(t->sctx, t->cert) != 1 ||
             (ob_key_path_is_handle(key)
                      ? ob_handle_key_use(t->sctx, key)
                      : SSL_CTX_use_PrivateKey_file(t->sctx, key, SSL_FILETYPE_PEM)) != 1)) {
                ob_check_say(o, OB_HEALTH_FAIL, "cannot use the %s certificate %s with its key: %s",
                             t->who, t->cert, ob_check_ssl_error_text(err, sizeof(err)));
                ob_check_hint(o, "see checks device-key and key-cert-match");
                return -EINVAL;
        }
        SSL_CTX_set_verify(t->sctx, SSL_VERIFY_PEER, verify_cb);
        t->ssl = SSL_new(t->sctx);
        if (!t->ssl || SSL_set_tlsext_host_name(t->ssl, c->endpoint.host) != 1 ||
            SSL_set1_host(t->ssl, c->endpoint.host) != 1 ||
            (c->endpoint.alpn &&
             SSL_set_alpn_protos(t->ssl, (const unsigned char *)OB_CHECK_ALPN_AWS,
                                 sizeof(OB_CHECK_ALPN_AWS) - 1))) {
                ob_check_say(o, OB_HEALTH_FAIL, "OpenSSL: %s",
                             ob_check_ssl_error_text(err, sizeof(err)));
                return -ENOMEM;
        }
        if (verify_note_index < 0)
                verify_note_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        SSL_set_ex_data(t->ssl, verify_note_index, &note);

        t->fd = ob_check_connect_endpoint(ctx, t->addr, sizeof(t->addr));
        if (t->fd < 0) {
                r = t->fd;
                ob_check_say(o, OB_HEALTH_FAIL, "%s: %s", t->addr, strerror(-r));
                ob_check_hint(o, "see check tcp");
                return r;
        }
        tmo = ob_check_timeout_ms(ctx);
        tv = (struct timeval){.tv_sec = tmo / 1000, .tv_usec = (tmo % 1000) * 1000};
        (void)setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        SSL_set_fd(t->ssl, t->fd);
        errno = 0;
        r = SSL_connect(t->ssl);
        SSL_set_ex_data(t->ssl, verify_note_index, NULL);
        if (r == 1)
                return 0;
        if (note.error != 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "server certificate %s: %s", note.subject,
                             X509_verify_cert_error_string(note.error));
                if (note.error == X509_V_ERR_HOSTNAME_MISMATCH)
                        ob_check_hint(o,
                                      "the server is not %s: check endpoint.host and any proxy "
                                      "in the way",
                                      c->endpoint.host);
                else
                        ob_check_hint(o, "check endpoint.root_ca (Amazon Root CA 1 for ATS "
                                         "endpoints), the clock, and any TLS-inspecting proxy");
        } else {
                const ObTlsAlert *a;

                ob_check_say(o, OB_HEALTH_FAIL, "TLS handshake with %s failed: %s", t->addr,
                             ob_check_ssl_error_text(err, sizeof(err)));
                /* the same table as the daemon's (lib/conn-outcome.c) */
                if ((a = ob_conn_tls_alert(err)))
                        ob_check_hint(o,
                                      "the server's alert \"%s\": %s; client certificate "
                                      "presented: %s",
                                      a->name, a->means, t->who);
                else
                        ob_check_hint(o,
                                      "client certificate presented: %s; the server may refuse "
                                      "it, or not speak TLS on port %u",
                                      t->who, c->endpoint.port);
        }
        return -ECONNREFUSED;
}

void ob_check_tls_close(ObCheckTls *t)
{
        SSL_free(t->ssl);
        SSL_CTX_free(t->sctx);
        if (t->fd >= 0)
                close(t->fd);
        *t = (ObCheckTls){.fd = -1};
}

#define DAEMON_CALL_TIMEOUT_MS 3000

const char *ob_check_runtime_dir(ObCheckContext *ctx)
{
        if (ob_check_need_config(ctx) >= 0)
                return ctx->config->paths.runtime_dir;
        /* an invalid file on disk: where it would put the socket, as agentctl status does */
        if (!ctx->lenient) {
                ObConfigDiags d = {0};
                (void)ob_config_load_lenient(ctx->config_path, &ctx->lenient, &d);
                ob_config_diags_clear(&d);
        }
        return ctx->lenient && ctx->lenient->paths.runtime_dir ? ctx->lenient->paths.runtime_dir
                                                               : "/run/onboard-agent";
}

int ob_check_need_daemon(ObCheckContext *ctx)
{
        _cleanup_free_ char *sock = NULL;
        _cleanup_(json_object_putp) json_object *ping = NULL;
        json_object *v;
        int r;

        if (ctx->daemon_lazy.tried)
                return ctx->daemon_lazy.r;
        ctx->daemon_lazy.tried = true;
        if (asprintf(&sock, "%s/control.sock", ob_check_runtime_dir(ctx)) < 0)
                return (ctx->daemon_lazy.r = -ENOMEM);
        r = ob_control_call(sock, "ping", NULL, DAEMON_CALL_TIMEOUT_MS, &ping, NULL, NULL);
        if (r >= 0 && json_object_object_get_ex(ping, "version", &v) &&
            json_object_is_type(v, json_type_string) &&
            !(ctx->daemon_version = strdup(json_object_get_string(v))))
                r = -ENOMEM;
        if (r >= 0)
                r = ob_control_call(sock, "status", NULL, DAEMON_CALL_TIMEOUT_MS,
                                    &ctx->daemon_status, NULL, NULL);
        return (ctx->daemon_lazy.r = r);
}

int ob_check_context_new(const char *config_path, int64_t now_s, ObCheckContext **ret)
{
        ObCheckContext *ctx = calloc(1, sizeof(*ctx));

        if (!ctx)
                return -ENOMEM;
        ctx->config_path = strdup(config_path);
        if (!ctx->config_path) {
                free(ctx);
                return -ENOMEM;
        }
        ctx->now_s = now_s;
        /* Randomness always from the default provider, set before anything draws random bytes
         * (agent/transport-paho.c explains why); then the default provider itself. */
        (void)RAND_set_DRBG_type(NULL, "CTR-DRBG", "provider=default", "AES-256-CTR", NULL);
        (void)RAND_set_seed_source_type(NULL, "SEED-SRC", "provider=default");
        /* loaded once for the process; the static keeps it reachable (not a leak) */
        static OSSL_PROVIDER *deflt;
        if (!deflt)
                deflt = OSSL_PROVIDER_load(NULL, "default");
        *ret = ctx;
        return 0;
}

ObCheckContext *ob_check_context_free(ObCheckContext *ctx)
{
        if (!ctx)
                return NULL;
        json_object_put(ctx->state);
        json_object_put(ctx->daemon_status);
        free(ctx->daemon_version);
        EVP_PKEY_free(ctx->device_pub);
#ifdef HAVE_TPM
        ob_tpm_close(ctx->tpm);
#endif
        if (ctx->addrs)
                freeaddrinfo(ctx->addrs);
        ob_config_free(ctx->config);
        ob_config_free(ctx->lenient);
        free(ctx->config_path);
        free(ctx);
        return NULL;
}
