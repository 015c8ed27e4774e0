/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenSSL helpers for the emulator: certificate ids (SHA-256 of the DER certificate), issuing
 * certificates from CSRs or from emulator-made keys, subject fields for JITP parameters.
 * Time is passed in (`now`, seconds since the epoch).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define OB_EMU_CERT_ID_LEN 64

/* 64 lower-case hex chars + NUL into ret (size >= 65). 0 or -EINVAL. */
int ob_emu_pki_cert_id(X509 *cert, char ret[static OB_EMU_CERT_ID_LEN + 1]);

/* Parse one PEM certificate; NULL on error. */
X509 *ob_emu_pki_cert_from_pem(const char *pem);
/* PEM text of cert (malloc'd) or NULL. */
char *ob_emu_pki_cert_to_pem(X509 *cert);

/* Does `ca` sign `cert` (issuer name + signature)? */
bool ob_emu_pki_issued_by(X509 *cert, X509 *ca);

/*
 * Verify a PEM CSR (self-signature; RSA >= 2048 or EC P-256/P-384/P-521) and issue a
 * certificate for its key signed by issuer, valid [now - 60, now + validity_s]. Returns 0,
 * -EBADMSG (unparsable/bad signature), -EINVAL (weak key), -ENOMEM or -EIO.
 */
int ob_emu_pki_sign_csr(const char *csr_pem, X509 *issuer, EVP_PKEY *issuer_key, time_t now,
                        int64_t validity_s, X509 **ret);

/* Make a key ("EC" = P-256, "RSA" = 2048 bits) and a certificate for it with subject CN=cn
 * signed by issuer. The key is returned as PKCS#8 PEM (malloc'd, caller wipes and frees). */
int ob_emu_pki_make_key_and_cert(const char *key_type, const char *cn, X509 *issuer,
                                 EVP_PKEY *issuer_key, time_t now, int64_t validity_s,
                                 X509 **ret_cert, char **ret_key_pem);

/* Object with the AWS::IoT::Certificate::{CommonName,Country,Organization,OrganizationalUnit,
 * DistinguishedNameQualifier,StateName,SerialNumber} fields present in the subject. */
json_object *ob_emu_pki_subject_params(X509 *cert);

/* Random lower-case hex string of 2*n_bytes chars (malloc'd) or NULL. */
char *ob_emu_pki_random_hex(size_t n_bytes);
