/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device's identity and key (lib/onboard-key.c), for the onboarding machine's other
 * modules. Not an API.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "onboard.h"

const char *ob_onboard_hardware_token(ObOnboard *ob);
int ob_onboard_expand(ObOnboard *ob, const char *tmpl, char **ret);
/* The same; a template that cannot be expanded fails for good with code, naming key. */
int ob_onboard_expand_or_fail(ObOnboard *ob, const char *tmpl, const char *key, const char *code,
                              int64_t now, char **ret);
/* Make sure the slot's device key exists and is usable; *ret_pub gets its public key. */
int ob_onboard_ensure_key(ObOnboard *ob, int64_t now, EVP_PKEY **ret_pub);
bool ob_onboard_key_error_is_local_trouble(int r);
/* The CSR's signer (lib/csr.h): the slot's device key through the key provider. */
int ob_onboard_csr_sign(void *userdata, const uint8_t *digest, size_t digest_len, uint8_t **ret_sig,
                        size_t *ret_sig_len);
