/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test driver for the TPM key provider (tpm/tpm-key.h), one operation per process so tests
 * prove keys survive process restarts:
 *   ob-keytool [--tcti TCTI] [--srk HANDLE] srk          ensure the SRK; prints created|present
 *   ob-keytool [--tcti TCTI] [--srk HANDLE] create PATH  new key; prints its public key (PEM)
 *   ob-keytool [--tcti TCTI] [--srk HANDLE] pubkey PATH  load the key; prints its public key
 *   ob-keytool [--tcti TCTI] [--srk HANDLE] csr PATH SUBJECT  CSR signed in the TPM (PEM)
 *   ob-keytool [--tcti TCTI] token                       the hardware-bound token
 *   --owner-auth VALUE: the owner hierarchy's authorization value (for creating the SRK)
 * On failure: "ob-keytool: error ERRNONAME: text" on stderr, exit 1.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "csr.h"
#include "key-provider.h"
#include "tpm-key.h"

struct signer {
        ObKeyProvider *kp;
        const char *path;
};

static int provider_sign(void *userdata, const uint8_t *digest, size_t digest_len,
                         uint8_t **ret_sig, size_t *ret_sig_len)
{
        struct signer *s = userdata;
        return s->kp->ops->sign_digest(s->kp, s->path, digest, digest_len, ret_sig, ret_sig_len);
}

static int fail(int r, const char *text)
{
        fprintf(stderr, "ob-keytool: error %s: %s\n", strerrorname_np(-r), text);
        return 1;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"tcti", required_argument, NULL, 't'},
                {"srk", required_argument, NULL, 's'},
                {"owner-auth", required_argument, NULL, 'o'},
                {"owner-auth-file", required_argument, NULL, 'f'},
                {},
        };
        ObTpmOptions o = {.tcti = getenv("OB_TCTI")};
        char err[256] = "";
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 't':
                        o.tcti = optarg;
                        break;
                case 's':
                        o.srk_handle = (uint32_t)strtoul(optarg, NULL, 0);
                        break;
                case 'o':
                        o.owner_auth = optarg;
                        break;
                case 'f':
                        o.owner_auth_file = optarg;
                        break;
                default:
                        return 64;
                }
        }
        if (optind >= argc)
                return 64;
        const char *cmd = argv[optind], *path = argv[optind + 1];
        if (strcmp(cmd, "srk") != 0 && strcmp(cmd, "token") != 0 && !path)
                return 64;

        ObTpm *t = NULL;
        r = ob_tpm_open(&o, &t, err, sizeof(err));
        if (r < 0)
                return fail(r, err[0] ? err : strerror(-r));
        /* key operations go through the key-provider interface, as the agent's do; it owns t */
        _cleanup_(ob_key_provider_freep) ObKeyProvider *kp = NULL;
        if (ob_key_provider_tpm_new(t, &kp) < 0) {
                ob_tpm_close(t);
                return 1;
        }

        EVP_PKEY *pub = NULL;
        if (strcmp(cmd, "token") == 0) {
                char token[65];
                r = ob_tpm_hardware_token(t, token);
                if (r < 0)
                        return fail(r, ob_tpm_last_error(t));
                puts(token);
                return 0;
        }
        if (strcmp(cmd, "srk") == 0) {
                bool created;
                r = ob_tpm_ensure_srk(t, &created);
                if (r < 0)
                        return fail(r, ob_tpm_last_error(t));
                puts(created ? "created" : "present");
                return 0;
        } else if (strcmp(cmd, "create") == 0)
                r = kp->ops->create(kp, path, &pub);
        else if (strcmp(cmd, "pubkey") == 0)
                r = kp->ops->load(kp, path, &pub);
        else if (strcmp(cmd, "csr") == 0) {
                const char *subject = argv[optind + 2];
                struct signer sg = {kp, path};
                char *pem = NULL;
                if (!subject)
                        return 64;
                r = kp->ops->load(kp, path, &pub);
                if (r == 0)
                        r = ob_csr_build(subject, pub, provider_sign, &sg, &pem);
                EVP_PKEY_free(pub);
                if (r < 0)
                        return fail(r,
                                    ob_tpm_last_error(t)[0] ? ob_tpm_last_error(t) : strerror(-r));
                fputs(pem, stdout);
                free(pem);
                return 0;
        } else
                return 64;
        if (r < 0)
                return fail(r, ob_tpm_last_error(t));
        PEM_write_PUBKEY(stdout, pub);
        EVP_PKEY_free(pub);
        return 0;
}
