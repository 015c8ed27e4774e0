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
 * What an issued certificate looks like (AWS's profile by default, docs/emulator.md):
 * notBefore = `now`, notAfter = `not_after` (seconds since the epoch, 64-bit: 9999-12-31 works
 * whatever time_t is; UTCTime up to 2049, GeneralizedTime after, RFC 5280 4.1.2.5), subject
 * `subject` in OpenSSL's "/CN=x/O=y" form or NULL (the CSR's subject; for emulator-made keys
 * CN=AWS IoT Certificate).
 */
typedef struct ObEmuIssue {
        int64_t now;
        int64_t not_after;
        int64_t not_before; /* 0: now (AWS's: the time of issue) */
        const char *subject;
} ObEmuIssue;

#define OB_EMU_AWS_NOT_AFTER "2049-12-31T23:59:59Z"
#define OB_EMU_AWS_SUBJECT   "/CN=AWS IoT Certificate"

/* "YYYY-MM-DDTHH:MM:SSZ" (years 1950-9999) -> seconds since the epoch. 0 or -EINVAL. */
int ob_emu_pki_parse_time(const char *s, int64_t *ret);

/* Set `t` to `secs` since the epoch without time_t (UTCTime for 1950-2049, else
 * GeneralizedTime). 0 or -EINVAL (before 1950 or after 9999). */
int ob_emu_pki_set_time(ASN1_TIME *t, int64_t secs);

/* Is "/CN=x/O=y" a subject OpenSSL can build? */
bool ob_emu_pki_subject_valid(const char *subject);

/*
 * Verify a PEM CSR (self-signature; RSA >= 2048 or EC P-256/P-384/P-521) and issue a
 * certificate for its key signed by issuer as `p` says. Returns 0, -EBADMSG (unparsable/bad
 * signature), -EINVAL (weak key), -ERANGE (dates of `p` unusable), -ENOMEM or -EIO.
 */
int ob_emu_pki_sign_csr(const char *csr_pem, X509 *issuer, EVP_PKEY *issuer_key,
                        const ObEmuIssue *p, X509 **ret);

/* Make a key ("RSA" = 2048 bits, "EC" = P-256) and a certificate for it signed by issuer as `p`
 * says. The key is returned as PEM, RSA in PKCS#1 as AWS does, EC in PKCS#8 (malloc'd, caller
 * wipes and frees). */
int ob_emu_pki_make_key_and_cert(const char *key_type, X509 *issuer, EVP_PKEY *issuer_key,
                                 const ObEmuIssue *p, X509 **ret_cert, char **ret_key_pem);

/* Object with the AWS::IoT::Certificate::{CommonName,Country,Organization,OrganizationalUnit,
 * DistinguishedNameQualifier,StateName,SerialNumber} fields present in the subject. */
json_object *ob_emu_pki_subject_params(X509 *cert);

/* Random lower-case hex string of 2*n_bytes chars (malloc'd) or NULL. */
char *ob_emu_pki_random_hex(size_t n_bytes);
