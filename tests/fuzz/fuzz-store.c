/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the state file parser (lib/store.c, ob_store_parse): any bytes as one
 * state file image, as ob_store_load() reads it from disk. An accepted image must give a JSON
 * object and a reason-free result; a refused one a non-empty, NUL-terminated reason.
 * Seeds: tests/fuzz/corpus/store/.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_object *o = NULL;
        uint64_t gen = 0;
        char reason[160];

        memset(reason, 0, sizeof(reason));
        int r = ob_store_parse((const char *)data, size, &o, &gen, reason, sizeof(reason));
        if (r == 0) {
                FUZZ_ASSERT(json_object_is_type(o, json_type_object));
                json_object_put(o);
        } else {
                FUZZ_ASSERT(r == -EBADMSG || r == -EPROTONOSUPPORT || r == -ENOMEM);
                FUZZ_ASSERT(!o);
                FUZZ_ASSERT(reason[0] != 0 || r == -ENOMEM);
                FUZZ_ASSERT(memchr(reason, 0, sizeof(reason)));
        }
        return 0;
}
