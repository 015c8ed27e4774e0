/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The body of fuzz-fleet-json.c and fuzz-fleet-cbor.c: one fleet provisioning reply, in one
 * format, through every reply parser (a device subscribed to the accepted and rejected topics
 * can receive anything on either). Invariants: an error leaves the result untouched, a success
 * returns the documented shapes.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fleet-proto.h"
#include "fuzz.h"

static bool untouched(const void *p, size_t n)
{
        const uint8_t *b = p;
        for (size_t i = 0; i < n; i++)
                if (b[i] != 0xa5)
                        return false;
        return true;
}

static bool lower_hex64(const char *s)
{
        if (!s || strlen(s) != 64)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

static void fuzz_fleet(ObFleetFormat fmt, const uint8_t *data, size_t size)
{
        for (int keys = 0; keys < 2; keys++) {
                ObFleetCertReply c;
                memset(&c, 0xa5, sizeof(c));
                int r = ob_fleet_parse_cert_reply(fmt, data, size, keys, &c);
                if (r < 0) {
                        FUZZ_ASSERT(r == -EBADMSG || r == -EPROTO || r == -EMSGSIZE ||
                                    r == -ENOMEM);
                        FUZZ_ASSERT(untouched(&c, sizeof(c)));
                        continue;
                }
                FUZZ_ASSERT(lower_hex64(c.certificate_id));
                FUZZ_ASSERT(c.certificate_pem && c.ownership_token && c.ownership_token[0]);
                FUZZ_ASSERT(keys ? c.private_key != NULL : c.private_key == NULL);
                ob_fleet_cert_reply_clear(&c);
        }

        ObFleetRegisterReply reg;
        memset(&reg, 0xa5, sizeof(reg));
        int r = ob_fleet_parse_register_reply(fmt, data, size, &reg);
        if (r == 0) {
                for (size_t i = 0; reg.device_configuration && reg.device_configuration[i]; i += 2)
                        FUZZ_ASSERT(reg.device_configuration[i + 1] != NULL);
                ob_fleet_register_reply_clear(&reg);
        } else {
                FUZZ_ASSERT(untouched(&reg, sizeof(reg)));
        }

        ObFleetError e;
        memset(&e, 0xa5, sizeof(e));
        r = ob_fleet_parse_rejected(fmt, data, size, &e);
        if (r == 0) {
                FUZZ_ASSERT(e.status_code >= 100 && e.status_code <= 599);
                FUZZ_ASSERT(memchr(e.error_code, 0, sizeof(e.error_code)));
                FUZZ_ASSERT(memchr(e.error_message, 0, sizeof(e.error_message)));
                FUZZ_ASSERT(e.err_class == ob_fleet_status_class(e.status_code));
        } else {
                FUZZ_ASSERT(untouched(&e, sizeof(e)));
        }
}
