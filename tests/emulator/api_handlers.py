# SPDX-License-Identifier: Apache-2.0
"""One function per AWS IoT operation: op_<OperationName>(emu, rq) -> response dict or None.

rq.path (URI labels), rq.query (query string, one value each), rq.body (JSON object),
rq.headers. Errors are ApiError(AWS exception name, message). The route of each operation is in
api-server.py (ROUTES), checked against the botocore model by tests/emulator/test-emu-api.sh.
"""
import json
import time

from api_ops import (ApiError, CLAIM_POLICY_PREFIX, MAX_POLICIES_PER_CERT, RE_JOB, RE_POLICY,
                     RE_TEMPLATE, RE_THING, STATUSES, cert_id, common_name, need, page, public_key,
                     registration_code, signed_by, thing_id, x509_info)


def flag(rq, name):
    v = rq.query.get(name)
    need(v in (None, "true", "false"), "InvalidRequestException", "%s must be true or false" % name)
    return v == "true"


def body_str(rq, name, required=False):
    v = rq.body.get(name)
    need(v is None or isinstance(v, str), "InvalidRequestException", "%s must be a string" % name)
    need(v or not required, "InvalidRequestException", "%s is required" % name)
    return v


def thing_name(rq):
    n = rq.path["thingName"]
    need(RE_THING.match(n), "InvalidRequestException",
         "thingName must match [a-zA-Z0-9:_-]+ (1-128 characters)")
    return n


def policy_name(rq):
    n = rq.path["policyName"]
    need(RE_POLICY.match(n), "InvalidRequestException", "policyName must match [\\w+=,.@-]+")
    return n


def validity(pem):
    i = x509_info(pem)
    return {"notBefore": i["notBefore"], "notAfter": i["notAfter"]}


# ------------------------------------------------------------------ CA certificates

def op_GetRegistrationCode(emu, rq):
    return {"registrationCode": registration_code(emu.account())}


def jitp_template_name(ca_id):
    return "JITP_" + ca_id[:31]  # 36 characters, the longest template name AWS allows


def registration_template(emu, reg, ca_id, config, role_default=None):
    """registrationConfig -> the name of the template the CA provisions with (None: JITR).
    templateBody is kept as a hidden template of type JITP owned by the CA."""
    need(isinstance(config, dict), "InvalidRequestException", "registrationConfig must be an object")
    if config.get("templateName"):
        t = emu.template(reg, config["templateName"])
        need(t.get("type") == "JITP", "InvalidRequestException",
             "registrationConfig.templateName must name a template of type JITP")
        return config["templateName"]
    if not config.get("templateBody"):
        return None
    try:
        body = json.loads(config["templateBody"])
    except ValueError as e:
        raise ApiError("InvalidRequestException", "templateBody is not JSON: %s" % e)
    name = jitp_template_name(ca_id)
    cmd = {"name": name, "body": body, "type": "JITP", "enabled": True, "caCertificateId": ca_id,
           "provisioningRoleArn": config.get("roleArn") or role_default}
    if name in reg.get("templates", {}):
        emu.send(dict(cmd, op="update-template"))
    else:
        emu.send(dict(cmd, op="create-template"))
    return name


def op_RegisterCACertificate(emu, rq):
    reg = emu.reg()
    pem = body_str(rq, "caCertificate", required=True)
    mode = body_str(rq, "certificateMode") or "DEFAULT"
    need(mode in ("DEFAULT", "SNI_ONLY"), "InvalidRequestException",
         "certificateMode must be DEFAULT or SNI_ONLY")
    ca_id = cert_id(pem)
    info = x509_info(pem)
    need(info["ca"], "CertificateValidationException",
         "The certificate is not a CA certificate (basicConstraints CA:TRUE)")
    need(ca_id not in reg.get("cas", {}), "ResourceAlreadyExistsException",
         "The CA certificate is already registered", resourceId=ca_id,
         resourceArn=emu.arn("cacert", ca_id, reg))
    verif = body_str(rq, "verificationCertificate")
    if mode == "SNI_ONLY":
        need(not verif, "InvalidRequestException",
             "verificationCertificate must be empty when certificateMode is SNI_ONLY")
    else:
        need(verif, "InvalidRequestException",
             "verificationCertificate is required when certificateMode is DEFAULT")
        need(signed_by(verif, pem), "CertificateValidationException",
             "The verification certificate is not signed by the CA certificate")
        need(common_name(x509_info(verif).get("subject")) == registration_code(emu.account(reg)),
             "RegistrationCodeValidationException",
             "The verification certificate's common name is not this account's registration code")
    template = registration_template(emu, reg, ca_id, rq.body.get("registrationConfig") or {})
    active = flag(rq, "setAsActive")
    cmd = {"op": "register-ca", "pem": pem, "mode": mode,
           "autoRegistration": flag(rq, "allowAutoRegistration"),
           "status": "ACTIVE" if active else "INACTIVE"}
    if template:
        cmd["template"] = template
    emu.send(cmd)
    if not active:  # a plugin without register-ca's "status" registers it ACTIVE
        emu.send({"op": "update-ca", "caCertificateId": ca_id, "status": "INACTIVE"})
    return {"certificateArn": emu.arn("cacert", ca_id, reg), "certificateId": ca_id}


