/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TPM context (tpm/tpm-private.h): opening a TCTI and ESAPI, the one place TSS2 return codes
 * become negative errno; and the device keys: create under the SRK, load (a TSS2 PEM blob or a
 * vendor's persistent handle), read the public half, sign a digest. The SRK, the
 * dictionary-attack state and the hardware token are tpm/tpm-srk.c's; the ObKeyProvider on top
 * is tpm/tpm-provider.c's.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "config-file.h"
#include "fsops.h"
#include "key-provider.h"
#include "tpm-key.h"
#include "tpm-private.h"
#include "tss2-pem.h"

#define MAX_RETRIES 8
void ob_tpm_set_error(ObTpm *t, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->error, sizeof(t->error), fmt, ap);
        va_end(ap);
}

const char *ob_tpm_last_error(const ObTpm *t)
{
        return t ? t->error : "no TPM context";
}

/* The TPM's own response code with parameter/handle/session numbers masked off. */
uint32_t ob_tpm_rc_code(TSS2_RC rc)
{
        uint32_t base = rc & 0xffff;
        if (base & TPM2_RC_FMT1)
                return TPM2_RC_FMT1 | (base & 0x3f);
        return base & 0x97f;
}

bool ob_tpm_rc_retryable(TSS2_RC rc)
{
        uint32_t c = ob_tpm_rc_code(rc);
        return c == TPM2_RC_RETRY || c == TPM2_RC_YIELDED || c == TPM2_RC_TESTING;
}

