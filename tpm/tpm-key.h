/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys made and held in a TPM 2.0 (tpm2-tss ESAPI). The storage root key (SRK) lives at a
 * persistent handle; device keys are ECC P-256/P-384 or RSA-2048 signing keys created under it
 * with fixedTPM, fixedParent and sensitiveDataOrigin (they never leave the TPM), stored on disk
 * as "TSS2 PRIVATE KEY" PEM blobs that the tpm2-openssl provider loads (lib/tss2-pem.h). A
 * vendor's key at a persistent handle is used through the path "handle:0x81......".
 * See docs/tpm.md. TSS2 return codes are converted to negative errno here and nowhere else;
 * ob_tpm_last_error() has the text.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "macro.h"

#define OB_TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
#define OB_TPM_DEFAULT_SRK  0x81000001u

typedef struct ObTpm ObTpm;

typedef struct ObTpmOptions {
        const char *tcti;       /* NULL: OB_TPM_DEFAULT_TCTI */
        uint32_t srk_handle;    /* 0: OB_TPM_DEFAULT_SRK; must be 0x81000000..0x817FFFFF */
        const char *owner_auth; /* owner hierarchy auth value, NULL when empty */
        /* or read it from this file (one trailing newline dropped); the file must not be
         * readable by group or others */
        const char *owner_auth_file;
} ObTpmOptions;

/* Connect to the TPM. -ENODEV: no TPM or resource manager behind the TCTI (err, if not NULL,
 * gets the reason); -EINVAL: bad options. */
int ob_tpm_open(const ObTpmOptions *opts, ObTpm **ret, char *err, size_t err_size);
ObTpm *ob_tpm_close(ObTpm *t);
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(ObTpm *, ob_tpm_close)

struct ObConfig;
typedef int (*ObTpmOpenFunc)(const ObTpmOptions *opts, ObTpm **ret, char *err, size_t err_size);

/*
 * Open the TPM that config's tpm section names (tcti, srk_handle, owner_auth_file) through
 * open_func (NULL: ob_tpm_open(); the daemon passes one that waits for an absent TPM) and, with
 * create_srk, make sure the SRK exists (ob_tpm_ensure_srk(), *ret_created). On failure nothing
 * stays open and err has the sentence to show: "cannot open the TPM (<tcti>): <why>" or
 * "storage root key at 0x<handle>: <why>"; the return is open_func's or the SRK's error.
 */
int ob_tpm_open_config(const struct ObConfig *config, ObTpmOpenFunc open_func, bool create_srk,
                       ObTpm **ret, bool *ret_created, char *err, size_t err_size);

/* Text of the last error (names the handle or file and the TPM's answer); "" if none. */
const char *ob_tpm_last_error(const ObTpm *t);

/*
 * Make sure the SRK exists at the configured handle: create it with the TCG standard ECC
 * P-256 storage template and persist it if absent (*ret_created = true); if present, check it
 * is a restricted decrypt ECC storage key and refuse anything else (-EEXIST: the handle holds
 * another object; handle collisions are a known field problem).
 */
int ob_tpm_ensure_srk(ObTpm *t, bool *ret_created);
/* When no persistent handle is free (TPM_RC_NV_SPACE), ob_tpm_ensure_srk() returns 0 with the
 * SRK kept loaded as a transient object of this context: the primary is deterministic, so keys
 * made before load and sign under it. Every later SRK use tries to persist it again; until that
 * works, TLS through the tpm2 OpenSSL provider (which looks for the key's parent at the
 * persistent handle) cannot use the key. ob_tpm_srk_transient() says whether that is the case
 * now (ob_tpm_last_error() had the sentence when it began). */
bool ob_tpm_srk_transient(const ObTpm *t);

/* For a read-only look (agentctl check) with no SRK at the handle: when the TPM has no free
 * persistent handle, load the SRK as a transient object (never persisted by this context) so
 * that keys can be checked as the daemon uses them: 1 done (or already transient), 0 a handle
 * is free (nothing done), or a TPM error. */
int ob_tpm_srk_transient_if_full(ObTpm *t);

/*
 * Check the SRK without creating anything (agentctl check): 0 a storage key is at the handle;
 * -ENOENT nothing there; -EEXIST another kind of object there; other TPM errors as usual.
 */
int ob_tpm_check_srk(ObTpm *t);