def op_UpdateCACertificate(emu, rq):
    reg = emu.reg()
    ca_id, ca = emu.ca(reg, rq.path["caCertificateId"])
    cmd = {"op": "update-ca", "caCertificateId": ca_id}
    st, auto = rq.query.get("newStatus"), rq.query.get("newAutoRegistrationStatus")
    need(st in (None, "ACTIVE", "INACTIVE"), "InvalidRequestException",
         "newStatus must be ACTIVE or INACTIVE")
    need(auto in (None, "ENABLE", "DISABLE"), "InvalidRequestException",
         "newAutoRegistrationStatus must be ENABLE or DISABLE")
    if st:
        cmd["status"] = st
    if auto:
        cmd["autoRegistration"] = auto == "ENABLE"
    if "registrationConfig" in rq.body:
        tpl = registration_template(emu, reg, ca_id, rq.body["registrationConfig"])
        cmd["template"] = tpl
    if rq.body.get("removeAutoRegistration"):
        cmd["autoRegistration"], cmd["template"] = False, None
    emu.send(cmd)


def ca_description(emu, reg, ca_id, ca):
    d = {"certificateArn": emu.arn("cacert", ca_id, reg), "certificateId": ca_id,
         "status": ca.get("status", "ACTIVE"), "certificatePem": ca.get("pem", ""),
         "ownedBy": emu.account(reg),
         "autoRegistrationStatus": "ENABLE" if ca.get("autoRegistration") else "DISABLE",
         "customerVersion": 1, "generationId": ca_id[:32],
         "certificateMode": ca.get("mode", "DEFAULT")}
    if ca.get("pem"):
        d["validity"] = validity(ca["pem"])
    return d


def op_DescribeCACertificate(emu, rq):
    reg = emu.reg()
    ca_id, ca = emu.ca(reg, rq.path["caCertificateId"])
    out = {"certificateDescription": ca_description(emu, reg, ca_id, ca)}
    t = reg.get("templates", {}).get(ca.get("template") or "")
    if t is not None:
        rc = {"roleArn": t.get("provisioningRoleArn")}
        if t.get("caCertificateId") == ca_id:
            rc["templateBody"] = json.dumps(t.get("body"))
        else:
            rc["templateName"] = ca["template"]
        out["registrationConfig"] = {k: v for k, v in rc.items() if v}
    return out


def op_ListCACertificates(emu, rq):
    reg = emu.reg()
    items = [{"certificateArn": emu.arn("cacert", i, reg), "certificateId": i,
              "status": ca.get("status", "ACTIVE")}
             for i, ca in sorted(reg.get("cas", {}).items())]
    if rq.query.get("templateName"):
        items = [c for c in items
                 if reg["cas"][c["certificateId"]].get("template") == rq.query["templateName"]]
    items, more = page(items, rq.query.get("pageSize"), rq.query.get("marker"))
    return {"certificates": items, **({"nextMarker": more} if more else {})}


