/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the TPM says of itself (TPM2_GetCapability, TPM properties; the one reader of them,
 * ob_tpm_properties(), for tpm/tpm-srk.c's dictionary-attack state and free handles too), and
 * who made the TPM and which firmware it runs, for the fleet-health shadow (docs/shadow.md):
 * TPM2_PT_MANUFACTURER and TPM2_PT_FIRMWARE_VERSION_1/_2 in one GetCapability on the context of
 * tpm/tpm-key.c (tpm/tpm-private.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include <tss2/tss2_esys.h>

#include "tpm-key.h"
#include "tpm-private.h"

/* TPM2_PT_MANUFACTURER: four ASCII characters, big-endian in the word ("IBM\0" for swtpm,
 * "IFX\0", "NTC\0", "STM "), the TCG vendor ID registry's padding (NULs, spaces) trimmed; a
 * byte outside printable ASCII becomes '?' so that the shadow never carries control bytes. */
static void manufacturer_text(uint32_t v, char ret[5])
{
        size_t n = 0;

        for (int shift = 24; shift >= 0; shift -= 8) {
                char c = (char)((v >> shift) & 0x7f);

                if (c == 0)
                        c = ' ';
                else if (c < 0x20 || c == 0x7f || ((v >> shift) & 0x80))
                        c = '?';
                ret[n++] = c;
        }
        while (n > 0 && ret[n - 1] == ' ')
                n--;
        ret[n] = 0;
}

int ob_tpm_properties(ObTpm *t, uint32_t first, uint32_t n, const char *what, uint32_t *values,
                      uint32_t *ret_found)
{
        TPMS_CAPABILITY_DATA *cap = NULL;
        TPMI_YES_NO more;
        TSS2_RC rc;

        *ret_found = 0;
        if (n == 0 || n > 32)
                return -EINVAL;
        TPM_CALL(rc, Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                        TPM2_CAP_TPM_PROPERTIES, first, n, &more, &cap));
        if (rc != TSS2_RC_SUCCESS)
                return ob_tpm_error(t, rc, what);
        for (UINT32 i = 0; i < cap->data.tpmProperties.count; i++) {
                const TPMS_TAGGED_PROPERTY *p = &cap->data.tpmProperties.tpmProperty[i];
                if (p->property >= first && p->property - first < n) {
                        values[p->property - first] = p->value;
                        *ret_found |= 1u << (p->property - first);
                }
        }
        Esys_Free(cap);
        return 0;
}

int ob_tpm_get_info(ObTpm *t, ObTpmInfo *ret)
{
        /* TPM2_PT_MANUFACTURER (PT_FIXED + 5) .. TPM2_PT_FIRMWARE_VERSION_2 (PT_FIXED + 12) */
        uint32_t v[TPM2_PT_FIRMWARE_VERSION_2 - TPM2_PT_MANUFACTURER + 1] = {0}, found = 0;
        const uint32_t need = 1u | 1u << (TPM2_PT_FIRMWARE_VERSION_1 - TPM2_PT_MANUFACTURER) |
                              1u << (TPM2_PT_FIRMWARE_VERSION_2 - TPM2_PT_MANUFACTURER);
        int r;

        r = ob_tpm_properties(t, TPM2_PT_MANUFACTURER, OB_ELEMENTSOF(v),
                              "reading the TPM's manufacturer and firmware version", v, &found);
        if (r < 0)
                return r;
        if ((found & need) != need) {
                ob_tpm_set_error(t, "the TPM did not report its manufacturer and firmware version "
                                    "(TPM2_PT_MANUFACTURER, TPM2_PT_FIRMWARE_VERSION_1/_2)");
                return -EBADMSG;
        }
        uint32_t fw1 = v[TPM2_PT_FIRMWARE_VERSION_1 - TPM2_PT_MANUFACTURER];
        uint32_t fw2 = v[TPM2_PT_FIRMWARE_VERSION_2 - TPM2_PT_MANUFACTURER];
        manufacturer_text(v[0], ret->manufacturer);
        /* the two vendor-defined words as four 16-bit parts, most significant first: what fwupd
         * shows for a TPM (its 64-bit raw version VERSION_1 << 32 | VERSION_2, quad format);
         * tpm2_getcap prints only the raw words */
        snprintf(ret->firmware, sizeof(ret->firmware), "%u.%u.%u.%u", (unsigned)(fw1 >> 16),
                 (unsigned)(fw1 & 0xffff), (unsigned)(fw2 >> 16), (unsigned)(fw2 & 0xffff));
        return 0;
}
