/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the TSS2 PRIVATE KEY parser (lib/tss2-pem.c): the same bytes as a PEM
 * file and as bare DER. A key that parses must encode, and that encoding must parse back to
 * the same key.
 * Seeds: tests/fuzz/corpus/tss2-pem/ (the golden key of tests/unit/test-tss2-pem.c as PEM and
 * DER, and its variants).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "tss2-pem.h"

static bool same_key(const ObTss2Key *a, const ObTss2Key *b)
{
        return a->empty_auth == b->empty_auth && a->parent == b->parent &&
               a->pub_len == b->pub_len && a->priv_len == b->priv_len &&
               memcmp(a->pub, b->pub, a->pub_len) == 0 &&
               memcmp(a->priv, b->priv, a->priv_len) == 0;
}

static void round_trip(const ObTss2Key *k)
{
        static ObTss2Key k2, k3; /* 8 KiB each: keep them off the stack */
        uint8_t *der = NULL;
        char *pem = NULL;
        size_t n = 0;

        FUZZ_ASSERT(k->pub_len > 0 && k->pub_len <= OB_TSS2_PEM_MAX_BLOB);
        FUZZ_ASSERT(k->priv_len > 0 && k->priv_len <= OB_TSS2_PEM_MAX_BLOB);
        FUZZ_ASSERT(ob_tss2_key_to_der(k, &der, &n) == 0);
        FUZZ_ASSERT(ob_tss2_key_from_der(der, n, &k2) == 0);
        FUZZ_ASSERT(same_key(k, &k2));
        FUZZ_ASSERT(ob_tss2_key_to_pem(k, &pem) == 0);
        FUZZ_ASSERT(ob_tss2_key_from_pem(pem, strlen(pem), &k3) == 0);
        FUZZ_ASSERT(same_key(k, &k3));
        free(der);
        free(pem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static ObTss2Key k;
        int r;

        r = ob_tss2_key_from_pem((const char *)data, size, &k);
        FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r == 0)
                round_trip(&k);

        r = ob_tss2_key_from_der(data, size, &k);
        FUZZ_ASSERT(r == 0 || r == -EBADMSG);
        if (r == 0)
                round_trip(&k);
        return 0;
}