def op_DeleteCACertificate(emu, rq):
    reg = emu.reg()
    ca_id, ca = emu.ca(reg, rq.path["caCertificateId"])
    need(ca.get("status") != "ACTIVE", "CertificateStateException",
         "The CA certificate must be INACTIVE to be deleted")
    emu.send({"op": "delete-ca", "caCertificateId": ca_id})
    if jitp_template_name(ca_id) in reg.get("templates", {}):
        emu.send({"op": "delete-template", "name": jitp_template_name(ca_id)})


# ------------------------------------------------------------------ certificates

def new_status(rq, default):
    st = body_str(rq, "status")
    if st is None:
        st = "ACTIVE" if flag(rq, "setAsActive") else default
    need(st in STATUSES and st != "PENDING_TRANSFER", "InvalidRequestException",
         "status must be one of ACTIVE, INACTIVE, REVOKED, REGISTER_INACTIVE, PENDING_ACTIVATION")
    return st


def not_registered(emu, reg, cid):
    need(cid not in reg.get("certificates", {}), "ResourceAlreadyExistsException",
         "The certificate is already provisioned or registered", resourceId=cid,
         resourceArn=emu.arn("cert", cid, reg))


def op_RegisterCertificate(emu, rq):
    reg = emu.reg()
    pem = body_str(rq, "certificatePem", required=True)
    cid = cert_id(pem)
    x509_info(pem)
    not_registered(emu, reg, cid)
    ca_pem = body_str(rq, "caCertificatePem")
    if ca_pem:
        ca_id = cert_id(ca_pem)
        need(ca_id in reg.get("cas", {}), "ResourceNotFoundException",
             "The CA certificate %s is not registered" % ca_id)
        cands = [ca_id]
    else:
        cands = sorted(reg.get("cas", {}))
    issuer = next((i for i in cands if signed_by(pem, reg["cas"][i].get("pem", ""))), None)
    need(issuer, "CertificateValidationException",
         "The certificate is not signed by a registered CA certificate (or is not valid now)")
    need(reg["cas"][issuer].get("status") == "ACTIVE", "CertificateStateException",
         "The CA certificate %s is INACTIVE" % issuer)
    emu.send({"op": "register-cert", "pem": pem, "status": new_status(rq, "INACTIVE"),
              "caCertificateId": issuer})
    return {"certificateArn": emu.arn("cert", cid, reg), "certificateId": cid}


def op_RegisterCertificateWithoutCA(emu, rq):
    reg = emu.reg()
    pem = body_str(rq, "certificatePem", required=True)
    cid = cert_id(pem)
    x509_info(pem)
    not_registered(emu, reg, cid)
    emu.send({"op": "register-cert", "pem": pem, "status": new_status(rq, "INACTIVE")})
    return {"certificateArn": emu.arn("cert", cid, reg), "certificateId": cid}


def op_UpdateCertificate(emu, rq):
    reg = emu.reg()
    cid, c = emu.cert(reg, rq.path["certificateId"])
    st = rq.query.get("newStatus")
    need(st in STATUSES, "InvalidRequestException", "newStatus must be one of " + ", ".join(STATUSES))
    need(st not in ("PENDING_TRANSFER", "PENDING_ACTIVATION"), "InvalidRequestException",
         "PENDING_TRANSFER and PENDING_ACTIVATION are statuses used internally by AWS IoT")
    old = c.get("status")
    need(old != "REVOKED" or st == "REVOKED", "CertificateStateException",
         "The certificate is REVOKED: its status cannot change")
    need(old != "PENDING_TRANSFER", "CertificateStateException",
         "The certificate is being transferred")
    emu.send({"op": "set-cert-status", "certificateId": cid, "status": st})


def cert_description(emu, reg, cid, c):
    d = {"certificateArn": emu.arn("cert", cid, reg), "certificateId": cid,
         "status": c.get("status"), "certificatePem": c.get("pem", ""),
         "ownedBy": emu.account(reg), "customerVersion": 1, "generationId": cid[:32],
         "certificateMode": emu.cert_mode(reg, c)}
    if c.get("caCertificateId"):
        d["caCertificateId"] = c["caCertificateId"]
    if c.get("creationDate"):
        d["creationDate"] = d["lastModifiedDate"] = c["creationDate"]
    if c.get("pem"):
        d["validity"] = validity(c["pem"])
    return d


def op_DescribeCertificate(emu, rq):
    reg = emu.reg()
    cid, c = emu.cert(reg, rq.path["certificateId"])
    return {"certificateDescription": cert_description(emu, reg, cid, c)}