/* Convert a TSS2_RC to a negative errno (the one place this happens) and record the text. */
int ob_tpm_error(ObTpm *t, TSS2_RC rc, const char *what)
{
        uint32_t c = ob_tpm_rc_code(rc);
        int r;
        const char *hint = "";

        /* Once the transport failed, ESAPI answers every later call with BAD_SEQUENCE: the
         * context is unusable and only a new connection (a new process, see agent/daemon.c)
         * helps. */
        if (t->lost || (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER) {
                t->lost = true;
                ob_tpm_set_error(
                        t, "%s: %s (the connection to the TPM or its resource manager is lost)",
                        what, Tss2_RC_Decode(rc));
                return -ENODEV;
        }
        switch (c) {
        case TPM2_RC_LOCKOUT:
                r = -ENOLCK;
                hint = " (dictionary-attack lockout: wait for the lockout to expire or clear it "
                       "with the lockout authorization)";
                break;
        case TPM2_RC_OBJECT_MEMORY:
        case TPM2_RC_SESSION_MEMORY:
        case TPM2_RC_MEMORY:
                /* swtpm and real TPMs hold only a few objects; without a resource manager they
                 * fill up with other processes' leftovers */
                ob_tpm_set_error(
                        t,
                        "%s: TPM out of %s: is a resource manager (tpmrm0/tpm2-abrmd) in front "
                        "of the TPM? (%s)",
                        what,
                        c == TPM2_RC_OBJECT_MEMORY    ? "object memory"
                        : c == TPM2_RC_SESSION_MEMORY ? "session memory"
                                                      : "memory",
                        Tss2_RC_Decode(rc));
                return -ENOMEM;
        case TPM2_RC_INTEGRITY:
        case TPM2_RC_BINDING:
        case TPM2_RC_SIZE:
        case TPM2_RC_KEY:
        case TPM2_RC_VALUE:
                r = -EBADMSG;
                hint = " (corrupt key blob, or a key of another TPM or of a replaced SRK)";
                break;
        case TPM2_RC_HANDLE:
                r = -ENOENT;
                break;
        case TPM2_RC_AUTH_FAIL:
        case TPM2_RC_BAD_AUTH:
                r = -EACCES;
                hint = " (wrong authorization value)";
                break;
        case TPM2_RC_RETRY:
        case TPM2_RC_YIELDED:
        case TPM2_RC_TESTING:
                r = -EAGAIN;
                break;
        default:
                r = -EIO;
                break;
        }
        ob_tpm_set_error(t, "%s: %s%s", what, Tss2_RC_Decode(rc), hint);
        return r;
}

int ob_tpm_open_config(const ObConfig *c, ObTpmOpenFunc open_func, bool create_srk, ObTpm **ret,
                       bool *ret_created, char *err, size_t err_size)
{
        ObTpmOptions o = {
                .tcti = c->tpm.tcti,
                .srk_handle = c->tpm.srk_handle,
                .owner_auth_file = c->tpm.owner_auth_file,
        };
        char why[256] = "";
        ObTpm *t = NULL;
        bool created = false;
        int r;

        r = (open_func ? open_func : ob_tpm_open)(&o, &t, why, sizeof(why));
        if (r < 0) {
                snprintf(err, err_size, "cannot open the TPM (%s): %s",
                         o.tcti ? o.tcti : OB_TPM_DEFAULT_TCTI, why[0] ? why : strerror(-r));
                return r;
        }
        if (create_srk) {
                r = ob_tpm_ensure_srk(t, &created);
                if (r < 0) {
                        snprintf(err, err_size, "storage root key at 0x%08x: %s",
                                 o.srk_handle ? o.srk_handle : OB_TPM_DEFAULT_SRK,
                                 ob_tpm_last_error(t));
                        ob_tpm_close(t);
                        return r;
                }
        }
        if (ret_created)
                *ret_created = created;
        *ret = t;
        return 0;
}

ObTpm *ob_tpm_close(ObTpm *t)
{
        if (!t)
                return NULL;
        if (t->esys && t->srk_transient != ESYS_TR_NONE)
                Esys_FlushContext(t->esys, t->srk_transient);
        if (t->esys)
                Esys_Finalize(&t->esys);
        if (t->tcti)
                Tss2_TctiLdr_Finalize(&t->tcti);
        ob_explicit_bzero(&t->owner_auth, sizeof(t->owner_auth));
        free(t);
        return NULL;
}

/* Read an authorization value from a file that only its owner can read. */
static int read_auth_file(const char *path, TPM2B_AUTH *ret, char *err, size_t err_size)
{
        struct stat st;
        char buf[sizeof(ret->buffer) + 2];
        int r = 0;

        FILE *f = fopen(path, "re");
        if (!f) {
                r = ob_negative_errno();
                snprintf(err, err_size, "owner auth file %s: %s", path, strerror(-r));
                return r;
        }
        if (fstat(fileno(f), &st) < 0 || (st.st_mode & 0077)) {
                snprintf(err, err_size,
                         "owner auth file %s is readable by group or others (mode %03o): "
                         "refusing it; chmod 600",
                         path, (unsigned)(st.st_mode & 0777));
                fclose(f);
                return -EPERM;
        }
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        if (n > 0 && buf[n - 1] == '\n')
                n--;
        if (n > sizeof(ret->buffer)) {
                snprintf(err, err_size, "owner auth file %s: longer than %zu bytes", path,
                         sizeof(ret->buffer));
                r = -EINVAL;
        } else {
                ret->size = (UINT16)n;
                memcpy(ret->buffer, buf, n);
        }
        ob_explicit_bzero(buf, sizeof(buf));
        return r;
}

int ob_tpm_open(const ObTpmOptions *o, ObTpm **ret, char *err, size_t err_size)
{
        _cleanup_(ob_tpm_closep) ObTpm *t = calloc(1, sizeof(*t));
        const char *tcti = o && o->tcti ? o->tcti : OB_TPM_DEFAULT_TCTI;
        TSS2_RC rc;

        if (!t)
                return -ENOMEM;
        t->srk_transient = ESYS_TR_NONE;
        t->srk_handle = o && o->srk_handle ? o->srk_handle : OB_TPM_DEFAULT_SRK;
        if (t->srk_handle < 0x81000000u || t->srk_handle > 0x817fffffu)
                return -EINVAL;
        if (o && o->owner_auth) {
                size_t n = strlen(o->owner_auth);
                if (n > sizeof(t->owner_auth.buffer))
                        return -EINVAL;
                t->owner_auth.size = (UINT16)n;
                memcpy(t->owner_auth.buffer, o->owner_auth, n);
        }
        /* tpm2-tss logs every TPM error to stderr by default, including the expected "handle
         * not found" of a first boot; errors reach our log through ob_tpm_last_error(). An
         * operator can still turn its logging on with TSS2_LOG. */
        setenv("TSS2_LOG", "all+none", 0);
        if (o && o->owner_auth_file) {
                int r = read_auth_file(o->owner_auth_file, &t->owner_auth, err, err_size);
                if (r < 0)
                        return r;
        }
        rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
        if (rc != TSS2_RC_SUCCESS) {
                ob_tpm_set_error(t, "no TPM reachable through TCTI \"%s\": %s", tcti,
                                 Tss2_RC_Decode(rc));
                goto nodev;
        }
        rc = Esys_Initialize(&t->esys, t->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                ob_tpm_set_error(t, "cannot talk to the TPM through \"%s\": %s", tcti,
                                 Tss2_RC_Decode(rc));
                goto nodev;
        }
        *ret = TAKE_PTR(t);
        return 0;
nodev:
        if (err && err_size > 0)
                snprintf(err, err_size, "%s", t->error);
        return -ENODEV;
}
/* Device keys: unrestricted signing keys with scheme NULL, so TLS (through tpm2-openssl) and our
 * CSR signing pick the scheme and hash per operation. noDA like the SRK: the auth value is empty,
 * so there is nothing to guess, and a dictionary-attack lockout that any TPM user can trigger
 * must not stop the identity (keys made before had no noDA; ob_tpm_key_da_protected). */
static int device_key_template(int key_type, TPM2B_PUBLIC *p)
{
        TPMI_ECC_CURVE curve = TPM2_ECC_NONE;

        memset(p, 0, sizeof(*p));
        p->publicArea.nameAlg = TPM2_ALG_SHA256;
        p->publicArea.objectAttributes =
                TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT;
        switch ((ObKeyType)key_type) {
        case OB_KEY_TYPE_EC_P256:
                curve = TPM2_ECC_NIST_P256;
                break;
        case OB_KEY_TYPE_EC_P384:
                curve = TPM2_ECC_NIST_P384;
                break;
        case OB_KEY_TYPE_RSA_2048: {
                TPMS_RSA_PARMS *r = &p->publicArea.parameters.rsaDetail;
                p->publicArea.type = TPM2_ALG_RSA;
                r->symmetric.algorithm = TPM2_ALG_NULL;
                r->scheme.scheme = TPM2_ALG_NULL;
                r->keyBits = 2048;
                r->exponent = 0; /* 65537 */
                return 0;
        }
        case _OB_KEY_TYPE_MAX:
                break;
        }
        if (curve == TPM2_ECC_NONE)
                return -EINVAL;
        TPMS_ECC_PARMS *e = &p->publicArea.parameters.eccDetail;
        p->publicArea.type = TPM2_ALG_ECC;
        e->symmetric.algorithm = TPM2_ALG_NULL;
        e->scheme.scheme = TPM2_ALG_NULL;
        e->curveID = curve;
        e->kdf.scheme = TPM2_ALG_NULL;
        return 0;
}

static int ec_public_to_evp(ObTpm *t, const TPMT_PUBLIC *p, EVP_PKEY **ret)
{
        uint8_t point[1 + 2 * 48];
        const TPMS_ECC_POINT *q = &p->unique.ecc;
        const char *group;
        size_t n;

        switch (p->parameters.eccDetail.curveID) {
        case TPM2_ECC_NIST_P256:
                group = "prime256v1";
                n = 32;
                break;
        case TPM2_ECC_NIST_P384:
                group = "secp384r1";
                n = 48;
                break;
        default:
                ob_tpm_set_error(t, "key is an ECC key on curve 0x%04x, not P-256 or P-384",
                                 p->parameters.eccDetail.curveID);
                return -EBADMSG;
        }
        if (q->x.size > n || q->y.size > n) {
                ob_tpm_set_error(t, "the TPM returned an invalid EC point");
                return -EBADMSG;
        }
        memset(point, 0, sizeof(point));
        point[0] = 0x04;
        memcpy(point + 1 + n - q->x.size, q->x.buffer, q->x.size);
        memcpy(point + 1 + 2 * n - q->y.size, q->y.buffer, q->y.size);

        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *pkey = NULL;
        int r = -ENOMEM;
        if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * n) &&
            (params = OSSL_PARAM_BLD_to_param(bld)) &&
            (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", "provider=default")) &&
            EVP_PKEY_fromdata_init(ctx) > 0 &&
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0) {
                *ret = pkey;
                r = 0;
        } else if (bld && params && ctx) {
                ob_tpm_set_error(t, "the TPM returned an invalid EC point");
                r = -EBADMSG;
        }
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        return r;
}

