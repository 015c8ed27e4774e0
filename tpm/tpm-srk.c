/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TPM's storage root key (SRK) and what else lives in the TPM's hierarchies rather than in
 * our key files: the SRK at its persistent handle (found and judged, made and persisted when
 * absent, kept transient when the TPM's NV is full), the dictionary-attack state, and the
 * hardware token derived from the endorsement key. Uses the context of tpm/tpm-key.c
 * (tpm/tpm-private.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include "tpm-key.h"
#include "tpm-private.h"

/* An ECC P-256 restricted decrypt (storage) primary with AES-128-CFB and the zero-filled
 * 32-byte unique fields of the TCG templates; the SRK and the EK differ only in attributes and
 * policy. */
static void ecc_storage_primary(TPM2B_PUBLIC *p, TPMA_OBJECT attributes)
{
        memset(p, 0, sizeof(*p));
        p->publicArea.type = TPM2_ALG_ECC;
        p->publicArea.nameAlg = TPM2_ALG_SHA256;
        p->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                         TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_RESTRICTED |
                                         TPMA_OBJECT_DECRYPT | attributes;
        TPMS_ECC_PARMS *e = &p->publicArea.parameters.eccDetail;
        e->symmetric.algorithm = TPM2_ALG_AES;
        e->symmetric.keyBits.aes = 128;
        e->symmetric.mode.aes = TPM2_ALG_CFB;
        e->scheme.scheme = TPM2_ALG_NULL;
        e->curveID = TPM2_ECC_NIST_P256;
        e->kdf.scheme = TPM2_ALG_NULL;
        p->publicArea.unique.ecc.x.size = 32;
        p->publicArea.unique.ecc.y.size = 32;
}

/* The TCG standard SRK template (provisioning guidance): user auth, not DA-protected. */
static void srk_template(TPM2B_PUBLIC *p)
{
        ecc_storage_primary(p, TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA);
}

static bool is_storage_key(const TPMT_PUBLIC *p)
{
        const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
                                 TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
        return p->type == TPM2_ALG_ECC && (p->objectAttributes & need) == need &&
               !(p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) &&
               p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256 &&
               p->parameters.eccDetail.symmetric.algorithm == TPM2_ALG_AES;
}

/* EvictControl: persist the loaded SRK tr at srk_handle (with the owner auth). */
static TSS2_RC srk_persist(ObTpm *t, ESYS_TR tr)
{
        ESYS_TR persistent = ESYS_TR_NONE;
        TSS2_RC rc;

        Esys_TR_SetAuth(t->esys, ESYS_TR_RH_OWNER, &t->owner_auth);
        TPM_CALL(rc, Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD,
                                       ESYS_TR_NONE, ESYS_TR_NONE, t->srk_handle, &persistent));
        if (rc == TSS2_RC_SUCCESS)
                Esys_TR_Close(t->esys, &persistent);
        return rc;
}

/* Keep the SRK primary loaded without a persistent handle (no NV space for one). */
static void srk_go_transient(ObTpm *t, ESYS_TR primary, bool persist_later)
{
        t->srk_transient = primary;
        t->srk_persist_later = persist_later;
        ob_tpm_set_error(t,
                         "no free persistent handle for the SRK at 0x%08x (the TPM's persistent "
                         "objects fill its NV): using a transient SRK made from the same template",
                         t->srk_handle);
}

/* The SRK as an ESYS_TR (caller flushes nothing: persistent objects are not flushed; the
 * transient SRK is the context's own). */
int ob_tpm_srk_get(ObTpm *t, ESYS_TR *ret)
{
        TSS2_RC rc;
        ESYS_TR tr = ESYS_TR_NONE;
        TPM2B_PUBLIC *pub = NULL;

        if (t->srk_transient != ESYS_TR_NONE) {
                /* a handle may have been freed since: TLS (tpm2 provider, its own connection)
                 * finds the SRK only at its persistent handle */
                rc = t->srk_persist_later ? srk_persist(t, t->srk_transient) : TPM2_RC_NV_SPACE;
                if (ob_tpm_rc_code(rc) == TPM2_RC_NV_SPACE) {
                        *ret = t->srk_transient;
                        return 0;
                }
                if (rc != TSS2_RC_SUCCESS && ob_tpm_rc_code(rc) != TPM2_RC_NV_DEFINED)
                        return ob_tpm_error(t, rc, "persisting the SRK");
                /* persisted, or another process put an object there: judge it as usual */
                Esys_FlushContext(t->esys, t->srk_transient);
                t->srk_transient = ESYS_TR_NONE;
        }
        TPM_CALL(rc, Esys_TR_FromTPMPublic(t->esys, t->srk_handle, ESYS_TR_NONE, ESYS_TR_NONE,
                                           ESYS_TR_NONE, &tr));
        if (rc != TSS2_RC_SUCCESS) {
                char what[64];
                snprintf(what, sizeof(what), "SRK handle 0x%08x", t->srk_handle);
                return ob_tpm_error(t, rc, what);
        }
        TPM_CALL(rc, Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub,
                                     NULL, NULL));
        if (rc != TSS2_RC_SUCCESS) {
                int r = ob_tpm_error(t, rc, "reading the SRK's public area");
                Esys_TR_Close(t->esys, &tr);
                return r;
        }
        bool ok = is_storage_key(&pub->publicArea);
        Esys_Free(pub);
        if (!ok) {
                Esys_TR_Close(t->esys, &tr);
                ob_tpm_set_error(
                        t,
                        "persistent handle 0x%08x holds an object that is not an ECC P-256 "
                        "restricted decrypt storage key; refusing to use it as the SRK (handle "
                        "collision: configure another tpm.srk_handle or evict the object)",
                        t->srk_handle);
                return -EEXIST;
        }
        TPM2B_AUTH empty = {0};
        Esys_TR_SetAuth(t->esys, tr, &empty);
        *ret = tr;
        return 0;
}

