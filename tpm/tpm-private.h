/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the TPM files share (tpm/tpm-key.c: the context and the device keys; tpm/tpm-srk.c: the
 * SRK, dictionary-attack state, hardware token; tpm/tpm-provider.c: the ObKeyProvider;
 * tpm/tpm-info.c: manufacturer and firmware): the context, error recording and the TSS2_RC to
 * errno conversion, the bounded retry of ESAPI calls, and borrowing the SRK. Internal to tpm/.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <tss2/tss2_esys.h>

#include "macro.h"
#include "tpm-key.h"

#define MAX_RETRIES 8

struct ObTpm {
        TSS2_TCTI_CONTEXT *tcti;
        ESYS_CONTEXT *esys;
        uint32_t srk_handle;
        TPM2B_AUTH owner_auth;
        bool lost; /* a TCTI error: the connection (tpm2-abrmd, /dev/tpmrm0) is gone for good */
        /* the SRK, loaded but not persisted: no persistent handle was free (TPM_RC_NV_SPACE);
         * ESYS_TR_NONE when the SRK is at srk_handle. srk_persist_later: try again at every
         * use (the daemon), not in a read-only look (agentctl check). */
        ESYS_TR srk_transient;
        bool srk_persist_later;
        char error[256];
};

/* Record the text ob_tpm_last_error() returns. */
_printf_(2, 3) void ob_tpm_set_error(ObTpm *t, const char *fmt, ...);

/* The TPM's own response code with parameter/handle/session numbers masked off. */
uint32_t ob_tpm_rc_code(TSS2_RC rc);

/* Does the TPM ask to be asked again (RETRY, YIELDED, TESTING)? */
bool ob_tpm_rc_retryable(TSS2_RC rc);

/* rc as a negative errno (the one place this happens), the text recorded ("what: ..."). */
int ob_tpm_error(ObTpm *t, TSS2_RC rc, const char *what);

/* Run an ESAPI call, retrying a bounded number of times when the TPM says so. */
#define TPM_CALL(rc, call)                                                                         \
        do {                                                                                       \
                for (int _i = 0; _i < MAX_RETRIES; _i++) {                                         \
                        (rc) = (call);                                                             \
                        if (!ob_tpm_rc_retryable(rc))                                              \
                                break;                                                             \
                }                                                                                  \
        } while (0)

/* TPM2_GetCapability(TPM2_CAP_TPM_PROPERTIES) of the n (1..32) properties from first
 * (tpm/tpm-info.c): values[i] is property first + i, bit i of *ret_found set when the TPM
 * reported it (a TPM leaves out what it does not implement); values not reported are left as
 * they were. 0, or the TPM error (what names the question). */
int ob_tpm_properties(ObTpm *t, uint32_t first, uint32_t n, const char *what, uint32_t *values,
                      uint32_t *ret_found);

/* The SRK as an ESYS_TR in *ret, judged (an ECC P-256 storage key, else -EEXIST): 0 or negative
 * errno (-ENOENT: none at the handle). Give it back with ob_tpm_srk_put(). */
int ob_tpm_srk_get(ObTpm *t, ESYS_TR *ret);

/* Done with what ob_tpm_srk_get() returned: close a persistent SRK's ESYS_TR; the transient SRK
 * stays (it is the context's until persisted or ob_tpm_close()). *srk becomes ESYS_TR_NONE. */
void ob_tpm_srk_put(ObTpm *t, ESYS_TR *srk);

/* "handle:0x81000002" names a persistent key (a vendor's); anything else is a key file.
 * Returns 1 and the handle, 0 for a file, -EINVAL for a malformed or out-of-range handle. */
int ob_tpm_path_handle(ObTpm *t, const char *path, uint32_t *ret);