/* The TPM's dictionary-attack state (TPM2_GetCapability, TPM_PT_PERMANENT..LOCKOUT_RECOVERY). */
typedef struct ObTpmDaStatus {
        uint32_t counter;    /* failed authorizations counted (TPM_PT_LOCKOUT_COUNTER) */
        uint32_t max_tries;  /* lockout at this count (TPM_PT_MAX_AUTH_FAIL) */
        uint32_t interval_s; /* one failure forgotten after this (TPM_PT_LOCKOUT_INTERVAL) */
        uint32_t recovery_s; /* lockout-auth retry delay (TPM_PT_LOCKOUT_RECOVERY) */
        bool in_lockout;     /* TPMA_PERMANENT inLockout */
} ObTpmDaStatus;

/* Read the dictionary-attack state. 0, or a TPM error (-ENODEV, -EIO...; -EBADMSG when the TPM
 * leaves out a property). */
int ob_tpm_da_status(ObTpm *t, ObTpmDaStatus *ret);

/* Whether the key at path is subject to dictionary-attack protection (no noDA attribute: keys
 * made before the device key template had it), so that a lockout stops it. 1 yes, 0 no, or the
 * load error. */
int ob_tpm_key_da_protected(ObTpm *t, const char *path);

/* Create a signing key of key_type (ObKeyType: EC P-256, EC P-384, RSA-2048) under the SRK and
 * write its TSS2 PEM to path atomically (mode 0600). The public key is returned in *ret_pub when
 * ret_pub != NULL. -EINVAL unknown type; -EOPNOTSUPP for a "handle:" path. */
int ob_tpm_create_key(ObTpm *t, const char *path, int key_type, EVP_PKEY **ret_pub);

/*
 * Load the key at path into the TPM (proving it belongs to this TPM and SRK) and return its
 * public key. -ENOENT no file; -EBADMSG not a TSS2 key, corrupt, or it does not load under the
 * SRK (wrong TPM, SRK replaced); -EXDEV the key's parent is not the configured SRK handle.
 * path "handle:0x81......" (OB_KEY_PATH_HANDLE_PREFIX): a persistent key (a vendor's) is read
 * instead; -ENOENT nothing at the handle, -EKEYREJECTED it is not an unrestricted, fixedTPM
 * signing key usable with an empty password, -EINVAL not a persistent handle or the SRK's.
 * -ENOMEM also when the TPM is out of object memory (no resource manager in front of it).
 */
int ob_tpm_load_key(ObTpm *t, const char *path, EVP_PKEY **ret_pub);

/* Sign a SHA-256 (32 bytes) or SHA-384 (48 bytes) digest with the key at path (loaded for the
 * operation): EC keys ECDSA, a DER ECDSA-Sig-Value; RSA keys RSASSA (PKCS#1 v1.5), the raw
 * signature; in *ret_sig (free()). Errors as ob_tpm_load_key(), plus TPM errors; -EINVAL other
 * digest sizes, or a key whose fixed scheme differs. */
int ob_tpm_sign_digest(ObTpm *t, const char *path, const uint8_t *digest, size_t digest_len,
                       uint8_t **ret_sig, size_t *ret_sig_len);

/*
 * The hardware-bound token for fleet provisioning's pre-provisioning hook: SHA-256 (64 hex
 * digits) of the x||y coordinates (32 bytes each) of the TCG standard ECC P-256 endorsement
 * key (EK Credential Profile template L-2). Stable across reboots, key rotations and SRK
 * changes; changes only if the TPM's endorsement seed changes. docs/tpm.md says how the cloud
 * side computes the same value from the EK certificate's public key.
 */
int ob_tpm_hardware_token(ObTpm *t, char ret[65]);

/* Who made the TPM and its firmware (docs/shadow.md, "tpm"). */
typedef struct ObTpmInfo {
        char manufacturer[5]; /* TPM2_PT_MANUFACTURER trimmed: "IBM" (swtpm), "IFX", "NTC", "STM" */
        char firmware[24];    /* TPM2_PT_FIRMWARE_VERSION_1/_2 as four 16-bit parts, "a.b.c.d" */
} ObTpmInfo;

/* Read them with one TPM2_GetCapability (fixed properties) on t's context, which keeps nothing
 * open. 0, or a TPM error (-ENODEV the connection is lost, -EIO...); -EBADMSG when the TPM
 * leaves out a property. */
int ob_tpm_get_info(ObTpm *t, ObTpmInfo *ret);
