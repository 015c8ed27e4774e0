/* SPDX-License-Identifier: Apache-2.0 */
/* lib/provider-compat: tpm2-openssl < 1.2.0 with a 32-bit long cannot use persistent handles. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "provider-compat.h"

static void test_tpm2_handle_bug(void **state)
{
        (void)state;
        assert_true(ob_tpm2_provider_handle_bug("1.1.1", 32)); /* Debian 12 armhf */
        assert_true(ob_tpm2_provider_handle_bug("1.0.0", 32));
        assert_true(ob_tpm2_provider_handle_bug("0.9", 32));
        assert_false(ob_tpm2_provider_handle_bug("1.2.0", 32)); /* fixed */
        assert_false(ob_tpm2_provider_handle_bug("1.3.0", 32));
        assert_false(ob_tpm2_provider_handle_bug("2.0.0", 32));
        assert_false(ob_tpm2_provider_handle_bug("1.1.1", 64)); /* amd64, arm64: long is 64 */
        assert_false(ob_tpm2_provider_handle_bug(NULL, 32));
        assert_false(ob_tpm2_provider_handle_bug("unknown", 32));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tpm2_handle_bug),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
