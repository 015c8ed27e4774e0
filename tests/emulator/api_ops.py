# SPDX-License-Identifier: Apache-2.0
"""The AWS IoT control-plane operations of the emulator's REST front (api-server.py).

Reads come from STATE/registry.json (replaced atomically by the plugin); every change is an inbox
command executed by the plugin on its next tick (plugin.c admin_op, admin-cmds.c), so the plugin
stays the only writer of the registry. Names, fields and errors follow the botocore model of
AWS IoT (iot/2015-05-28/service-2.json) and the AWS IoT API reference; docs/emulator-cli.md lists
what is implemented and what differs.
"""
import base64
import hashlib
import json
import os
import queue
import re
import shlex
import subprocess
import tempfile
import threading
import time
import uuid

# AWS exception name -> HTTP status (botocore model, "error": {"httpStatusCode": ...})
ERRORS = {
    "InvalidRequestException": 400, "CertificateValidationException": 400,
    "MalformedPolicyException": 400, "RegistrationCodeValidationException": 400,
    "ThrottlingException": 400, "UnauthorizedException": 401,
    "ResourceNotFoundException": 404, "CertificateStateException": 406,
    "ResourceAlreadyExistsException": 409, "DeleteConflictException": 409,
    "VersionConflictException": 409, "CertificateConflictException": 409,
    "ConflictingResourceUpdateException": 409, "LimitExceededException": 410,
    "InternalFailureException": 500, "ServiceUnavailableException": 503,
}

STATUSES = ["ACTIVE", "INACTIVE", "REVOKED", "PENDING_TRANSFER", "REGISTER_INACTIVE",
            "PENDING_ACTIVATION"]
RE_CERT_ID = re.compile(r"^(0x)?[a-fA-F0-9]{64}$")
RE_THING = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
RE_POLICY = re.compile(r"^[\w+=,.@-]{1,128}$")
RE_TEMPLATE = re.compile(r"^[0-9A-Za-z_-]{1,36}$")
RE_JOB = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
RE_LAMBDA = re.compile(r"^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]{1,64})(:[A-Za-z0-9$_-]+)?$")
MAX_POLICIES_PER_CERT = 10
CLAIM_POLICY_PREFIX = "$claim-"  # not a valid policy name at AWS: never collides, never listed


class ApiError(Exception):
    def __init__(self, code, message, **fields):
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields
        self.status = ERRORS.get(code, 403)


def need(cond, code, message, **fields):
    if not cond:
        raise ApiError(code, message, **fields)


# ------------------------------------------------------------------ X.509 through openssl(1)

def pem_blocks(text):
    return re.findall(r"-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----", text or "")


def cert_id(pem):
    b = pem_blocks(pem)
    need(b, "CertificateValidationException", "The certificate is not a PEM X.509 certificate")
    body = "".join(b[0].splitlines()[1:-1])
    try:
        der = base64.b64decode(body, validate=True)
    except ValueError:
        raise ApiError("CertificateValidationException", "The certificate PEM is not valid base64")
    return hashlib.sha256(der).hexdigest()


_info_cache = {}


def x509_info(pem):
    """subject/issuer (RFC 2253), notBefore/notAfter (epoch seconds), ca (bool); cached by id."""
    cid = cert_id(pem)
    if cid in _info_cache:
        return _info_cache[cid]
    r = subprocess.run(["openssl", "x509", "-noout", "-subject", "-issuer", "-startdate",
                        "-enddate", "-ext", "basicConstraints", "-nameopt", "RFC2253",
                        "-dateopt", "iso_8601"], input=pem_blocks(pem)[0], capture_output=True,
                       text=True)
    need(r.returncode == 0, "CertificateValidationException",
         "The certificate could not be parsed as X.509")
    info = {"ca": "CA:TRUE" in r.stdout}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        if k in ("subject", "issuer"):
            info[k] = v
        elif k in ("notBefore", "notAfter"):
            info[k] = iso_epoch(v)
    _info_cache[cid] = info
    return info


def iso_epoch(s):  # "2049-12-31 23:59:59Z" (9999 works: no time_t)
    import calendar
    return calendar.timegm(time.strptime(s.strip(), "%Y-%m-%d %H:%M:%SZ"))


def common_name(dn):
    m = re.search(r"(?:^|,)CN=((?:[^,\\]|\\.)*)", dn or "")
    return m.group(1) if m else None


