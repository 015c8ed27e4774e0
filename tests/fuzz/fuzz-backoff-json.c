/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the persisted backoff state (lib/backoff.c, ob_backoff_from_json): any
 * bytes as the JSON the agent keeps in its state file. An accepted state must serialise and
 * read back identically, and the scheduling helpers must cope with whatever values it holds.
 * Seeds: tests/fuzz/corpus/backoff-json/ (tests/unit/test-backoff.c).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "backoff.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_tokener *tok = json_tokener_new();
        json_object *o, *back;
        ObBackoff b, b2;

        if (!tok || size > 64 * 1024) {
                json_tokener_free(tok);
                return 0;
        }
        o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
        json_tokener_free(tok);
        if (!o)
                return 0;

        memset(&b, 0xa5, sizeof(b));
        int r = ob_backoff_from_json(o, &b);
        json_object_put(o);
        if (r < 0) {
                FUZZ_ASSERT(r == -EBADMSG);
                return 0;
        }
        back = ob_backoff_to_json(&b);
        FUZZ_ASSERT(back);
        FUZZ_ASSERT(ob_backoff_from_json(back, &b2) == 0);
        json_object_put(back);
        FUZZ_ASSERT(b.attempts == b2.attempts && b.last_class == b2.last_class &&
                    b.next_ms == b2.next_ms && b.last_connect_ms == b2.last_connect_ms &&
                    b.success_since_ms == b2.success_since_ms);

        /* what the agent does next with a loaded state at a realistic now (2023-11-14): no
         * overflow whatever the file held (UBSan watches) */
        const int64_t now = 1700000000000;
        ObBackoffPolicy p = {.stable_ms = OB_BACKOFF_STABLE_MS};
        for (int c = 0; c < _OB_ERR_CLASS_MAX; c++)
                p.cls[c] = (ObBackoffClassPolicy){.base_ms = 1000, .cap_ms = 3600 * 1000};
        uint64_t seed = 1;
        ObRandom rnd = {ob_random_splitmix64, &seed};
        (void)ob_backoff_next_connect_ms(&b);
        b2 = b;
        (void)ob_backoff_failure(&b, &p, b.last_class, now, &rnd);
        (void)ob_backoff_next_connect_ms(&b);
        ob_backoff_success(&b2, now);
        (void)ob_backoff_next_connect_ms(&b2);
        return 0;
}
