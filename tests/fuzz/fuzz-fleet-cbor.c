/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the fleet provisioning reply parsers (lib/fleet-proto.c), CBOR topics:
 * CreateCertificateFromCsr / CreateKeysAndCertificate accepted replies (with and without a
 * private key expected), RegisterThing accepted replies and rejected replies.
 * Seeds: tests/fuzz/corpus/fleet-cbor/.
 */
#include "config.h"

#include "fuzz-fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_fleet(OB_FLEET_CBOR, data, size);
        return 0;
}
