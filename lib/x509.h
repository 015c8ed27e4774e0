/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks on the certificates the cloud returns (RegisterThing / CreateCertificateFromCsr, a
 * static certificate): parse, does it carry our key, when is it valid, its AWS certificate id,
 * does it chain to a trusted CA. libcrypto only; the caller passes the time (no clock reads).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fsops.h"

/* Larger PEM input (certificate, chain) is refused as malformed. */
#define OB_X509_MAX_PEM (256 * 1024)
/* At most this many certificates in chain_pem, and in a CA file. */
#define OB_X509_MAX_CHAIN   16
#define OB_X509_MAX_ANCHORS 1024
/* Length of ob_x509_fingerprint_hex()'s output, without the NUL. */
#define OB_X509_FINGERPRINT_HEX_LEN 64

/*
 * Parse the first PEM certificate in pem (other PEM blocks before it are skipped). *ret is the
 * caller's (X509_free). -EBADMSG no certificate, or a malformed or oversized one (the reason
 * is logged at debug level).
 */
int ob_x509_from_pem(const char *pem, size_t len, X509 **ret);

/* The first certificate of a PEM file (at most OB_X509_MAX_PEM): -EBADMSG, or the errno of
 * reading (ob_fs_read_file). */
int ob_x509_from_file(const char *path, X509 **ret);
/* The same through ops (NULL: the real filesystem). */
int ob_x509_from_file_with(const ObFsOps *ops, const char *path, X509 **ret);

/* 0 when the certificate's public key equals pub (EVP_PKEY_eq), -EKEYREJECTED otherwise. */
int ob_x509_matches_key(X509 *cert, EVP_PKEY *pub);

/* notBefore and notAfter as Unix seconds (either pointer may be NULL). -EBADMSG bad time. */
int ob_x509_validity(X509 *cert, int64_t *ret_not_before, int64_t *ret_not_after);

/*
 * SHA-256 of the DER encoding as 64 lower-case hex digits and a NUL: the certificate id AWS IoT
 * uses. -ENOBUFS when size < 65.
 */
int ob_x509_fingerprint_hex(X509 *cert, char *buf, size_t size);

/*
 * Verify cert against the trust anchors in the PEM file ca_file, with the certificates in
 * chain_pem (may be NULL) as untrusted intermediates, at time at_s (Unix seconds; 0 = do not
 * check validity periods). An anchor need not be self-signed: an intermediate CA in ca_file
 * is trusted as such (a JITP CA registered with AWS may be one). No purpose or policy checks.
 * 0 verified; -EKEYREJECTED the chain does not verify, with the reason (OpenSSL's text, depth
 * and subject) in reason; -EBADMSG chain_pem or ca_file holds something that is not a
 * certificate, or no certificate, or too many; the errno of opening ca_file (-ENOENT,
 * -EACCES). reason is set on every failure (may be NULL with reason_size 0).
 */
int ob_x509_verify(X509 *cert, const char *chain_pem, const char *ca_file, int64_t at_s,
                   char *reason, size_t reason_size);

/*
 * Verify cert against a CA chain alone (a factory's --chain file, chain_pem: 1..OB_X509_MAX_CHAIN
 * PEM certificates): the chain's top (self-issued certificates, and those whose issuer is not in
 * the chain) is trusted, the rest are intermediates, so every link of the chain is checked, and
 * the top need not be a root (a JITP CA registered with AWS may be an intermediate). at_s as in
 * ob_x509_verify(). A copy of cert in the chain is ignored. 0 verified; -EKEYREJECTED with the
 * reason; -EBADMSG chain_pem holds something that is not a certificate, no certificate other than
 * cert, or too many.
 */
int ob_x509_verify_chain(X509 *cert, const char *chain_pem, int64_t at_s, char *reason,
                         size_t reason_size);

/*
 * The subject's common name as a malloc'ed UTF-8 string (the last CN when there are several).
 * -ENOENT no CN; -EBADMSG a CN that is not valid text (embedded NUL).
 */
int ob_x509_subject_cn(X509 *cert, char **ret);

/*
 * Is now_s a plausible wall clock? True when it is not before the build date floor
 * (OB_BUILD_EPOCH from configure): a device without an RTC boots in 1970 and must not judge a
 * certificate's validity, nor reject one, by that clock.
 */
bool ob_clock_plausible(int64_t now_s, int64_t build_epoch_s);
