# SPDX-License-Identifier: Apache-2.0
"""The HTTP side of api-server.py: routes (as in the botocore model), the SigV4 form check, AWS's
error shape (status, `x-amzn-ErrorType`, `{"message": ...}`), one request at a time against the
emulator (api_handlers.py, api_ops.py)."""
import calendar
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import api_handlers
from api_ops import ApiError, Emulator

# operation, method, URI (botocore model iot/2015-05-28: "http": {"method", "requestUri"})
ROUTES = [
    ("GetRegistrationCode", "GET", "/registrationcode"),
    ("RegisterCACertificate", "POST", "/cacertificate"),
    ("UpdateCACertificate", "PUT", "/cacertificate/{caCertificateId}"),
    ("DescribeCACertificate", "GET", "/cacertificate/{caCertificateId}"),
    ("DeleteCACertificate", "DELETE", "/cacertificate/{caCertificateId}"),
    ("ListCACertificates", "GET", "/cacertificates"),
    ("RegisterCertificate", "POST", "/certificate/register"),
    ("RegisterCertificateWithoutCA", "POST", "/certificate/register-no-ca"),
    ("UpdateCertificate", "PUT", "/certificates/{certificateId}"),
    ("DescribeCertificate", "GET", "/certificates/{certificateId}"),
    ("DeleteCertificate", "DELETE", "/certificates/{certificateId}"),
    ("ListCertificates", "GET", "/certificates"),
    ("ListCertificatesByCA", "GET", "/certificates-by-ca/{caCertificateId}"),
    ("CreateCertificateFromCsr", "POST", "/certificates"),
    ("CreateKeysAndCertificate", "POST", "/keys-and-certificate"),
    ("CreateThing", "POST", "/things/{thingName}"),
    ("DescribeThing", "GET", "/things/{thingName}"),
    ("DeleteThing", "DELETE", "/things/{thingName}"),
    ("ListThings", "GET", "/things"),
    ("AttachThingPrincipal", "PUT", "/things/{thingName}/principals"),
    ("DetachThingPrincipal", "DELETE", "/things/{thingName}/principals"),
    ("ListThingPrincipals", "GET", "/things/{thingName}/principals"),
    ("ListPrincipalThings", "GET", "/principals/things"),
    ("CreatePolicy", "POST", "/policies/{policyName}"),
    ("GetPolicy", "GET", "/policies/{policyName}"),
    ("DeletePolicy", "DELETE", "/policies/{policyName}"),
    ("ListPolicies", "GET", "/policies"),
    ("AttachPolicy", "PUT", "/target-policies/{policyName}"),
    ("DetachPolicy", "POST", "/target-policies/{policyName}"),
    ("AttachPrincipalPolicy", "PUT", "/principal-policies/{policyName}"),
    ("ListAttachedPolicies", "POST", "/attached-policies/{target}"),
    ("CreateProvisioningTemplate", "POST", "/provisioning-templates"),
    ("DescribeProvisioningTemplate", "GET", "/provisioning-templates/{templateName}"),
    ("ListProvisioningTemplates", "GET", "/provisioning-templates"),
    ("UpdateProvisioningTemplate", "PATCH", "/provisioning-templates/{templateName}"),
    ("DeleteProvisioningTemplate", "DELETE", "/provisioning-templates/{templateName}"),
    ("CreateProvisioningClaim", "POST", "/provisioning-templates/{templateName}/provisioning-claim"),
    ("DescribeEndpoint", "GET", "/endpoint"),
    ("CreateJob", "PUT", "/jobs/{jobId}"),
    ("DescribeJob", "GET", "/jobs/{jobId}"),
    ("CancelJob", "PUT", "/jobs/{jobId}/cancel"),
    ("ListJobExecutionsForJob", "GET", "/jobs/{jobId}/things"),
    ("DescribeJobExecution", "GET", "/things/{thingName}/jobs/{jobId}"),
]


def compile_routes():
    out = []
    for op, method, uri in ROUTES:
        rx = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(uri))
        out.append((method, re.compile("^" + rx + "$"), op, getattr(api_handlers, "op_" + op)))
    return out


RE_AUTH = re.compile(r"^AWS4-HMAC-SHA256 (.*)$")
RE_DATE = re.compile(r"^\d{8}T\d{6}Z$")
MAX_SKEW = 15 * 60