static int rsa_public_to_evp(ObTpm *t, const TPMT_PUBLIC *p, EVP_PKEY **ret)
{
        const TPMS_RSA_PARMS *rp = &p->parameters.rsaDetail;
        const TPM2B_PUBLIC_KEY_RSA *m = &p->unique.rsa;

        if (rp->keyBits < 2048 || m->size != rp->keyBits / 8) {
                ob_tpm_set_error(
                        t, "key is an RSA key of %u bits (modulus %u bytes); need 2048 or more",
                        (unsigned)rp->keyBits, (unsigned)m->size);
                return -EBADMSG;
        }
        BIGNUM *n = BN_bin2bn(m->buffer, m->size, NULL), *e = BN_new();
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *pkey = NULL;
        int r = -ENOMEM;
        if (n && e && bld && BN_set_word(e, rp->exponent ? rp->exponent : 65537) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
            (params = OSSL_PARAM_BLD_to_param(bld)) &&
            (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", "provider=default")) &&
            EVP_PKEY_fromdata_init(ctx) > 0 &&
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0) {
                *ret = pkey;
                r = 0;
        }
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        BN_free(n);
        BN_free(e);
        return r;
}

static int public_to_evp(ObTpm *t, const TPMT_PUBLIC *p, EVP_PKEY **ret)
{
        if (p->type == TPM2_ALG_ECC)
                return ec_public_to_evp(t, p, ret);
        if (p->type == TPM2_ALG_RSA)
                return rsa_public_to_evp(t, p, ret);
        ob_tpm_set_error(t, "key of TPM algorithm 0x%04x is neither ECC nor RSA", p->type);
        return -EBADMSG;
}

/* "handle:0x81000002" names a persistent key (a vendor's); anything else is a key file.
 * Returns 1 and the handle, 0 for a file, -EINVAL for a malformed or out-of-range handle. */
int ob_tpm_path_handle(ObTpm *t, const char *path, uint32_t *ret)
{
        size_t n = strlen(OB_KEY_PATH_HANDLE_PREFIX);
        char *end;

        if (!ob_key_path_is_handle(path))
                return 0;
        errno = 0;
        unsigned long h = strtoul(path + n, &end, 16);
        if (errno || end == path + n || *end || h < 0x81000000ul || h > 0x81fffffful) {
                ob_tpm_set_error(t, "%s: not a persistent handle (0x81000000..0x81FFFFFF)", path);
                return -EINVAL;
        }
        if (h == t->srk_handle) {
                ob_tpm_set_error(t, "%s is the SRK, not a signing key", path);
                return -EINVAL;
        }
        *ret = (uint32_t)h;
        return 1;
}

int ob_tpm_create_key(ObTpm *t, const char *path, int key_type, EVP_PKEY **ret_pub)
{
        ESYS_TR srk;
        TPM2B_PUBLIC tmpl, *out_pub = NULL;
        TPM2B_PRIVATE *out_priv = NULL;
        TPM2B_SENSITIVE_CREATE sens = {0};
        TPM2B_DATA outside = {0};
        TPML_PCR_SELECTION pcrs = {0};
        ObTss2Key k = {.empty_auth = true};
        _cleanup_free_ char *pem = NULL;
        uint32_t handle;
        TSS2_RC rc;
        int r;

        r = ob_tpm_path_handle(t, path, &handle);
        if (r < 0)
                return r;
        if (r > 0) {
                ob_tpm_set_error(t, "%s: a persistent (vendor) key is made by the vendor, not here",
                                 path);
                return -EOPNOTSUPP;
        }
        if (device_key_template(key_type, &tmpl) < 0) {
                ob_tpm_set_error(t, "unknown key type %d", key_type);
                return -EINVAL;
        }
        r = ob_tpm_srk_get(t, &srk);
        if (r < 0)
                return r;
        TPM_CALL(rc, Esys_Create(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                                 &tmpl, &outside, &pcrs, &out_priv, &out_pub, NULL, NULL, NULL));
        ob_tpm_srk_put(t, &srk);
        if (rc != TSS2_RC_SUCCESS)
                return ob_tpm_error(t, rc, "creating the device key under the SRK");

        size_t off = 0;
        k.parent = t->srk_handle;
        rc = Tss2_MU_TPM2B_PUBLIC_Marshal(out_pub, k.pub, sizeof(k.pub), &off);
        k.pub_len = off;
        off = 0;
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_TPM2B_PRIVATE_Marshal(out_priv, k.priv, sizeof(k.priv), &off);
        k.priv_len = off;
        if (rc != TSS2_RC_SUCCESS) {
                r = ob_tpm_error(t, rc, "marshalling the key blob");
                goto out;
        }
        r = ob_tss2_key_to_pem(&k, &pem);
        if (r < 0)
                goto out;
        r = ob_fs_write_file_atomic(NULL, path, pem, strlen(pem), 0600);
        if (r < 0) {
                ob_tpm_set_error(t, "writing %s: %s", path, strerror(-r));
                goto out;
        }
        if (ret_pub)
                r = public_to_evp(t, &out_pub->publicArea, ret_pub);
out:
        ob_explicit_bzero(&k, sizeof(k));
        Esys_Free(out_pub);
        Esys_Free(out_priv);
        return r;
}

static int load_blob(ObTpm *t, const char *path, ESYS_TR *ret_key, TPM2B_PUBLIC *ret_pub)
{
        ObTss2Key k;
        TPM2B_PUBLIC pub = {0};
        TPM2B_PRIVATE priv = {0};
        ESYS_TR srk = ESYS_TR_NONE, key = ESYS_TR_NONE;
        TSS2_RC rc;
        char buf[16384];
        size_t n, off = 0;
        int r;

        FILE *f = fopen(path, "re");
        if (!f) {
                r = ob_negative_errno();
                ob_tpm_set_error(t, "%s: %s", path, strerror(-r));
                return r;
        }
        n = fread(buf, 1, sizeof(buf), f);
        bool too_big = !feof(f);
        fclose(f);
        if (too_big || ob_tss2_key_from_pem(buf, n, &k) < 0) {
                ob_tpm_set_error(t, "%s: not a TSS2 PRIVATE KEY PEM file", path);
                return -EBADMSG;
        }
        if (k.parent != t->srk_handle) {
                ob_tpm_set_error(t, "%s: the key's parent is 0x%08x, not the configured SRK 0x%08x",
                                 path, k.parent, t->srk_handle);
                return -EXDEV;
        }
        if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(k.pub, k.pub_len, &off, &pub) != TSS2_RC_SUCCESS ||
            off != k.pub_len ||
            (off = 0, Tss2_MU_TPM2B_PRIVATE_Unmarshal(k.priv, k.priv_len, &off, &priv)) !=
                    TSS2_RC_SUCCESS ||
            off != k.priv_len) {
                ob_explicit_bzero(&k, sizeof(k));
                ob_tpm_set_error(t, "%s: malformed key blob", path);
                return -EBADMSG;
        }
        ob_explicit_bzero(&k, sizeof(k));
        r = ob_tpm_srk_get(t, &srk);
        if (r < 0)
                return r;
        TPM_CALL(rc, Esys_Load(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv,
                               &pub, &key));
        ob_tpm_srk_put(t, &srk);
        ob_explicit_bzero(&priv, sizeof(priv));
        if (rc != TSS2_RC_SUCCESS) {
                char what[300];
                snprintf(what, sizeof(what), "loading %s under SRK 0x%08x", path, t->srk_handle);
                r = ob_tpm_error(t, rc, what);
                return r == -EIO ? -EBADMSG : r;
        }
        *ret_key = key;
        *ret_pub = pub;
        return 0;
}

