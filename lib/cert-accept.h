/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent checks of a certificate the cloud issued for it before it commits it, at
 * onboarding and at every rotation (docs/security.md, "What is checked of an issued
 * certificate"). A certificate is accepted only when:
 *   - it parses, and the certificateId of the reply is the SHA-256 of its DER (AWS's id);
 *   - it carries our public key (the key made for this slot, or the one the reply came with);
 *   - it is an end-entity certificate: no basicConstraints with CA:TRUE;
 *   - a keyUsage, if present, has digitalSignature; an extendedKeyUsage, if present, has
 *     clientAuth (or anyExtendedKeyUsage): what TLS client authentication needs;
 *   - it has not expired, and its notBefore is at most max_skew_s ahead of now (clock.max_skew:
 *     AWS dates notBefore at issue, so more means this device's clock is behind).
 * Deliberately not checked: the subject (AWS IoT issues "CN=AWS IoT Certificate" whatever the
 * CSR asks for, and an account's certificate provider may write any subject), and the issuer
 * and signature (the device holds no trust anchor for the CA that signs for IoT Core; the
 * connection with the new certificate before the commit is what proves IoT Core accepts it).
 */
#pragma once

#include <stdint.h>

#include <openssl/evp.h>

typedef struct ObCertVerdict {
        const char *code; /* refused: the error code ("bad-reply", "certificate-key-mismatch",
                             "certificate-expired", "certificate-not-yet-valid",
                             "certificate-unfit"); NULL when accepted */
        char text[240];   /* refused: the sentence for last_error */
        int64_t not_before, not_after; /* accepted: the validity, Unix seconds */
} ObCertVerdict;

/*
 * Judge the issued certificate pem (its first certificate) for our key at now_s, with cert_id
 * the certificateId the reply named and max_skew_s the allowance for a notBefore ahead of now_s. 0
 * accepted; refused: -EBADMSG (unparsable, or the id is not its SHA-256), -EKEYREJECTED (not our
 * key, a CA, unfit for TLS client authentication, not valid yet), -EKEYEXPIRED (expired), with
 * ret->code and ret->text; -ENOMEM.
 */
int ob_cert_accept(const char *pem, EVP_PKEY *our_key, const char *cert_id, int64_t now_s,
                   int64_t max_skew_s, ObCertVerdict *ret);