def auth_error(h, region, now):
    """None, or (exception name, message) for a request that AWS would refuse before the
    operation: the form of SigV4 (the secret is not known here, so the signature is not)."""
    a = h.get("authorization")
    if not a:
        return "MissingAuthenticationTokenException", "Missing Authentication Token"
    m = RE_AUTH.match(a)
    if not m:
        return ("IncompleteSignatureException",
                "Authorization header requires the AWS4-HMAC-SHA256 algorithm")
    parts = dict(p.strip().partition("=")[::2] for p in m.group(1).split(","))
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not parts.get(k)]
    if missing:
        return ("IncompleteSignatureException",
                " ".join("Authorization header requires '%s' parameter." % k for k in missing))
    date = h.get("x-amz-date")
    if not date:
        return ("IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header.")
    if not RE_DATE.match(date):
        return "IncompleteSignatureException", "X-Amz-Date must be in the ISO 8601 basic format"
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or not scope[0]:
        return ("IncompleteSignatureException",
                "Credential must have exactly 5 slash-delimited elements, e.g. "
                "keyid/date/region/service/term")
    if scope[4] != "aws4_request":
        return ("InvalidSignatureException",
                "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'."
                % scope[4])
    if scope[3] != "execute-api":
        return ("InvalidSignatureException",
                "Credential should be scoped to correct service: 'execute-api'.")
    if scope[2] != region:
        return ("InvalidSignatureException",
                "Credential should be scoped to a valid region, not '%s'." % scope[2])
    if scope[1] != date[:8]:
        return ("InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                "from HTTP: '%s' != '%s'" % (scope[1], date[:8]))
    signed = parts["SignedHeaders"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return ("InvalidSignatureException",
                "'Host' and 'X-Amz-Date' must be SignedHeaders in the AWS Authorization.")
    if not re.match(r"^[0-9a-f]{64}$", parts["Signature"]):
        return "IncompleteSignatureException", "Signature must be 64 lower-case hex characters"
    t = calendar.timegm(time.strptime(date, "%Y%m%dT%H%M%SZ"))
    if abs(t - now) > MAX_SKEW:
        return ("InvalidSignatureException",
                "Signature expired: %s is now earlier or later than 15 minutes from %s"
                % (date, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))))
    return None


class Request:
    def __init__(self, path, query, body, headers):
        self.path, self.query, self.body, self.headers = path, query, body, headers


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ob-emulator-api"
    sys_version = ""

    def log_message(self, fmt, *args):  # the log line is written in respond()
        pass

    def respond(self, status, obj=None, error=None, op="-"):
        body = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error:
            self.send_header("x-amzn-ErrorType", error + ":")
        self.end_headers()
        self.wfile.write(body)
        # never the body: it can hold private keys
        sys.stderr.write("%s %s %s %s -> %d%s\n" % (
            time.strftime("%H:%M:%S"), self.command, self.path.split("?")[0], op, status,
            " " + error if error else ""))
        sys.stderr.flush()

    def fail(self, status, code, message, op="-", **fields):
        self.respond(status, dict({"message": message}, **fields), error=code, op=op)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        emu = self.server.emu
        url = urllib.parse.urlsplit(self.path)
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        for method, rx, op, fn in self.server.routes:
            m = rx.match(url.path)
            if m and method == self.command:
                break
        else:
            return self.fail(404, "ResourceNotFoundException", "Not Found")
        try:
            region = emu.region()
        except (OSError, ValueError):
            return self.fail(503, "ServiceUnavailableException", "The emulator's registry is "
                             "not readable (is mosquitto with the plugin running?)", op)
        bad = auth_error(hdrs, region, time.time())
        if bad:
            return self.fail(403, bad[0], bad[1], op)
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return self.fail(400, "SerializationException", "The request body is not a JSON "
                             "object: %s" % e, op)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        path = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
        try:
            with self.server.lock:
                out = fn(emu, Request(path, q, body, hdrs))
        except ApiError as e:
            return self.fail(e.status, e.code, e.message, op, **e.fields)
        except Exception as e:  # a bug here must not look like AWS's answer
            import traceback
            traceback.print_exc()
            return self.fail(500, "InternalFailureException", "emulator error: %r" % e, op)
        self.respond(200, out if out is not None else {}, op=op)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any



def serve(sock, a):
    """Serve HTTPS on the listening socket `sock` with api-server.py's options `a`."""
    import ssl
    mqtt = None
    if a.mqtt_port:
        mqtt = {"host": a.mqtt_host, "port": a.mqtt_port, "ca": a.mqtt_ca, "cert": a.mqtt_cert,
                "key": a.mqtt_key}
    srv = ThreadingHTTPServer(sock.getsockname(), Handler, bind_and_activate=False)
    srv.socket.close()
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    # the handshake happens in the connection's thread, so a silent client blocks no one
    srv.socket = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
    srv.emu = Emulator(a.state, a.endpoint_address, a.lambda_dir, a.issuer_cert, mqtt)
    srv.routes, srv.lock = compile_routes(), threading.Lock()
    sys.stderr.write("api-server: https://%s:%d/ (state %s)\n" % (
        srv.socket.getsockname()[0], srv.socket.getsockname()[1], a.state))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