def list_certs(emu, rq, reg, keep):
    items = []
    for cid, c in reg.get("certificates", {}).items():
        if c.get("temporaryClaim") or not keep(c):
            continue
        e = {"certificateArn": emu.arn("cert", cid, reg), "certificateId": cid,
             "status": c.get("status"), "certificateMode": emu.cert_mode(reg, c)}
        if c.get("creationDate"):
            e["creationDate"] = c["creationDate"]
        items.append(e)
    items.sort(key=lambda e: (e.get("creationDate", 0), e["certificateId"]),
               reverse=rq.query.get("isAscendingOrder") != "true")
    items, more = page(items, rq.query.get("pageSize"), rq.query.get("marker"))
    return {"certificates": items, **({"nextMarker": more} if more else {})}


def op_ListCertificates(emu, rq):
    return list_certs(emu, rq, emu.reg(), lambda c: True)


def op_ListCertificatesByCA(emu, rq):
    reg = emu.reg()
    ca_id, _ = emu.ca(reg, rq.path["caCertificateId"])
    return list_certs(emu, rq, reg, lambda c: c.get("caCertificateId") == ca_id)


def op_DeleteCertificate(emu, rq):
    reg = emu.reg()
    cid, _ = emu.cert(reg, rq.path["certificateId"])
    emu.send({"op": "delete-certificate", "certificateId": cid,
              "forceDelete": flag(rq, "forceDelete")})


def issued(emu, rq, api, payload):
    """A certificate from the emulator's issuer, through the data plane; ACTIVE or INACTIVE."""
    ans = emu.mqtt_call(api, payload)
    cid = ans["certificateId"]
    emu.send({"op": "set-cert-status", "certificateId": cid,
              "status": "ACTIVE" if flag(rq, "setAsActive") else "INACTIVE"})
    out = {"certificateArn": emu.arn("cert", cid), "certificateId": cid,
           "certificatePem": ans["certificatePem"]}
    if ans.get("privateKey"):
        out["keyPair"] = {"PublicKey": public_key(ans["privateKey"]),
                          "PrivateKey": ans["privateKey"]}
    return out


def op_CreateKeysAndCertificate(emu, rq):
    return issued(emu, rq, "CreateKeysAndCertificate", {})


def op_CreateCertificateFromCsr(emu, rq):
    csr = body_str(rq, "certificateSigningRequest", required=True)
    return issued(emu, rq, "CreateCertificateFromCsr", {"certificateSigningRequest": csr})


# ------------------------------------------------------------------ things

def thing_view(emu, reg, name, t):
    v = {"thingName": name, "thingArn": emu.arn("thing", name, reg),
         "attributes": t.get("attributes") or {}, "version": t.get("version", 1)}
    if t.get("thingTypeName"):
        v["thingTypeName"] = t["thingTypeName"]
    return v


def op_CreateThing(emu, rq):
    reg = emu.reg()
    name = thing_name(rq)
    payload = rq.body.get("attributePayload") or {}
    attrs = payload.get("attributes") or {}
    need(isinstance(attrs, dict) and all(isinstance(v, str) for v in attrs.values()),
         "InvalidRequestException", "attributePayload.attributes must map names to strings")
    cmd = {"op": "create-thing", "thingName": name, "attributes": attrs}
    for k in ("thingTypeName", "billingGroupName"):
        if body_str(rq, k):
            cmd[k] = rq.body[k]
    emu.send(cmd)
    return {"thingName": name, "thingArn": emu.arn("thing", name, reg), "thingId": thing_id(name)}


def op_DescribeThing(emu, rq):
    reg = emu.reg()
    name = thing_name(rq)
    t = reg.get("things", {}).get(name)
    need(t is not None, "ResourceNotFoundException", "Thing %s cannot be found." % name)
    v = thing_view(emu, reg, name, t)
    v.update({"defaultClientId": name, "thingId": thing_id(name)})
    if t.get("billingGroupName"):
        v["billingGroupName"] = t["billingGroupName"]
    return v


