/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "cert-accept.h"
#include "isotime.h"
#include "macro.h"
#include "x509.h"

_printf_(4, 5) static int refuse(ObCertVerdict *v, int r, const char *code, const char *fmt, ...)
{
        va_list ap;

        v->code = code;
        va_start(ap, fmt);
        vsnprintf(v->text, sizeof(v->text), fmt, ap);
        va_end(ap);
        return r;
}

/* Without time_t: a 2049 or 9999 date reads right on 32-bit time_t too (lib/isotime.h). */
static const char *iso(int64_t s, char buf[static 24])
{
        if (!ob_isotime_format(s, buf, 24))
                snprintf(buf, 24, "%lld", (long long)s);
        return buf;
}

/* Fit for a TLS client: an end entity whose key usages (when it states any) allow it. */
static int judge_usage(X509 *x, const char *id, ObCertVerdict *v)
{
        uint32_t flags = X509_get_extension_flags(x); /* also caches the extensions */

        if (flags & EXFLAG_INVALID)
                return refuse(v, -EKEYREJECTED, "certificate-unfit",
                              "the certificate %.12s... has malformed extensions", id);
        if (flags & EXFLAG_CA)
                return refuse(v, -EKEYREJECTED, "certificate-unfit",
                              "the certificate %.12s... is a CA certificate (basicConstraints "
                              "CA:TRUE), not a device certificate",
                              id);
        if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
                return refuse(v, -EKEYREJECTED, "certificate-unfit",
                              "the certificate %.12s... has a keyUsage without digitalSignature: "
                              "it cannot authenticate a TLS client",
                              id);
        if ((flags & EXFLAG_XKUSAGE) &&
            !(X509_get_extended_key_usage(x) & (XKU_SSL_CLIENT | XKU_ANYEKU)))
                return refuse(v, -EKEYREJECTED, "certificate-unfit",
                              "the certificate %.12s... has an extendedKeyUsage without "
                              "clientAuth: it cannot authenticate a TLS client",
                              id);
        return 0;
}

int ob_cert_accept(const char *pem, EVP_PKEY *our_key, const char *cert_id, int64_t now_s,
                   int64_t max_skew_s, ObCertVerdict *ret)
{
        X509 *x = NULL;
        char fp[OB_X509_FINGERPRINT_HEX_LEN + 1], when[24];
        const char *id = cert_id ? cert_id : "?";
        int64_t nb = 0, na = 0;
        int r;

        *ret = (ObCertVerdict){0};
        if (!pem || ob_x509_from_pem(pem, strlen(pem), &x) < 0)
                return refuse(ret, -EBADMSG, "bad-reply",
                              "the certificate in the reply cannot be parsed");
        r = ob_x509_fingerprint_hex(x, fp, sizeof(fp));
        if (r >= 0 && (!cert_id || strcmp(fp, cert_id) != 0))
                r = -EBADMSG;
        if (r >= 0)
                r = ob_x509_validity(x, &nb, &na);
        if (r < 0) {
                r = refuse(ret, -EBADMSG, "bad-reply",
                           "certificateId %.12s... is not the SHA-256 of the certificate", id);
                goto out;
        }
        if (!our_key || ob_x509_matches_key(x, our_key) < 0) {
                r = refuse(ret, -EKEYREJECTED, "certificate-key-mismatch",
                           "the certificate %.12s... is not for our key", id);
                goto out;
        }
        r = judge_usage(x, id, ret);
        if (r < 0)
                goto out;
        if (na < now_s) {
                r = refuse(ret, -EKEYEXPIRED, "certificate-expired",
                           "the certificate %.12s... has already expired (notAfter %s)", id,
                           iso(na, when));
                goto out;
        }
        if (nb > now_s + max_skew_s) {
                r = refuse(ret, -EKEYREJECTED, "certificate-not-yet-valid",
                           "the certificate %.12s... is valid only from %s, %lld s ahead of this "
                           "device's clock (clock.max_skew allows %lld s): is the clock behind?",
                           id, iso(nb, when), (long long)(nb - now_s), (long long)max_skew_s);
                goto out;
        }
        ret->not_before = nb;
        ret->not_after = na;
        r = 0;
out:
        X509_free(x);
        return r;
}
