/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test driver for the TPM key provider (tpm/tpm-key.h), one operation per process so tests
 * prove keys survive process restarts:
 *   ob-keytool [--tcti TCTI] [--srk HANDLE] srk          ensure the SRK; prints created|present
 *   ob-keytool [--tcti TCTI] [--srk HANDLE] [--type T] create PATH  new key; prints its public
 *                                                        key (PEM); T ec-p256 (default), ec-p384,
 *                                                        rsa-2048
 *   ob-keytool [--tcti TCTI] [--srk HANDLE] pubkey PATH  load the key; prints its public key
 *   (PATH "handle:0x81000002": a persistent key, e.g. a vendor's)
 *   ob-keytool [--tcti TCTI] [--srk HANDLE] csr PATH SUBJECT  CSR signed in the TPM (PEM)
 *   ob-keytool [--tcti TCTI] token                       the hardware-bound token
 *   ob-keytool [--tcti TCTI] info                        the TPM's manufacturer and firmware
 *                                                        (ob_tpm_get_info()), "MANUFACTURER
 *                                                        FIRMWARE"
 *   ob-keytool [--tcti TCTI] [--srk HANDLE] srk-open     ensure, then check the SRK; prints how
 *                                                        many ESYS objects for the SRK's handle
 *                                                        are still open in our context after
 *                                                        each, "ensure N check M" (0: each use
 *                                                        gave the SRK back)
 *   ob-keytool [--tcti TCTI] [--soft] ...                 the same through the software backend
 *   --owner-auth VALUE: the owner hierarchy's authorization value (for creating the SRK)
 *   --time: print the duration of the key operation (without process start) on stderr
 * On failure: "ob-keytool: error ERRNONAME: text" on stderr, exit 1.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "config-file.h"
#include "csr.h"
#include "key-provider.h"
#include "tpm-key.h"
#include "tpm-private.h" /* srk-open looks into the ESYS context */

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

/* How many ESYS objects of t's context, among the handles ESYS gave out since first, stand for
 * tpm_handle. ESYS numbers its objects from a counter that every Esys_TR_FromTPMPublic() moves
 * by one or two (tpm2-tss 3.2 .. 4.1), so the handles of a few calls are within a short window. */
static int open_objects(ObTpm *t, ESYS_TR first, TPM2_HANDLE tpm_handle)
{
        int n = 0;

        for (ESYS_TR tr = first; tr < first + 64; tr++) {
                TPM2_HANDLE h;
                if (Esys_TR_GetTpmHandle(t->esys, tr, &h) == TSS2_RC_SUCCESS && h == tpm_handle)
                        n++;
        }
        return n;
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
                {"type", required_argument, NULL, 'k'},
                {"soft", no_argument, NULL, 'S'},
                {"time", no_argument, NULL, 'T'},
                {},
        };
        static const char *const types[_OB_KEY_TYPE_MAX] = {
                [OB_KEY_TYPE_EC_P256] = "ec-p256",
                [OB_KEY_TYPE_EC_P384] = "ec-p384",
                [OB_KEY_TYPE_RSA_2048] = "rsa-2048",
        };
        ObTpmOptions o = {.tcti = getenv("OB_TCTI")};
        char err[256] = "";
        int c, r, key_type = OB_KEY_TYPE_EC_P256;
        bool soft = false, timing = false;

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
                case 'k':
                        for (key_type = 0; key_type < _OB_KEY_TYPE_MAX; key_type++)
                                if (strcmp(optarg, types[key_type]) == 0)
                                        break;
                        if (key_type == _OB_KEY_TYPE_MAX)
                                return 64;
                        break;
                case 'S':
                        soft = true;
                        break;
                case 'T':
                        timing = true;
                        break;
                default:
                        return 64;
                }
        }
        if (optind >= argc)
                return 64;
        const char *cmd = argv[optind], *path = argv[optind + 1];
        if (strcmp(cmd, "srk") != 0 && strcmp(cmd, "token") != 0 && strcmp(cmd, "srk-open") != 0 &&
            strcmp(cmd, "info") != 0 && !path)
                return 64;

        ObTpm *t = NULL;
        _cleanup_(ob_key_provider_freep) ObKeyProvider *kp = NULL;
        if (soft) {
                if (ob_key_provider_software_new(&kp) < 0)
                        return 1;
        } else {
                r = ob_tpm_open(&o, &t, err, sizeof(err));
                if (r < 0)
                        return fail(r, err[0] ? err : strerror(-r));
                /* key operations go through the key-provider interface, as the agent's do; it
                 * owns t */
                if (ob_key_provider_tpm_new(t, &kp) < 0) {
                        ob_tpm_close(t);
                        return 1;
                }
        }

        EVP_PKEY *pub = NULL;
        if (strcmp(cmd, "srk-open") == 0) {
                ESYS_TR probe, first;
                TSS2_RC rc;

                if (!t)
                        return 64;
                /* where ESYS's numbering stands now (an object for the SRK, closed at once) */
                rc = Esys_TR_FromTPMPublic(t->esys, t->srk_handle, ESYS_TR_NONE, ESYS_TR_NONE,
                                           ESYS_TR_NONE, &probe);
                if (rc != TSS2_RC_SUCCESS)
                        return fail(-ENOENT, "no SRK at its handle (run 'srk' first)");
                first = probe + 1;
                Esys_TR_Close(t->esys, &probe); /* probe is ESYS_TR_NONE now */
                /* one count after each: a later use of the same handle reuses (tpm2-tss
                 * 3.2) and closes an object left open before it */
                r = ob_tpm_ensure_srk(t, NULL);
                if (r < 0)
                        return fail(r, ob_tpm_last_error(t));
                printf("ensure %d", open_objects(t, first, t->srk_handle));
                r = ob_tpm_check_srk(t);
                if (r < 0)
                        return fail(r, ob_tpm_last_error(t));
                printf(" check %d\n", open_objects(t, first, t->srk_handle));
                return 0;
        }
        if (strcmp(cmd, "info") == 0) {
                ObTpmInfo info;
                if (!t)
                        return 64;
                r = ob_tpm_get_info(t, &info);
                if (r < 0)
                        return fail(r, ob_tpm_last_error(t));
                printf("%s %s\n", info.manufacturer, info.firmware);
                return 0;
        }
        if (strcmp(cmd, "token") == 0 || strcmp(cmd, "srk") == 0) {
                if (!t)
                        return 64;
                if (strcmp(cmd, "token") == 0) {
                        char token[65];
                        r = ob_tpm_hardware_token(t, token);
                        if (r < 0)
                                return fail(r, ob_tpm_last_error(t));
                        puts(token);
                        return 0;
                }
                bool created;
                r = ob_tpm_ensure_srk(t, &created);
                if (r < 0)
                        return fail(r, ob_tpm_last_error(t));
                puts(created ? "created" : "present");
                return 0;
        }
        struct timespec t0, t1;
        char *pem = NULL;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (strcmp(cmd, "create") == 0)
                r = kp->ops->create(kp, path, key_type, &pub);
        else if (strcmp(cmd, "pubkey") == 0)
                r = kp->ops->load(kp, path, &pub);
        else if (strcmp(cmd, "csr") == 0) {
                const char *subject = argv[optind + 2];
                struct signer sg = {kp, path};
                if (!subject)
                        return 64;
                r = kp->ops->load(kp, path, &pub);
                if (r == 0)
                        r = ob_csr_build(subject, pub, provider_sign, &sg, &pem);
        } else
                return 64;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (timing)
                fprintf(stderr, "%s: %.1f ms\n", cmd,
                        (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                                (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        if (r < 0) {
                EVP_PKEY_free(pub);
                const char *e = kp->ops->last_error(kp);
                return fail(r, e[0] ? e : strerror(-r));
        }
        if (pem) {
                fputs(pem, stdout);
                free(pem);
        } else
                PEM_write_PUBKEY(stdout, pub);
        EVP_PKEY_free(pub);
        return 0;
}