/* Done with what ob_tpm_srk_get() returned: close a persistent SRK's ESYS_TR; the transient SRK
 * stays (it is the context's until persisted or ob_tpm_close()). */
void ob_tpm_srk_put(ObTpm *t, ESYS_TR *srk)
{
        if (*srk != t->srk_transient)
                Esys_TR_Close(t->esys, srk);
        *srk = ESYS_TR_NONE;
}

int ob_tpm_check_srk(ObTpm *t)
{
        ESYS_TR tr = ESYS_TR_NONE;
        int r = ob_tpm_srk_get(t, &tr);

        if (r == 0)
                ob_tpm_srk_put(t, &tr);
        return r;
}

int ob_tpm_da_status(ObTpm *t, ObTpmDaStatus *ret)
{
        uint32_t v[TPM2_PT_LOCKOUT_RECOVERY - TPM2_PT_PERMANENT + 1] = {0}, found = 0;
        /* PERMANENT (bit 0) and LOCKOUT_COUNTER..LOCKOUT_RECOVERY (bits 14..17) */
        const uint32_t need = 1u | 0xfu << (TPM2_PT_LOCKOUT_COUNTER - TPM2_PT_PERMANENT);
        int r;

        r = ob_tpm_properties(t, TPM2_PT_PERMANENT, OB_ELEMENTSOF(v),
                              "reading the dictionary-attack state", v, &found);
        if (r < 0)
                return r;
        *ret = (ObTpmDaStatus){
                .in_lockout = v[0] & TPMA_PERMANENT_INLOCKOUT,
                .counter = v[TPM2_PT_LOCKOUT_COUNTER - TPM2_PT_PERMANENT],
                .max_tries = v[TPM2_PT_MAX_AUTH_FAIL - TPM2_PT_PERMANENT],
                .interval_s = v[TPM2_PT_LOCKOUT_INTERVAL - TPM2_PT_PERMANENT],
                .recovery_s = v[TPM2_PT_LOCKOUT_RECOVERY - TPM2_PT_PERMANENT],
        };
        if ((found & need) != need) {
                ob_tpm_set_error(t, "the TPM did not report every dictionary-attack property");
                return -EBADMSG;
        }
        return 0;
}

/* CreatePrimary with the SRK template: the same key every time for the same owner seed. */
static int srk_create_primary(ObTpm *t, ESYS_TR *ret)
{
        TPM2B_PUBLIC tmpl;
        TPM2B_SENSITIVE_CREATE sens = {0};
        TPM2B_DATA outside = {0};
        TPML_PCR_SELECTION pcrs = {0};
        TSS2_RC rc;

        srk_template(&tmpl);
        Esys_TR_SetAuth(t->esys, ESYS_TR_RH_OWNER, &t->owner_auth);
        TPM_CALL(rc, Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                        ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, ret, NULL,
                                        NULL, NULL, NULL));
        if (rc != TSS2_RC_SUCCESS)
                return ob_tpm_error(t, rc, "creating the SRK in the owner hierarchy");
        return 0;
}

bool ob_tpm_srk_transient(const ObTpm *t)
{
        return t && t->srk_transient != ESYS_TR_NONE;
}