def signed_by(cert_pem, ca_pem):
    """Is cert_pem signed by ca_pem (signature, names, validity; the CA as trust anchor)?"""
    with tempfile.TemporaryDirectory() as d:
        c, a = os.path.join(d, "c.pem"), os.path.join(d, "a.pem")
        open(c, "w").write(pem_blocks(cert_pem)[0] + "\n")
        open(a, "w").write(pem_blocks(ca_pem)[0] + "\n")
        r = subprocess.run(["openssl", "verify", "-partial_chain", "-no-CApath", "-CAfile", a, c],
                           capture_output=True, text=True)
        return r.returncode == 0


def public_key(private_pem):
    r = subprocess.run(["openssl", "pkey", "-pubout"], input=private_pem, capture_output=True,
                       text=True)
    return r.stdout if r.returncode == 0 else None


# ------------------------------------------------------------------ the emulator's state


class Emulator:
    def __init__(self, state, endpoint="localhost", lambda_dir=None, issuer_cert=None,
                 mqtt=None, answer_timeout=5.0):
        self.state, self.endpoint, self.lambda_dir = state, endpoint, lambda_dir
        self.issuer_pem = open(issuer_cert).read() if issuer_cert else None
        self.mqtt_opts, self.mqtt = mqtt, None
        self.answer_timeout = answer_timeout
        self.answers = queue.Queue()
        self.seq = 0

    # registry (read only here)
    def reg(self):
        with open(os.path.join(self.state, "registry.json")) as f:
            return json.load(f)

    def region(self, reg=None):
        return (reg or self.reg()).get("region", "us-east-1")

    def account(self, reg=None):
        return (reg or self.reg()).get("account", "123456789012")

    def arn(self, kind, name, reg=None):
        return "arn:aws:iot:%s:%s:%s/%s" % (self.region(reg), self.account(reg), kind, name)

    # changes: the plugin's inbox (what ob-emu-admin does)
    def send(self, cmd):
        self.seq += 1
        name = "%d-api-%d-%d" % (time.time_ns(), os.getpid(), self.seq)
        inbox, outbox = os.path.join(self.state, "inbox"), os.path.join(self.state, "outbox")
        os.makedirs(inbox, exist_ok=True)
        tmp = os.path.join(inbox, "." + name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(cmd, f)
        os.rename(tmp, os.path.join(inbox, name + ".json"))
        out = os.path.join(outbox, name + ".json")
        deadline = time.monotonic() + self.answer_timeout
        while not os.path.exists(out):
            if time.monotonic() > deadline:
                raise ApiError("ServiceUnavailableException",
                               "The emulator did not answer (is mosquitto with the plugin running?)")
            time.sleep(0.01)
        with open(out) as f:
            ans = json.load(f)
        os.unlink(out)
        if not ans.get("ok"):
            code = ans.get("errorCode") or "InvalidRequestException"
            raise ApiError(code, ans.get("message") or ans.get("error") or "refused")
        return ans

    # ------------------------------------------------------------------ lookups

    def cert(self, reg, cid):
        need(RE_CERT_ID.match(cid or ""), "InvalidRequestException",
             "certificateId must be 64 hexadecimal characters")
        c = reg.get("certificates", {}).get(cid.lower().removeprefix("0x"))
        need(c, "ResourceNotFoundException", "The certificate %s does not exist." % cid)
        return cid.lower().removeprefix("0x"), c

    def cert_of_arn(self, reg, arn):
        m = re.match(r"^arn:aws:iot:([a-z0-9-]+):(\d{12}):cert/([0-9a-fA-F]{64})$", arn or "")
        need(m, "InvalidRequestException",
             "The principal must be a certificate ARN arn:aws:iot:REGION:ACCOUNT:cert/ID "
             "(other principals are not emulated)")
        need(m.group(1) == self.region(reg) and m.group(2) == self.account(reg),
             "ResourceNotFoundException", "The certificate %s does not exist." % arn)
        return self.cert(reg, m.group(3))

    def ca(self, reg, cid):
        need(RE_CERT_ID.match(cid or ""), "InvalidRequestException",
             "caCertificateId must be 64 hexadecimal characters")
        ca = reg.get("cas", {}).get(cid.lower())
        need(ca, "ResourceNotFoundException", "The CA certificate %s does not exist." % cid)
        return cid.lower(), ca

    def template(self, reg, name, visible=True):
        need(RE_TEMPLATE.match(name or ""), "InvalidRequestException",
             "templateName must match ^[0-9A-Za-z_-]+$ (1-36 characters)")
        t = reg.get("templates", {}).get(name)
        need(t and not (visible and t.get("caCertificateId")), "ResourceNotFoundException",
             "The provisioning template %s does not exist" % name)
        return t

    def cert_mode(self, reg, c):
        ca = reg.get("cas", {}).get(c.get("caCertificateId") or "")
        if ca:
            return ca.get("mode", "DEFAULT")
        # issued by the emulator (AWS's own CA) or registered without a CA (SNI_ONLY)
        if self.issuer_pem and c.get("pem") and signed_by(c["pem"], self.issuer_pem):
            return "DEFAULT"
        return "SNI_ONLY" if self.issuer_pem else "DEFAULT"

    def hook_command(self, hook):
        """A pre-provisioning hook's Lambda ARN -> the command that stands in for the function."""
        arn = (hook or {}).get("targetArn", "")
        m = RE_LAMBDA.match(arn)
        need(m, "InvalidRequestException",
             "preProvisioningHook.targetArn must be a Lambda function ARN "
             "(arn:aws:lambda:REGION:ACCOUNT:function:NAME)")
        need(self.lambda_dir, "InvalidRequestException",
             "this emulator has no Lambda directory (api-server.py --lambda-dir)")
        return shlex.quote(os.path.join(self.lambda_dir, m.group(1)))

    # ------------------------------------------------------------------ the data plane (MQTT)

    def mqtt_call(self, api, payload):
        """CreateKeysAndCertificate / CreateCertificateFromCsr through the broker, as a client
        with the world's admin certificate: the plugin issues exactly what devices get."""
        need(self.mqtt_opts, "InternalFailureException",
             "%s needs the broker (api-server.py --mqtt-port, --mqtt-cert, ...)" % api)
        topic = {"CreateKeysAndCertificate": "$aws/certificates/create/json",
                 "CreateCertificateFromCsr": "$aws/certificates/create-from-csr/json"}[api]
        c = self.mqtt_client()
        while not self.answers.empty():  # a late answer to an earlier call that timed out
            self.answers.get_nowait()
        c.publish(topic, json.dumps(payload), qos=1)
        try:
            rtopic, raw = self.answers.get(timeout=self.answer_timeout)
        except queue.Empty:
            raise ApiError("ServiceUnavailableException", "the broker did not answer %s" % api)
        ans = json.loads(raw)
        if rtopic.endswith("/rejected"):
            code = {429: "ThrottlingException", 400: "InvalidRequestException"}.get(
                ans.get("statusCode"), "InternalFailureException")
            raise ApiError(code, ans.get("errorMessage") or ans.get("errorCode") or "rejected")
        return ans

    def mqtt_client(self):
        """One connection, kept: the emulator, like AWS, allows one CONNECT per second and
        client id. Subscribed to both APIs' replies before it is used."""
        if self.mqtt and self.mqtt.is_connected():
            return self.mqtt
        if self.mqtt:
            self.mqtt.loop_stop()
            self.mqtt.disconnect()
        import paho.mqtt.client as mqtt
        o = self.mqtt_opts
        c = mqtt.Client(client_id="ob-emu-api-%d" % os.getpid(), clean_session=True)
        c.tls_set(ca_certs=o["ca"], certfile=o["cert"], keyfile=o["key"])
        ready = threading.Event()
        c.on_connect = lambda cl, *_a: cl.subscribe("$aws/certificates/+/json/+", qos=1)
        c.on_subscribe = lambda *_a: ready.set()
        c.on_message = lambda _c, _u, msg: self.answers.put((msg.topic, msg.payload))
        try:
            c.connect(o["host"], int(o["port"]), keepalive=60)
        except OSError as e:
            raise ApiError("ServiceUnavailableException", "cannot reach the broker: %s" % e)
        c.loop_start()
        if not ready.wait(self.answer_timeout):
            c.loop_stop()
            raise ApiError("ServiceUnavailableException", "the broker refused the connection")
        self.mqtt = c
        return c


def page(items, size, marker, size_max=250):
    """AWS's marker paging over a list: (this page, next marker or None)."""
    try:
        start = int(base64.b64decode(marker).decode()) if marker else 0
    except ValueError:
        raise ApiError("InvalidRequestException", "marker is not one this service returned")
    size = int(size) if size else size_max
    need(1 <= size <= size_max, "InvalidRequestException",
         "page size must be between 1 and %d" % size_max)
    nxt = start + size
    more = base64.b64encode(str(nxt).encode()).decode() if nxt < len(items) else None
    return items[start:nxt], more


def thing_id(name):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "ob-emulator:thing:" + name))


def registration_code(account):
    return hashlib.sha256(("ob-emulator registration code " + account).encode()).hexdigest()
