/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the CBOR decoder (lib/cbor.c): any bytes as one CBOR item. A decoded
 * item must encode, and decoding that encoding and encoding again must give the same bytes
 * (compared as bytes, so NaN and -0.0 cannot make equal values look different).
 * Seeds: tests/fuzz/corpus/cbor/ (RFC 8949 appendix A vectors from tests/unit/test-cbor.c).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cbor.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_object *o = NULL, *o2 = NULL;
        uint8_t *enc = NULL, *enc2 = NULL;
        size_t n = 0, n2 = 0;

        int r = ob_cbor_decode(data, size, &o);
        if (r < 0) {
                FUZZ_ASSERT(!o);
                FUZZ_ASSERT(r == -EBADMSG || r == -ENOTSUP || r == -ELOOP || r == -ERANGE ||
                            r == -ENOMEM || r == -EMSGSIZE);
                return 0;
        }
        FUZZ_ASSERT(ob_cbor_encode(o, &enc, &n) == 0);
        FUZZ_ASSERT(ob_cbor_decode(enc, n, &o2) == 0);
        FUZZ_ASSERT(ob_cbor_encode(o2, &enc2, &n2) == 0);
        FUZZ_ASSERT(n == n2 && memcmp(enc, enc2, n) == 0);
        free(enc);
        free(enc2);
        json_object_put(o);
        json_object_put(o2);
        return 0;
}