/* A persistent key somebody else made: usable for us only if it is an unrestricted signing key
 * (a restricted one signs only TPM-made digests, never a CSR or a TLS handshake) that cannot
 * leave the TPM (fixedTPM) and takes its (empty) auth value as a password (userWithAuth). */
static int load_persistent(ObTpm *t, const char *path, uint32_t handle, ESYS_TR *ret_key,
                           TPM2B_PUBLIC *ret_pub)
{
        TPM2B_PUBLIC *pub = NULL;
        ESYS_TR tr;
        TSS2_RC rc;

        char what[96];

        snprintf(what, sizeof(what), "reading the persistent key at %s", path);
        TPM_CALL(rc, Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE,
                                           ESYS_TR_NONE, &tr));
        if (rc != TSS2_RC_SUCCESS)
                return ob_tpm_error(t, rc, what);
        TPM_CALL(rc, Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub,
                                     NULL, NULL));
        if (rc != TSS2_RC_SUCCESS) {
                Esys_TR_Close(t->esys, &tr);
                return ob_tpm_error(t, rc, what);
        }
        TPMA_OBJECT a = pub->publicArea.objectAttributes;
        const char *why = !(a & TPMA_OBJECT_SIGN_ENCRYPT)   ? "not a signing key"
                          : (a & TPMA_OBJECT_RESTRICTED)    ? "a restricted signing key (it signs "
                                                              "only digests the TPM made itself)"
                          : !(a & TPMA_OBJECT_FIXEDTPM)     ? "not fixedTPM (it can be duplicated "
                                                              "out of this TPM)"
                          : !(a & TPMA_OBJECT_USERWITHAUTH) ? "a policy-only key (userWithAuth "
                                                              "clear)"
                                                            : NULL;
        if (why) {
                ob_tpm_set_error(t, "%s holds %s: refusing it as the device key", path, why);
                Esys_Free(pub);
                Esys_TR_Close(t->esys, &tr);
                return -EKEYREJECTED;
        }
        TPM2B_AUTH empty = {0};
        Esys_TR_SetAuth(t->esys, tr, &empty);
        *ret_key = tr;
        *ret_pub = *pub;
        Esys_Free(pub);
        return 0;
}

