/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the configuration parser: any bytes as one config file over the
 * defaults, then the cross-key checks, then the outputs (show, diagnostics) that agentctl prints.
 * Seeds: tests/fuzz/corpus/config/.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config-file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ObConfigDiags d = {0};
        ObConfig *c = ob_config_new();
        json_object *j;

        if (!c)
                return 0;
        (void)ob_config_apply_buffer(c, "fuzz.json", (const char *)data, size, &d);
        (void)ob_config_finish(c, "fuzz.json", &d);
        for (size_t i = 0; i < d.n; i++) {
                char *line = NULL;
                if (ob_config_diag_format(&d.items[i], &line) == 0)
                        free(line);
        }
        j = ob_config_diags_to_json(&d);
        json_object_put(j);
        j = ob_config_to_json(c);
        if (j)
                (void)json_object_to_json_string(j);
        json_object_put(j);
        ob_config_diags_clear(&d);
        ob_config_free(c);
        return 0;
}