def op_ListThings(emu, rq):
    reg = emu.reg()
    items = [thing_view(emu, reg, n, t) for n, t in sorted(reg.get("things", {}).items())]
    q = rq.query
    if q.get("thingTypeName"):
        items = [t for t in items if t.get("thingTypeName") == q["thingTypeName"]]
    if q.get("attributeName"):
        items = [t for t in items if q["attributeName"] in t["attributes"] and (
            "attributeValue" not in q or t["attributes"][q["attributeName"]] == q["attributeValue"])]
    items, more = page(items, q.get("maxResults"), q.get("nextToken"))
    return {"things": items, **({"nextToken": more} if more else {})}


def op_DeleteThing(emu, rq):
    cmd = {"op": "delete-thing", "thingName": thing_name(rq)}
    if rq.query.get("expectedVersion"):
        cmd["expectedVersion"] = int(rq.query["expectedVersion"])
    emu.send(cmd)


def thing_principal(emu, rq, op):
    reg = emu.reg()
    name = thing_name(rq)
    need(name in reg.get("things", {}), "ResourceNotFoundException", "Thing %s cannot be found." % name)
    cid, _ = emu.cert_of_arn(reg, rq.headers.get("x-amzn-principal"))
    emu.send({"op": op, "thingName": name, "certificateId": cid})


def op_AttachThingPrincipal(emu, rq):
    thing_principal(emu, rq, "attach-thing-principal")


def op_DetachThingPrincipal(emu, rq):
    thing_principal(emu, rq, "detach-thing-principal")


def op_ListThingPrincipals(emu, rq):
    reg = emu.reg()
    name = thing_name(rq)
    need(name in reg.get("things", {}), "ResourceNotFoundException", "Thing %s cannot be found." % name)
    items = sorted(emu.arn("cert", cid, reg) for cid, c in reg.get("certificates", {}).items()
                   if name in (c.get("things") or []))
    items, more = page(items, rq.query.get("maxResults"), rq.query.get("nextToken"))
    return {"principals": items, **({"nextToken": more} if more else {})}


def op_ListPrincipalThings(emu, rq):
    reg = emu.reg()
    _, c = emu.cert_of_arn(reg, rq.headers.get("x-amzn-principal"))
    items, more = page(list(c.get("things") or []), rq.query.get("maxResults"),
                       rq.query.get("nextToken"))
    return {"things": items, **({"nextToken": more} if more else {})}


# ------------------------------------------------------------------ policies

def policy_doc(rq):
    text = body_str(rq, "policyDocument", required=True)
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ApiError("MalformedPolicyException", "The policy document is not JSON: %s" % e)
    return text, doc


def op_CreatePolicy(emu, rq):
    reg = emu.reg()
    name = policy_name(rq)
    text, doc = policy_doc(rq)
    emu.send({"op": "create-policy", "name": name, "document": doc})
    return {"policyName": name, "policyArn": emu.arn("policy", name, reg),
            "policyDocument": text, "policyVersionId": "1"}


def op_GetPolicy(emu, rq):
    reg = emu.reg()
    name = policy_name(rq)
    doc = reg.get("policies", {}).get(name)
    need(doc is not None, "ResourceNotFoundException", "The policy %s does not exist." % name)
    return {"policyName": name, "policyArn": emu.arn("policy", name, reg),
            "policyDocument": json.dumps(doc), "defaultVersionId": "1",
            "generationId": "1"}


def op_ListPolicies(emu, rq):
    reg = emu.reg()
    items = [{"policyName": n, "policyArn": emu.arn("policy", n, reg)}
             for n in sorted(reg.get("policies", {})) if not n.startswith(CLAIM_POLICY_PREFIX)]
    if rq.query.get("isAscendingOrder") == "false":
        items.reverse()
    items, more = page(items, rq.query.get("pageSize"), rq.query.get("marker"))
    return {"policies": items, **({"nextMarker": more} if more else {})}


def op_DeletePolicy(emu, rq):
    emu.send({"op": "delete-policy", "name": policy_name(rq)})


def attach(emu, rq, name, target):
    reg = emu.reg()
    need(name in reg.get("policies", {}), "ResourceNotFoundException",
         "The policy %s does not exist." % name)
    cid, c = emu.cert_of_arn(reg, target)
    pols = c.get("policies") or []
    need(name in pols or len(pols) < MAX_POLICIES_PER_CERT, "LimitExceededException",
         "A certificate can have at most %d policies attached" % MAX_POLICIES_PER_CERT)
    emu.send({"op": "attach-policy", "certificateId": cid, "policy": name})