int ob_tpm_srk_transient_if_full(ObTpm *t)
{
        ESYS_TR primary = ESYS_TR_NONE;
        uint32_t avail = 1, found = 0;
        int r;

        if (t->srk_transient != ESYS_TR_NONE)
                return 1;
        r = ob_tpm_properties(t, TPM2_PT_HR_PERSISTENT_AVAIL, 1,
                              "reading the free persistent handles", &avail, &found);
        if (r < 0)
                return r;
        if (avail > 0) /* also when not reported (avail stays 1): nothing done */
                return 0;
        r = srk_create_primary(t, &primary);
        if (r < 0)
                return r;
        srk_go_transient(t, primary, false);
        return 1;
}

int ob_tpm_ensure_srk(ObTpm *t, bool *ret_created)
{
        ESYS_TR tr = ESYS_TR_NONE, primary = ESYS_TR_NONE;
        TSS2_RC rc;
        int r;

        r = ob_tpm_srk_get(t, &tr);
        if (r != -ENOENT) {
                if (r == 0 && ret_created)
                        *ret_created = false;
                if (r == 0) /* only looked at: give it back */
                        ob_tpm_srk_put(t, &tr);
                return r;
        }
        r = srk_create_primary(t, &primary);
        if (r < 0)
                return r;
        rc = srk_persist(t, primary);
        if (rc != TSS2_RC_SUCCESS && ob_tpm_rc_code(rc) == TPM2_RC_NV_SPACE) {
                /* no room: the primary is deterministic (same seed, same template, same key),
                 * so keys made under an earlier SRK load under this one; not exiting here
                 * keeps systemd from restarting the daemon into the same wall forever */
                srk_go_transient(t, primary, true);
                if (ret_created)
                        *ret_created = false;
                return 0;
        }
        Esys_FlushContext(t->esys, primary);
        if (rc != TSS2_RC_SUCCESS && ob_tpm_rc_code(rc) == TPM2_RC_NV_DEFINED) {
                /* another process (a second agent, a provisioning script) persisted a key at the
                 * handle between our look and our EvictControl: judge that one like any other */
                r = ob_tpm_srk_get(t, &tr);
                if (r == 0 && ret_created)
                        *ret_created = false;
                if (r == 0)
                        ob_tpm_srk_put(t, &tr);
                return r;
        }
        if (rc != TSS2_RC_SUCCESS) {
                char what[64];
                snprintf(what, sizeof(what), "persisting the SRK at 0x%08x", t->srk_handle);
                return ob_tpm_error(t, rc, what);
        }
        if (ret_created)
                *ret_created = true;
        return 0;
}

/* TCG EK Credential Profile, template L-2 (ECC NIST P-256 EK): the policy is
 * PolicySecret(TPM_RH_ENDORSEMENT). The same template on the same TPM always yields the same
 * key, so the token below is stable across reboots, SRK changes and key rotations. */
static void ek_template(TPM2B_PUBLIC *p)
{
        static const uint8_t policy[32] = {
                0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
                0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
                0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
        };
        ecc_storage_primary(p, TPMA_OBJECT_ADMINWITHPOLICY);
        p->publicArea.authPolicy.size = sizeof(policy);
        memcpy(p->publicArea.authPolicy.buffer, policy, sizeof(policy));
}

int ob_tpm_hardware_token(ObTpm *t, char ret[65])
{
        TPM2B_PUBLIC tmpl, *pub = NULL;
        TPM2B_SENSITIVE_CREATE sens = {0};
        TPM2B_DATA outside = {0};
        TPML_PCR_SELECTION pcrs = {0};
        ESYS_TR ek = ESYS_TR_NONE;
        TSS2_RC rc;
        uint8_t point[64], md[32];

        ek_template(&tmpl);
        TPM_CALL(rc, Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD,
                                        ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs,
                                        &ek, &pub, NULL, NULL, NULL));
        if (rc != TSS2_RC_SUCCESS)
                return ob_tpm_error(t, rc, "creating the endorsement key for the hardware token");
        Esys_FlushContext(t->esys, ek);
        const TPMS_ECC_POINT *q = &pub->publicArea.unique.ecc;
        if (q->x.size > 32 || q->y.size > 32) {
                Esys_Free(pub);
                ob_tpm_set_error(t, "the TPM returned an invalid endorsement key");
                return -EBADMSG;
        }
        memset(point, 0, sizeof(point));
        memcpy(point + 32 - q->x.size, q->x.buffer, q->x.size);
        memcpy(point + 64 - q->y.size, q->y.buffer, q->y.size);
        Esys_Free(pub);
        if (!EVP_Digest(point, sizeof(point), md, NULL, EVP_sha256(), NULL))
                return -ENOMEM;
        for (size_t i = 0; i < sizeof(md); i++)
                snprintf(ret + 2 * i, 3, "%02x", md[i]);
        return 0;
}