/* The key at path in the TPM: a blob is loaded (flush it after use), a persistent key only
 * opened (close its ESYS_TR, never flush or evict it). */
static int key_acquire(ObTpm *t, const char *path, ESYS_TR *ret_key, TPM2B_PUBLIC *ret_pub,
                       bool *ret_persistent)
{
        uint32_t handle;
        int r = ob_tpm_path_handle(t, path, &handle);
        if (r < 0)
                return r;
        *ret_persistent = r > 0;
        return r > 0 ? load_persistent(t, path, handle, ret_key, ret_pub)
                     : load_blob(t, path, ret_key, ret_pub);
}

static void key_release(ObTpm *t, ESYS_TR *key, bool persistent)
{
        if (persistent)
                Esys_TR_Close(t->esys, key);
        else
                Esys_FlushContext(t->esys, *key);
        *key = ESYS_TR_NONE;
}

/* The public area of the key at path (loaded and released again). */
static int key_public(ObTpm *t, const char *path, TPM2B_PUBLIC *ret_pub)
{
        ESYS_TR key = ESYS_TR_NONE;
        bool persistent = false;
        int r = key_acquire(t, path, &key, ret_pub, &persistent);
        if (r < 0)
                return r;
        key_release(t, &key, persistent);
        return 0;
}