def op_AttachPolicy(emu, rq):
    attach(emu, rq, policy_name(rq), body_str(rq, "target", required=True))


def op_AttachPrincipalPolicy(emu, rq):
    attach(emu, rq, policy_name(rq), rq.headers.get("x-amzn-iot-principal"))


def op_DetachPolicy(emu, rq):
    reg = emu.reg()
    cid, _ = emu.cert_of_arn(reg, body_str(rq, "target", required=True))
    emu.send({"op": "detach-policy", "certificateId": cid, "policy": policy_name(rq)})


def op_ListAttachedPolicies(emu, rq):
    reg = emu.reg()
    _, c = emu.cert_of_arn(reg, rq.path["target"])
    items = [{"policyName": n, "policyArn": emu.arn("policy", n, reg)}
             for n in c.get("policies") or [] if not n.startswith(CLAIM_POLICY_PREFIX)]
    items, more = page(items, rq.query.get("pageSize"), rq.query.get("marker"))
    return {"policies": items, **({"nextMarker": more} if more else {})}


# ------------------------------------------------------------------ provisioning templates

def hook_fields(emu, hook, ttype):
    need(isinstance(hook, dict) and hook.get("targetArn"), "InvalidRequestException",
         "preProvisioningHook needs targetArn")
    need(ttype == "FLEET_PROVISIONING", "InvalidRequestException",
         "A pre-provisioning hook is only supported for templates of type FLEET_PROVISIONING")
    return {"preProvisioningHook": emu.hook_command(hook),
            "preProvisioningHookArn": hook["targetArn"],
            "payloadVersion": hook.get("payloadVersion") or "2020-04-01"}


def op_CreateProvisioningTemplate(emu, rq):
    reg = emu.reg()
    name = body_str(rq, "templateName", required=True)
    need(RE_TEMPLATE.match(name), "InvalidRequestException",
         "templateName must match ^[0-9A-Za-z_-]+$ (1-36 characters)")
    text = body_str(rq, "templateBody", required=True)
    role = body_str(rq, "provisioningRoleArn", required=True)
    need(role.startswith("arn:aws:iam::"), "InvalidRequestException",
         "provisioningRoleArn must be an IAM role ARN")
    ttype = body_str(rq, "type") or "FLEET_PROVISIONING"
    need(ttype in ("FLEET_PROVISIONING", "JITP"), "InvalidRequestException",
         "type must be FLEET_PROVISIONING or JITP")
    try:
        body = json.loads(text)
    except ValueError as e:
        raise ApiError("InvalidRequestException", "templateBody is not JSON: %s" % e)
    cmd = {"op": "create-template", "name": name, "body": body, "type": ttype,
           "enabled": bool(rq.body.get("enabled")), "provisioningRoleArn": role}
    if body_str(rq, "description") is not None:
        cmd["description"] = rq.body["description"]
    if rq.body.get("preProvisioningHook"):
        cmd.update(hook_fields(emu, rq.body["preProvisioningHook"], ttype))
    emu.send(cmd)
    return {"templateArn": emu.arn("provisioningtemplate", name, reg), "templateName": name,
            "defaultVersionId": 1}


def template_view(emu, reg, name, t, full):
    v = {"templateArn": emu.arn("provisioningtemplate", name, reg), "templateName": name,
         "enabled": bool(t.get("enabled", True)), "type": t.get("type", "FLEET_PROVISIONING")}
    for k in ("description", "creationDate", "lastModifiedDate"):
        if t.get(k) is not None:
            v[k] = t[k]
    if full:
        body = t.get("body")
        v["templateBody"] = body if isinstance(body, str) else json.dumps(body)
        v["defaultVersionId"] = t.get("defaultVersionId", 1)
        if t.get("provisioningRoleArn"):
            v["provisioningRoleArn"] = t["provisioningRoleArn"]
        if t.get("preProvisioningHookArn"):
            v["preProvisioningHook"] = {"targetArn": t["preProvisioningHookArn"],
                                        "payloadVersion": t.get("payloadVersion", "2020-04-01")}
    return v


