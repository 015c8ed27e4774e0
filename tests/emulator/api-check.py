#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The emulator's control plane against the AWS CLI's own engine (test-emu-api.sh).

Uses the botocore that Debian's awscli ships (the code every `aws iot` command runs: SigV4
signing, the REST/JSON protocol, error parsing) in one process, so that every operation and its
errors are checked in seconds; test-emu-api.sh adds a few real `aws` commands. Prints
"ok - ..." / "FAIL - ..." lines; exit status 1 when anything failed.

    api-check.py URL ROOT_CA WORLD_DIR
"""
import json
import os
import subprocess
import sys
import time
import urllib.request
import ssl

AWSCLI = "/usr/lib/python3/dist-packages/awscli"
sys.path.insert(0, AWSCLI)
import botocore.session  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

URL, ROOT, WORLD = sys.argv[1:4]
ACCOUNT, REGION = "123456789012", "us-east-1"
ARN = "arn:aws:iot:%s:%s:" % (REGION, ACCOUNT)
failed = 0


def ok(what):
    print("ok - " + what)


def bad(what):
    global failed
    failed = 1
    print("FAIL - " + what)


def check(cond, what, detail=""):
    ok(what) if cond else bad("%s: %s" % (what, detail))
    return cond


def fails(what, code, status, fn, **kw):
    """fn(**kw) must fail with AWS exception `code` and HTTP `status` (parsed by botocore from
    the x-amzn-ErrorType header and the JSON body, as the CLI does)."""
    try:
        fn(**kw)
    except ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        msg = e.response["Error"].get("Message", "")
        return check(got == (code, status) and msg, "%s: %s %d (%s)" % (what, code, status, msg),
                     "got %s %d" % got)
    bad("%s: accepted, expected %s" % (what, code))
    return False


def run(*cmd, stdin=None):
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=True).stdout


def pem(path):
    return open(path).read()


def ca(name, subject):
    key, crt = os.path.join(WORLD, name + ".key"), os.path.join(WORLD, name + ".crt")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", key, "-subj", subject, "-days", "30", "-addext",
        "basicConstraints=critical,CA:TRUE", "-out", crt)
    return crt, key


def leaf(name, subject, ca_crt, ca_key):
    key, csr = os.path.join(WORLD, name + ".key"), os.path.join(WORLD, name + ".csr")
    crt = os.path.join(WORLD, name + ".crt")
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-subj", subject, "-out", csr)
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
        "-CAcreateserial", "-days", "1", "-out", crt)
    return crt


def registry():
    return json.load(open(os.path.join(WORLD, "emulator/state/registry.json")))


def routes_match_model(iot):
    model = iot.meta.service_model
    routes = json.loads(run(sys.executable, os.path.join(os.path.dirname(__file__),
                                                         "api-server.py"), "--routes"))
    wrong = []
    for r in routes:
        http = model.operation_model(r["operation"]).http
        if (http["method"], http["requestUri"].split("?")[0]) != (r["method"], r["requestUri"]):
            wrong.append("%s: %s %s, model %s %s" % (r["operation"], r["method"], r["requestUri"],
                                                     http["method"], http["requestUri"]))
    check(not wrong, "%d routes: method and URI as in the botocore model" % len(routes),
          "; ".join(wrong))
    sys.path.insert(0, os.path.dirname(__file__))
    from api_ops import ERRORS
    wrong = []
    for name, status in ERRORS.items():
        shape = model.shape_for(name)
        if shape.metadata.get("error", {}).get("httpStatusCode") != status:
            wrong.append("%s %d" % (name, status))
    check(not wrong, "%d exceptions: HTTP status as in the model" % len(ERRORS), ", ".join(wrong))


def raw(method, path, headers=None):
    """An HTTP request not made by botocore: status, x-amzn-ErrorType, JSON body."""
    ctx = ssl.create_default_context(cafile=ROOT)
    rq = urllib.request.Request(URL + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(rq, context=ctx) as r:
            return r.status, r.headers.get("x-amzn-ErrorType"), json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("x-amzn-ErrorType"), json.loads(e.read() or b"{}")


def auth_checks():
    st, et, body = raw("GET", "/things")
    check((st, et, body) == (403, "MissingAuthenticationTokenException:",
                             {"message": "Missing Authentication Token"}),
          "unsigned request: 403 MissingAuthenticationTokenException", (st, et, body))
    now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())

    def auth(scope, date=now, signed="host;x-amz-date"):
        return {"X-Amz-Date": date, "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/%s, "
                "SignedHeaders=%s, Signature=%s" % (scope, signed, "0" * 64)}
    day = now[:8]
    for what, hdrs, code in [
            ("scope for service iot instead of execute-api",
             auth("%s/us-east-1/iot/aws4_request" % day), "InvalidSignatureException"),
            ("another region", auth("%s/eu-west-1/execute-api/aws4_request" % day),
             "InvalidSignatureException"),
            ("X-Amz-Date an hour old",
             auth("%s/us-east-1/execute-api/aws4_request" % day,
                  time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 3600))),
             "InvalidSignatureException"),
            ("host not signed", auth("%s/us-east-1/execute-api/aws4_request" % day,
                                     signed="x-amz-date"), "InvalidSignatureException"),
            ("no Signature", {"X-Amz-Date": now, "Authorization":
                              "AWS4-HMAC-SHA256 Credential=A/%s/us-east-1/execute-api/"
                              "aws4_request, SignedHeaders=host;x-amz-date" % day},
             "IncompleteSignatureException")]:
        st, et, body = raw("GET", "/things", hdrs)
        check(st == 403 and et == code + ":" and body.get("message"),
              "%s: 403 %s (%s)" % (what, code, body.get("message")), (st, et, body))
    st, et, body = raw("GET", "/things", auth("%s/us-east-1/execute-api/aws4_request" % day))
    check(st == 200 and "things" in body, "a well-formed signature with any secret: 200", (st, body))
    st, et, body = raw("GET", "/no-such-operation")
    check((st, et) == (404, "ResourceNotFoundException:"), "unknown path: 404", (st, et))


def cas_and_certificates(iot):
    code = iot.get_registration_code()["registrationCode"]
    ca_crt, ca_key = ca("api-ca", "/O=Acme/CN=API test CA")
    good = leaf("api-verif", "/CN=" + code, ca_crt, ca_key)
    wrong_cn = leaf("api-verif-cn", "/CN=not-the-code", ca_crt, ca_key)
    other_crt, other_key = ca("api-other-ca", "/O=Acme/CN=Unregistered CA")
    foreign = leaf("api-verif-foreign", "/CN=" + code, other_crt, other_key)
    reg = dict(caCertificate=pem(ca_crt), setAsActive=True, allowAutoRegistration=True)
    fails("register-ca-certificate, verification CN not the registration code",
          "RegistrationCodeValidationException", 400, iot.register_ca_certificate,
          verificationCertificate=pem(wrong_cn), **reg)
    fails("register-ca-certificate, verification not signed by the CA",
          "CertificateValidationException", 400, iot.register_ca_certificate,
          verificationCertificate=pem(foreign), **reg)
    fails("register-ca-certificate, DEFAULT mode without verification", "InvalidRequestException",
          400, iot.register_ca_certificate, **reg)
    r = iot.register_ca_certificate(verificationCertificate=pem(good), **reg)
    ca_id = r["certificateId"]
    check(r["certificateArn"] == ARN + "cacert/" + ca_id, "register-ca-certificate: ARN", r)
    try:
        iot.register_ca_certificate(verificationCertificate=pem(good), **reg)
        bad("register-ca-certificate twice accepted")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "ResourceAlreadyExistsException" and
              e.response.get("resourceId") == ca_id,
              "register-ca-certificate twice: 409 ResourceAlreadyExistsException with resourceId",
              e.response)
    d = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    check(d["status"] == "ACTIVE" and d["autoRegistrationStatus"] == "ENABLE" and
          d["certificateMode"] == "DEFAULT" and d["validity"]["notAfter"].year >= 2026,
          "describe-ca-certificate: ACTIVE, ENABLE, DEFAULT, validity", d)
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE",
                              newAutoRegistrationStatus="DISABLE",
                              registrationConfig={"templateBody": json.dumps(
                                  {"Resources": {"certificate": {
                                      "Type": "AWS::IoT::Certificate", "Properties": {
                                          "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                                          "Status": "ACTIVE"}}}})})
    r = iot.describe_ca_certificate(certificateId=ca_id)
    check(r["certificateDescription"]["status"] == "INACTIVE" and
          r["certificateDescription"]["autoRegistrationStatus"] == "DISABLE" and
          "AWS::IoT::Certificate" in r["registrationConfig"]["templateBody"],
          "update-ca-certificate: status, auto-registration, registration template", r)
    check(ca_id in [c["certificateId"] for c in iot.list_ca_certificates()["certificates"]],
          "list-ca-certificates", "")
    dev = leaf("api-dev", "/CN=api-dev", ca_crt, ca_key)
    fails("register-certificate under an INACTIVE CA", "CertificateStateException", 406,
          iot.register_certificate, certificatePem=pem(dev))
    iot.update_ca_certificate(certificateId=ca_id, newStatus="ACTIVE")
    fails("register-certificate of an unregistered CA", "CertificateValidationException", 400,
          iot.register_certificate,
          certificatePem=pem(leaf("api-foreign", "/CN=x", other_crt, other_key)))
    r = iot.register_certificate(certificatePem=pem(dev))
    cid = r["certificateId"]
    d = iot.describe_certificate(certificateId=cid)["certificateDescription"]
    check(d["status"] == "INACTIVE" and d["caCertificateId"] == ca_id and
          d["certificateArn"] == ARN + "cert/" + cid and d["ownedBy"] == ACCOUNT,
          "register-certificate: INACTIVE by default, under the CA; describe-certificate", d)
    fails("register-certificate twice", "ResourceAlreadyExistsException", 409,
          iot.register_certificate, certificatePem=pem(dev))
    ids = [c["certificateId"] for c in iot.list_certificates_by_ca(caCertificateId=ca_id)["certificates"]]
    check(ids == [cid], "list-certificates-by-ca", ids)
    fails("update-certificate to PENDING_ACTIVATION", "InvalidRequestException", 400,
          iot.update_certificate, certificateId=cid, newStatus="PENDING_ACTIVATION")
    iot.update_certificate(certificateId=cid, newStatus="ACTIVE")
    fails("delete-certificate while ACTIVE", "CertificateStateException", 406,
          iot.delete_certificate, certificateId=cid)
    iot.update_certificate(certificateId=cid, newStatus="REVOKED")
    fails("update-certificate of a REVOKED certificate", "CertificateStateException", 406,
          iot.update_certificate, certificateId=cid, newStatus="ACTIVE")
    iot.delete_certificate(certificateId=cid)
    fails("describe-certificate after delete-certificate", "ResourceNotFoundException", 404,
          iot.describe_certificate, certificateId=cid)
    fails("describe-certificate with a malformed id", "InvalidRequestException", 400,
          iot.describe_certificate, certificateId="z" * 64)
    mar = leaf("api-mar", "/CN=api-mar", other_crt, other_key)
    r = iot.register_certificate_without_ca(certificatePem=pem(mar), status="ACTIVE")
    d = iot.describe_certificate(certificateId=r["certificateId"])["certificateDescription"]
    check(d["status"] == "ACTIVE" and "caCertificateId" not in d and
          d["certificateMode"] == "SNI_ONLY", "register-certificate-without-ca: ACTIVE, SNI_ONLY", d)
    r = iot.create_keys_and_certificate()
    pub = run("openssl", "x509", "-noout", "-pubkey", stdin=r["certificatePem"])
    check(pub.strip() == r["keyPair"]["PublicKey"].strip() and
          "PRIVATE KEY" in r["keyPair"]["PrivateKey"],
          "create-keys-and-certificate: the key pair of the certificate", "")
    d = iot.describe_certificate(certificateId=r["certificateId"])["certificateDescription"]
    check(d["status"] == "INACTIVE" and d["certificateMode"] == "DEFAULT",
          "create-keys-and-certificate without --set-as-active: INACTIVE, DEFAULT", d)
    # every page of list-certificates, as the CLI's paginator reads them
    pages = iot.get_paginator("list_certificates").paginate(PaginationConfig={"PageSize": 2})
    listed = [c["certificateId"] for p in pages for c in p["certificates"]]
    want = [i for i, c in registry()["certificates"].items() if not c.get("temporaryClaim")]
    check(sorted(listed) == sorted(want) and len(listed) > 2,
          "list-certificates, pages of 2: all %d certificates once" % len(want), listed)
    fails("delete-ca-certificate while ACTIVE", "CertificateStateException", 406,
          iot.delete_ca_certificate, certificateId=ca_id)
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")
    try:
        iot.delete_ca_certificate(certificateId=ca_id)
        fails("describe-ca-certificate after delete-ca-certificate", "ResourceNotFoundException",
              404, iot.describe_ca_certificate, certificateId=ca_id)
    except ClientError as e:
        if "unknown op" not in str(e):
            raise
        print("# delete-ca-certificate: this plugin has no delete-ca command yet (issue 20)")


def things_and_policies(iot):
    r = iot.create_thing(thingName="api-thing", attributePayload={"attributes": {"a": "1"}})
    check(r["thingArn"] == ARN + "thing/api-thing" and len(r["thingId"]) == 36,
          "create-thing: name, ARN, id", r)
    r2 = iot.create_thing(thingName="api-thing", attributePayload={"attributes": {"a": "1"}})
    check(r2["thingId"] == r["thingId"], "create-thing again with the same configuration", r2)
    fails("create-thing again with other attributes", "ResourceAlreadyExistsException", 409,
          iot.create_thing, thingName="api-thing", attributePayload={"attributes": {"a": "2"}})
    d = iot.describe_thing(thingName="api-thing")
    check(d["attributes"] == {"a": "1"} and d["version"] == 1 and
          d["defaultClientId"] == "api-thing", "describe-thing", d)
    fails("describe-thing of an unknown thing", "ResourceNotFoundException", 404,
          iot.describe_thing, thingName="no-such-thing")
    fails("create-thing with a name AWS refuses", "InvalidRequestException", 400,
          iot.create_thing, thingName="bad name")
    cert = iot.create_keys_and_certificate(setAsActive=True)
    arn = cert["certificateArn"]
    fails("attach-thing-principal to an unknown thing", "ResourceNotFoundException", 404,
          iot.attach_thing_principal, thingName="no-such-thing", principal=arn)
    fails("attach-thing-principal with a principal that is not a certificate ARN",
          "InvalidRequestException", 400, iot.attach_thing_principal, thingName="api-thing",
          principal="us-east-1:identity-pool")
    iot.attach_thing_principal(thingName="api-thing", principal=arn)
    check(iot.list_thing_principals(thingName="api-thing")["principals"] == [arn] and
          iot.list_principal_things(principal=arn)["things"] == ["api-thing"],
          "attach-thing-principal; list-thing-principals, list-principal-things", "")
    fails("delete-thing with a principal attached", "InvalidRequestException", 400,
          iot.delete_thing, thingName="api-thing")
    doc = {"Version": "2012-10-17",
           "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
    r = iot.create_policy(policyName="ApiPolicy", policyDocument=json.dumps(doc))
    check(r["policyArn"] == ARN + "policy/ApiPolicy" and r["policyVersionId"] == "1",
          "create-policy", r)
    fails("create-policy twice", "ResourceAlreadyExistsException", 409, iot.create_policy,
          policyName="ApiPolicy", policyDocument=json.dumps(doc))
    fails("create-policy, not JSON", "MalformedPolicyException", 400, iot.create_policy,
          policyName="Bad1", policyDocument="{not json")
    fails("create-policy, no Statement", "MalformedPolicyException", 400, iot.create_policy,
          policyName="Bad2", policyDocument='{"Version": "2012-10-17"}')
    check(json.loads(iot.get_policy(policyName="ApiPolicy")["policyDocument"]) == doc,
          "get-policy: the document", "")
    fails("attach-policy of an unknown policy", "ResourceNotFoundException", 404,
          iot.attach_policy, policyName="NoSuchPolicy", target=arn)
    iot.attach_policy(policyName="ApiPolicy", target=arn)
    att = iot.list_attached_policies(target=arn)["policies"]
    check([p["policyName"] for p in att] == ["ApiPolicy"], "attach-policy; list-attached-policies", att)
    for i in range(9):
        iot.create_policy(policyName="ApiPolicy%d" % i, policyDocument=json.dumps(doc))
        iot.attach_policy(policyName="ApiPolicy%d" % i, target=arn)
    iot.create_policy(policyName="ApiPolicy11", policyDocument=json.dumps(doc))
    fails("attach-policy, an 11th policy", "LimitExceededException", 410, iot.attach_policy,
          policyName="ApiPolicy11", target=arn)
    fails("delete-policy while attached", "DeleteConflictException", 409, iot.delete_policy,
          policyName="ApiPolicy")
    iot.update_certificate(certificateId=cert["certificateId"], newStatus="INACTIVE")
    fails("delete-certificate with a thing attached", "DeleteConflictException", 409,
          iot.delete_certificate, certificateId=cert["certificateId"])
    iot.detach_thing_principal(thingName="api-thing", principal=arn)
    fails("delete-certificate with policies attached", "DeleteConflictException", 409,
          iot.delete_certificate, certificateId=cert["certificateId"])
    iot.detach_policy(policyName="ApiPolicy", target=arn)
    iot.delete_certificate(certificateId=cert["certificateId"], forceDelete=True)
    iot.delete_policy(policyName="ApiPolicy")
    iot.delete_thing(thingName="api-thing")
    reg = registry()
    check(cert["certificateId"] not in reg["certificates"] and "ApiPolicy" not in reg["policies"]
          and "api-thing" not in reg["things"],
          "detach-*, delete-certificate --force-delete, delete-policy, delete-thing", "")
    r = iot.describe_endpoint(endpointType="iot:Data-ATS")
    check(r["endpointAddress"] == "localhost", "describe-endpoint iot:Data-ATS", r)
    fails("describe-endpoint of an unknown type", "InvalidRequestException", 400,
          iot.describe_endpoint, endpointType="iot:Nonsense")


def templates_and_claims(iot):
    body = json.dumps({"Parameters": {"SerialNumber": {"Type": "String"}},
                       "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {
                           "ThingName": {"Ref": "SerialNumber"}}}}})
    role = "arn:aws:iam::%s:role/Provisioning" % ACCOUNT
    hook = {"targetArn": "arn:aws:lambda:%s:%s:function:api-hook" % (REGION, ACCOUNT)}
    r = iot.create_provisioning_template(templateName="ApiTemplate", templateBody=body,
                                         provisioningRoleArn=role, preProvisioningHook=hook)
    check(r == {**r, "templateArn": ARN + "provisioningtemplate/ApiTemplate",
                "defaultVersionId": 1}, "create-provisioning-template", r)
    d = iot.describe_provisioning_template(templateName="ApiTemplate")
    check(d["enabled"] is False and d["type"] == "FLEET_PROVISIONING" and
          json.loads(d["templateBody"]) == json.loads(body) and
          d["preProvisioningHook"] == dict(hook, payloadVersion="2020-04-01") and
          d["provisioningRoleArn"] == role,
          "describe-provisioning-template: disabled unless --enabled, the hook, the body", d)
    t = registry()["templates"]["ApiTemplate"]
    check(t["preProvisioningHook"].endswith("/lambda/api-hook") and t["enabled"] is False,
          "the hook runs the world's lambda/api-hook", t)
    fails("create-provisioning-template twice", "ResourceAlreadyExistsException", 409,
          iot.create_provisioning_template, templateName="ApiTemplate", templateBody=body,
          provisioningRoleArn=role)
    fails("create-provisioning-template, body not JSON", "InvalidRequestException", 400,
          iot.create_provisioning_template, templateName="ApiBad", templateBody="{",
          provisioningRoleArn=role)
    fails("create-provisioning-template, a hook that is not a Lambda ARN",
          "InvalidRequestException", 400, iot.create_provisioning_template,
          templateName="ApiBad", templateBody=body, provisioningRoleArn=role,
          preProvisioningHook={"targetArn": "arn:aws:sns:us-east-1:123456789012:topic"})
    fails("create-provisioning-template, a hook on a JITP template", "InvalidRequestException",
          400, iot.create_provisioning_template, templateName="ApiBad", templateBody=body,
          provisioningRoleArn=role, type="JITP", preProvisioningHook=hook)
    fails("describe-provisioning-template of an unknown template", "ResourceNotFoundException",
          404, iot.describe_provisioning_template, templateName="NoSuchTemplate")
    names = [t["templateName"] for t in iot.list_provisioning_templates()["templates"]]
    check("ApiTemplate" in names and not [n for n in names if n.startswith("JITP_")],
          "list-provisioning-templates (without the CAs' registration templates)", names)
    iot.update_provisioning_template(templateName="ApiTemplate", enabled=True,
                                     removePreProvisioningHook=True)
    d = iot.describe_provisioning_template(templateName="ApiTemplate")
    check(d["enabled"] is True and "preProvisioningHook" not in d,
          "update-provisioning-template: enabled, hook removed", d)
    r = iot.create_provisioning_claim(templateName="ApiTemplate")
    left = r["expiration"].timestamp() - time.time()
    d = iot.describe_certificate(certificateId=r["certificateId"])["certificateDescription"]
    check(240 < left <= 301 and d["status"] == "ACTIVE" and
          "PRIVATE KEY" in r["keyPair"]["PrivateKey"],
          "create-provisioning-claim: ACTIVE for 5 minutes, with its key", (left, d["status"]))
    fails("create-provisioning-claim of an unknown template", "ResourceNotFoundException", 404,
          iot.create_provisioning_claim, templateName="NoSuchTemplate")
    iot.delete_provisioning_template(templateName="ApiTemplate")
    check("ApiTemplate" not in registry()["templates"], "delete-provisioning-template", "")


def jobs(iot):
    iot.create_thing(thingName="job-thing")
    doc = json.dumps({"operation": "rotate", "force": True})
    r = iot.create_job(jobId="api-job", targets=[ARN + "thing/job-thing"], document=doc,
                       description="rotate now")
    check(r == {**r, "jobArn": ARN + "job/api-job", "jobId": "api-job",
                "description": "rotate now"}, "create-job: ARN, id, description", r)
    fails("create-job again with the same id", "ResourceAlreadyExistsException", 409,
          iot.create_job, jobId="api-job", targets=[ARN + "thing/job-thing"], document=doc)
    fails("create-job for a thing that does not exist", "ResourceNotFoundException", 404,
          iot.create_job, jobId="api-job-2", targets=[ARN + "thing/no-such-thing"], document=doc)
    fails("create-job with a document that is not a JSON object", "InvalidRequestException", 400,
          iot.create_job, jobId="api-job-3", targets=[ARN + "thing/job-thing"], document="[1]")
    fails("create-job with a target of another account", "InvalidRequestException", 400,
          iot.create_job, jobId="api-job-4", targets=["arn:aws:iot:us-east-1:999999999999:thing/x"],
          document=doc)
    e = iot.describe_job_execution(jobId="api-job", thingName="job-thing")["execution"]
    check(e["status"] == "QUEUED" and e["versionNumber"] == 1 and e["executionNumber"] == 1 and
          e["thingArn"] == ARN + "thing/job-thing" and "queuedAt" in e,
          "describe-job-execution: QUEUED, versionNumber 1", e)
    fails("describe-job-execution on a thing the job does not target", "ResourceNotFoundException",
          404, iot.describe_job_execution, jobId="api-job", thingName="api-other")
    x = iot.list_job_executions_for_job(jobId="api-job")["executionSummaries"]
    check([(s["thingArn"], s["jobExecutionSummary"]["status"]) for s in x] ==
          [(ARN + "thing/job-thing", "QUEUED")], "list-job-executions-for-job", x)
    d = iot.describe_job(jobId="api-job")["job"]
    check(d["status"] == "IN_PROGRESS" and d["jobProcessDetails"]["numberOfQueuedThings"] == 1 and
          d["targets"] == [ARN + "thing/job-thing"], "describe-job: IN_PROGRESS, one queued", d)
    iot.cancel_job(jobId="api-job")
    e = iot.describe_job_execution(jobId="api-job", thingName="job-thing")["execution"]
    check(e["status"] == "CANCELED" and e["versionNumber"] == 2 and
          iot.describe_job(jobId="api-job")["job"]["status"] == "CANCELED",
          "cancel-job: the QUEUED execution is CANCELED, versionNumber 2", e)
    fails("cancel-job of an unknown job", "ResourceNotFoundException", 404, iot.cancel_job,
          jobId="no-such-job")


def main():
    s = botocore.session.get_session()
    iot = s.create_client("iot", region_name=REGION, endpoint_url=URL, verify=ROOT,
                          aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                          aws_secret_access_key="any-secret-will-do")
    routes_match_model(iot)
    auth_checks()
    cas_and_certificates(iot)
    things_and_policies(iot)
    templates_and_claims(iot)
    jobs(iot)
    return failed


if __name__ == "__main__":
    sys.exit(main())