int ob_tpm_load_key(ObTpm *t, const char *path, EVP_PKEY **ret_pub)
{
        TPM2B_PUBLIC pub = {0};
        int r = key_public(t, path, &pub);
        if (r < 0)
                return r;
        return ret_pub ? public_to_evp(t, &pub.publicArea, ret_pub) : 0;
}

int ob_tpm_key_da_protected(ObTpm *t, const char *path)
{
        TPM2B_PUBLIC pub = {0};
        int r = key_public(t, path, &pub);
        if (r < 0)
                return r;
        return !(pub.publicArea.objectAttributes & TPMA_OBJECT_NODA);
}

static int copy_out(const uint8_t *p, size_t n, uint8_t **ret, size_t *ret_len)
{
        uint8_t *b = malloc(n);
        if (!b)
                return -ENOMEM;
        memcpy(b, p, n);
        *ret = b;
        *ret_len = n;
        return 0;
}

/* TPMS_SIGNATURE_ECDSA (r, s) -> DER ECDSA-Sig-Value */
static int ecdsa_to_der(const TPMS_SIGNATURE_ECDSA *e, uint8_t **ret, size_t *ret_len)
{
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *br = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
        BIGNUM *bs = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
        if (!es || !br || !bs || !ECDSA_SIG_set0(es, br, bs)) {
                BN_free(br);
                BN_free(bs);
                ECDSA_SIG_free(es);
                return -ENOMEM;
        }
        unsigned char *der = NULL;
        int n = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (n <= 0)
                return -ENOMEM;
        int r = copy_out(der, (size_t)n, ret, ret_len);
        OPENSSL_free(der);
        return r;
}