def op_DescribeProvisioningTemplate(emu, rq):
    reg = emu.reg()
    name = rq.path["templateName"]
    return template_view(emu, reg, name, emu.template(reg, name), True)


def op_ListProvisioningTemplates(emu, rq):
    reg = emu.reg()
    items = [template_view(emu, reg, n, t, False) for n, t in sorted(reg.get("templates", {}).items())
             if not t.get("caCertificateId")]
    items, more = page(items, rq.query.get("maxResults"), rq.query.get("nextToken"))
    return {"templates": items, **({"nextToken": more} if more else {})}


def op_UpdateProvisioningTemplate(emu, rq):
    reg = emu.reg()
    name = rq.path["templateName"]
    t = emu.template(reg, name)
    cmd = {"op": "update-template", "name": name}
    if "enabled" in rq.body:
        cmd["enabled"] = bool(rq.body["enabled"])
    for k in ("description", "provisioningRoleArn"):
        if body_str(rq, k) is not None:
            cmd[k] = rq.body[k]
    if rq.body.get("preProvisioningHook"):
        cmd.update(hook_fields(emu, rq.body["preProvisioningHook"],
                               t.get("type", "FLEET_PROVISIONING")))
    if rq.body.get("removePreProvisioningHook"):
        cmd.update({"preProvisioningHook": None, "preProvisioningHookArn": None,
                    "payloadVersion": None})
    emu.send(cmd)


def op_DeleteProvisioningTemplate(emu, rq):
    reg = emu.reg()
    name = rq.path["templateName"]
    emu.template(reg, name)
    emu.send({"op": "delete-template", "name": name})


def claim_policy(emu, reg, template):
    """What a claim from CreateProvisioningClaim may do: the fleet-provisioning topics of its
    template (AWS attaches no visible policy; the emulator keeps one under a name AWS cannot
    have, not listed)."""
    base = "arn:aws:iot:%s:%s:" % (emu.region(reg), emu.account(reg))
    topics = ["$aws/certificates/create/*", "$aws/certificates/create-from-csr/*",
              "$aws/provisioning-templates/%s/provision/*" % template]
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": [base + "topic/" + t for t in topics]},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": [base + "topicfilter/" + t for t in topics]}]}


def op_CreateProvisioningClaim(emu, rq):
    reg = emu.reg()
    name = rq.path["templateName"]
    t = emu.template(reg, name)
    need(t.get("type", "FLEET_PROVISIONING") == "FLEET_PROVISIONING", "InvalidRequestException",
         "Provisioning claims are for templates of type FLEET_PROVISIONING")
    policy = CLAIM_POLICY_PREFIX + name
    emu.send({"op": "put-policy", "name": policy, "document": claim_policy(emu, reg, name)})
    ans = emu.send({"op": "create-claim", "policy": policy})
    return {"certificateId": ans["certificateId"], "certificatePem": ans["certificatePem"],
            "keyPair": {"PublicKey": public_key(ans["privateKey"]),
                        "PrivateKey": ans["privateKey"]},
            "expiration": ans.get("expiration", int(time.time()) + 300)}


# ------------------------------------------------------------------ endpoint

def op_DescribeEndpoint(emu, rq):
    t = rq.query.get("endpointType") or "iot:Data"
    need(t in ("iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs"),
         "InvalidRequestException",
         "endpointType must be iot:Data, iot:Data-ATS, iot:CredentialProvider or iot:Jobs")
    return {"endpointAddress": emu.endpoint}


# ------------------------------------------------------------------ jobs (the device side: MQTT)

def job_id(rq):
    j = rq.path["jobId"]
    need(RE_JOB.match(j), "InvalidRequestException",
         "jobId must match [a-zA-Z0-9_-]+ (1-64 characters)")
    return j


def job_target(emu, reg, arn):
    """A target ARN -> "thing/NAME" or "thinggroup/NAME" (the admin command's form)."""
    for kind in ("thing", "thinggroup"):
        prefix = emu.arn(kind, "", reg)
        if isinstance(arn, str) and arn.startswith(prefix) and len(arn) > len(prefix):
            return kind + "/" + arn[len(prefix):]
    raise ApiError("InvalidRequestException",
                   "targets must be thing or thing group ARNs of this account and region: %s" % arn)


