#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Make the test world's issuer CA look like the one AWS IoT signs its certificates with.

usage: aws-issuer-ca.py CERT_OUT KEY_OUT

AWS IoT's issuer name is a single OU attribute, "Amazon Web Services O=Amazon.com Inc.
L=Seattle ST=Washington C=US" (66 characters: over X.520's 64-character bound, so
`openssl req -subj` refuses it), and it signs with RSA and SHA-256 (docs/emulator.md, "Issued
certificates"). The CA is valid until 9999-12-31T23:59:59Z so that every notAfter a test may ask
for (issuedCertNotAfter) lies inside it. Debian's python3-cryptography.
"""
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

AWS_ISSUER_OU = "Amazon Web Services O=Amazon.com Inc. L=Seattle ST=Washington C=US"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: aws-issuer-ca.py CERT_OUT KEY_OUT")
    cert_out, key_out = sys.argv[1:]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, AWS_ISSUER_OU)])
    utc = datetime.timezone.utc
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime.now(utc) - datetime.timedelta(days=1))
        .not_valid_after(datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(cert_out, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


if __name__ == "__main__":
    main()
