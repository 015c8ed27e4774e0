/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the emulator's provisioning-template engine (tests/emulator/template.c).
 * The input is JSON shaped like what the emulator combines, {"body": template object or string,
 * "parameters": {...}}; anything else is taken as the template body with a fixed set of
 * parameters. A run either succeeds with a device configuration or fails with a message.
 * Seeds: tests/fuzz/corpus/emu-template/ (tests/unit/test-emu-template.c).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "template.h"

static json_object *default_params(void)
{
        json_object *p = json_object_new_object();
        FUZZ_ASSERT(p);
        json_object_object_add(p, "SerialNumber", json_object_new_string("42"));
        json_object_object_add(p, "AWS::IoT::Certificate::Id", json_object_new_string("abc"));
        json_object_object_add(p, "AWS::IoT::Certificate::CommonName",
                               json_object_new_string("gw-42"));
        return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_tokener *tok;
        json_object *in, *body, *params, *tmpl;
        ObEmuTemplateResult r;
        char *err = NULL;

        if (size > 2 * OB_EMU_TEMPLATE_MAX_BODY || !(tok = json_tokener_new()))
                return 0;
        in = json_tokener_parse_ex(tok, (const char *)data, (int)size);
        json_tokener_free(tok);
        if (!in)
                return 0;
        if (json_object_object_get_ex(in, "body", &body) &&
            json_object_object_get_ex(in, "parameters", &params) &&
            json_object_is_type(params, json_type_object)) {
                json_object_get(params);
        } else {
                body = in;
                params = default_params();
        }

        tmpl = ob_emu_template_parse(body);
        if (tmpl) {
                memset(&r, 0, sizeof(r));
                int k = ob_emu_template_run(tmpl, params, &r, &err);
                if (k == 0) {
                        FUZZ_ASSERT(!err);
                        FUZZ_ASSERT(json_object_is_type(r.device_configuration, json_type_object));
                        FUZZ_ASSERT(r.n_policies <= OB_EMU_TEMPLATE_MAX_POLICIES);
                } else {
                        FUZZ_ASSERT(k == -EINVAL || k == -ENOMEM);
                        FUZZ_ASSERT(err || k == -ENOMEM);
                }
                ob_emu_template_result_done(&r);
                free(err);
                json_object_put(tmpl);
        }
        json_object_put(params);
        json_object_put(in);
        return 0;
}