def op_CreateJob(emu, rq):
    reg = emu.reg()
    jid = job_id(rq)
    targets = rq.body.get("targets")
    need(isinstance(targets, list) and targets, "InvalidRequestException", "targets is required")
    doc = body_str(rq, "document", required=True)  # documentSource (S3) is not emulated
    try:
        doc = json.loads(doc)
    except ValueError:
        doc = None
    need(isinstance(doc, dict), "InvalidRequestException", "document must be a JSON object")
    need(rq.body.get("targetSelection", "SNAPSHOT") == "SNAPSHOT", "InvalidRequestException",
         "only SNAPSHOT jobs are emulated")
    emu.send({"op": "create-job", "jobId": jid, "document": doc,
              "targets": [job_target(emu, reg, t) for t in targets]})
    r = {"jobArn": emu.arn("job", jid, reg), "jobId": jid}
    if body_str(rq, "description"):
        r["description"] = rq.body["description"]
    return r


def job_of(emu, reg, jid):
    j = reg.get("jobs", {}).get(jid)
    need(j is not None, "ResourceNotFoundException", "Job %s cannot be found." % jid)
    return j


def op_DescribeJob(emu, rq):
    reg = emu.reg()
    jid = job_id(rq)
    j = job_of(emu, reg, jid)
    counts = {}
    for x in j.get("executions", {}).values():
        counts[x["status"]] = counts.get(x["status"], 0) + 1
    names = {"SUCCEEDED": "numberOfSucceededThings", "FAILED": "numberOfFailedThings",
             "REJECTED": "numberOfRejectedThings", "TIMED_OUT": "numberOfTimedOutThings",
             "CANCELED": "numberOfCanceledThings", "REMOVED": "numberOfRemovedThings",
             "QUEUED": "numberOfQueuedThings", "IN_PROGRESS": "numberOfInProgressThings"}
    return {"job": {"jobArn": emu.arn("job", jid, reg), "jobId": jid, "targetSelection": "SNAPSHOT",
                    "status": j["status"], "createdAt": j["createdAt"],
                    "lastUpdatedAt": j["lastUpdatedAt"],
                    "targets": [emu.arn(*t.split("/", 1), reg) for t in j.get("targets", [])],
                    "jobProcessDetails": {v: counts.get(k, 0) for k, v in names.items()}}}


def execution_times(x):
    return {k: x[k] for k in ("queuedAt", "startedAt", "lastUpdatedAt") if k in x}


def op_DescribeJobExecution(emu, rq):
    reg = emu.reg()
    jid, name = job_id(rq), thing_name(rq)
    x = reg.get("jobs", {}).get(jid, {}).get("executions", {}).get(name)
    need(x is not None, "ResourceNotFoundException",
         "Job execution for job %s and thing %s cannot be found." % (jid, name))
    e = {"jobId": jid, "status": x["status"], "thingArn": emu.arn("thing", name, reg),
         "executionNumber": x["executionNumber"], "versionNumber": x["versionNumber"],
         "statusDetails": {"detailsMap": x.get("statusDetails", {})}, **execution_times(x)}
    if "stepTimeoutAt" in x:
        e["approximateSecondsBeforeTimedOut"] = max(0, x["stepTimeoutAt"] - int(time.time()))
    return {"execution": e}


def op_ListJobExecutionsForJob(emu, rq):
    reg = emu.reg()
    jid = job_id(rq)
    j = job_of(emu, reg, jid)
    items = [{"thingArn": emu.arn("thing", n, reg),
              "jobExecutionSummary": {"status": x["status"], "executionNumber": x["executionNumber"],
                                      **execution_times(x)}}
             for n, x in sorted(j.get("executions", {}).items())
             if rq.query.get("status") in (None, x["status"])]
    items, more = page(items, rq.query.get("maxResults"), rq.query.get("nextToken"))
    return {"executionSummaries": items, **({"nextToken": more} if more else {})}


def op_CancelJob(emu, rq):
    reg = emu.reg()
    jid = job_id(rq)
    emu.send({"op": "cancel-job", "jobId": jid, "force": flag(rq, "force")})
    return {"jobArn": emu.arn("job", jid, reg), "jobId": jid}