int ob_tpm_sign_digest(ObTpm *t, const char *path, const uint8_t *digest, size_t digest_len,
                       uint8_t **ret_sig, size_t *ret_sig_len)
{
        TPMT_SIG_SCHEME scheme = {0};
        TPMT_TK_HASHCHECK ticket = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
        TPM2B_DIGEST d = {.size = (UINT16)digest_len};
        TPMT_SIGNATURE *sig = NULL;
        TPM2B_PUBLIC pub = {0};
        ESYS_TR key = ESYS_TR_NONE;
        TSS2_RC rc;
        bool persistent = false;
        int r;

        /* the digest's length names its hash: the caller hashed with SHA-256 or SHA-384 */
        TPMI_ALG_HASH hash = digest_len == 32   ? TPM2_ALG_SHA256
                             : digest_len == 48 ? TPM2_ALG_SHA384
                                                : TPM2_ALG_NULL;
        if (hash == TPM2_ALG_NULL) {
                ob_tpm_set_error(t, "a %zu-byte digest is neither SHA-256 nor SHA-384", digest_len);
                return -EINVAL;
        }
        memcpy(d.buffer, digest, digest_len);
        r = key_acquire(t, path, &key, &pub, &persistent);
        if (r < 0)
                return r;
        const TPMT_PUBLIC *pa = &pub.publicArea;
        /* ECDSA for EC keys, RSASSA (PKCS#1 v1.5) for RSA keys. A key with a fixed scheme (a
         * vendor's, say ECDSA-SHA256) must be asked for exactly that scheme. */
        scheme.scheme = pa->type == TPM2_ALG_ECC ? TPM2_ALG_ECDSA : TPM2_ALG_RSASSA;
        scheme.details.any.hashAlg = hash;
        const TPMT_ASYM_SCHEME *fixed = &pa->parameters.asymDetail.scheme;
        if (fixed->scheme != TPM2_ALG_NULL &&
            (fixed->scheme != scheme.scheme || fixed->details.anySig.hashAlg != hash)) {
                ob_tpm_set_error(
                        t, "%s only signs with scheme 0x%04x/hash 0x%04x, not 0x%04x/0x%04x", path,
                        fixed->scheme, fixed->details.anySig.hashAlg, scheme.scheme, hash);
                key_release(t, &key, persistent);
                return -EINVAL;
        }
        TPM_CALL(rc, Esys_Sign(t->esys, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d,
                               &scheme, &ticket, &sig));
        key_release(t, &key, persistent);
        if (rc != TSS2_RC_SUCCESS)
                return ob_tpm_error(t, rc, "signing with the device key");
        if (sig->sigAlg == TPM2_ALG_ECDSA)
                r = ecdsa_to_der(&sig->signature.ecdsa, ret_sig, ret_sig_len);
        else if (sig->sigAlg == TPM2_ALG_RSASSA)
                r = copy_out(sig->signature.rsassa.sig.buffer, sig->signature.rsassa.sig.size,
                             ret_sig, ret_sig_len);
        else {
                ob_tpm_set_error(t, "the TPM answered with signature algorithm 0x%04x",
                                 sig->sigAlg);
                r = -EIO;
        }
        Esys_Free(sig);
        return r;
}
