/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <string.h>

#include "admin-cmds.h"
#include "macro.h"
#include "policy.h"
#include "template.h"

static json_object *get(json_object *o, const char *key)
{
        json_object *v = NULL;

        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
                return NULL;
        return v;
}

static const char *get_str(json_object *o, const char *key, const char *def)
{
        json_object *v = get(o, key);

        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : def;
}

static json_object *section(json_object *reg, const char *name)
{
        json_object *s = get(reg, name);

        if (json_object_is_type(s, json_type_object))
                return s;
        s = json_object_new_object();
        json_object_object_add(reg, name, s);
        return s;
}

static json_object *entry_array(json_object *entry, const char *key)
{
        json_object *a = get(entry, key);

        if (!json_object_is_type(a, json_type_array)) {
                a = json_object_new_array();
                json_object_object_add(entry, key, a);
        }
        return a;
}

static ssize_t array_find(json_object *arr, const char *s)
{
        size_t n = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;

        for (size_t i = 0; i < n; i++) {
                const char *v = json_object_get_string(json_object_array_get_idx(arr, i));
                if (v && !strcmp(v, s))
                        return (ssize_t)i;
        }
        return -1;
}

static bool array_remove(json_object *arr, const char *s)
{
        ssize_t i = array_find(arr, s);

        if (i < 0)
                return false;
        json_object_array_del_idx(arr, (size_t)i, 1);
        return true;
}

static size_t alen(json_object *a)
{
        return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* The failure path of every command: AWS's exception name and the detail for the answer. */
static int fail(json_object *res, const char **ret_error, int r, const char *code,
                const char *short_text, const char *detail)
{
        json_object_object_add(res, "errorCode", json_object_new_string(code));
        json_object_object_add(res, "message",
                               json_object_new_string(detail ? detail : short_text));
        *ret_error = short_text;
        return r;
}

#define FAIL(r, code, text, ...)                                                                   \
        ({                                                                                         \
                char _d[512];                                                                      \
                snprintf(_d, sizeof(_d), __VA_ARGS__);                                             \
                fail(res, ret_error, r, code, text, _d);                                           \
        })

static json_object *object_or_empty(json_object *o)
{
        return json_object_is_type(o, json_type_object) ? json_object_get(o)
                                                        : json_object_new_object();
}

/* ------------------------------------------------------------------ things */

static int create_thing(json_object *reg, json_object *cmd, int64_t now, json_object *res,
                        const char **ret_error)
{
        const char *name = get_str(cmd, "thingName", NULL),
                   *type = get_str(cmd, "thingTypeName", NULL);
        json_object *things = section(reg, "things"), *t = get(things, name ? name : "");
        json_object *attrs = get(cmd, "attributes");

        if (!name || !*name)
                return FAIL(-EINVAL, "InvalidRequestException", "thingName is required", "%s",
                            "thingName is required");
        if (t) {
                /* AWS: the same name and configuration succeeds, a different one is refused */
                json_object *old = get(t, "attributes"), *none = json_object_new_object();
                bool same = json_object_equal(old ? old : none, attrs ? attrs : none) &&
                            !strcmp(get_str(t, "thingTypeName", ""), type ? type : "");
                json_object_put(none);
                if (!same)
                        return FAIL(-EEXIST, "ResourceAlreadyExistsException",
                                    "the thing exists with another configuration",
                                    "Thing %s already exists in account with different attributes",
                                    name);
                json_object_object_add(res, "existed", json_object_new_boolean(1));
                return 1;
        }
        t = json_object_new_object();
        json_object_object_add(t, "attributes", object_or_empty(attrs));
        if (type)
                json_object_object_add(t, "thingTypeName", json_object_new_string(type));
        if (get_str(cmd, "billingGroupName", NULL))
                json_object_object_add(t, "billingGroupName",
                                       json_object_get(get(cmd, "billingGroupName")));
        json_object_object_add(t, "version", json_object_new_int64(1));
        json_object_object_add(t, "creationDate", json_object_new_int64(now));
        json_object_object_add(things, name, t);
        return 1;
}

static bool thing_has_principals(json_object *reg, const char *name)
{
        json_object_object_foreach(section(reg, "certificates"), id, c)
        {
                (void)id;
                if (array_find(get(c, "things"), name) >= 0)
                        return true;
        }
        return false;
}

static int delete_thing(json_object *reg, json_object *cmd, json_object *res,
                        const char **ret_error)
{
        const char *name = get_str(cmd, "thingName", NULL);
        json_object *t = get(section(reg, "things"), name ? name : ""),
                    *ev = get(cmd, "expectedVersion");

        if (!t) /* AWS: "Returns successfully ... if you specify a thing that doesn't exist" */
                return 1;
        if (ev && json_object_get_int64(ev) !=
                          (get(t, "version") ? json_object_get_int64(get(t, "version")) : 1))
                return FAIL(-ESTALE, "VersionConflictException", "expectedVersion does not match",
                            "The version for thing %s does not match the expected version.", name);
        if (thing_has_principals(reg, name))
                return FAIL(-EBUSY, "InvalidRequestException", "the thing has principals",
                            "Cannot delete. Thing %s is still attached to one or more principals",
                            name);
        json_object_object_del(section(reg, "things"), name);
        return 1;
}

static int thing_principal(json_object *reg, json_object *cmd, bool attach, json_object *res,
                           const char **ret_error)
{
        const char *name = get_str(cmd, "thingName", NULL),
                   *id = get_str(cmd, "certificateId", NULL);
        json_object *c = get(section(reg, "certificates"), id ? id : "");

        if (!name || !get(section(reg, "things"), name))
                return FAIL(-ENOENT, "ResourceNotFoundException", "no such thing",
                            "Thing %s cannot be found.", name ? name : "");
        if (!c)
                return FAIL(-ENOENT, "ResourceNotFoundException", "no such certificate",
                            "The certificate %s does not exist.", id ? id : "");
        if (attach) {
                if (array_find(get(c, "things"), name) < 0)
                        json_object_array_add(entry_array(c, "things"),
                                              json_object_new_string(name));
        } else {
                array_remove(get(c, "things"), name);
        }
        return 1;
}

/* ------------------------------------------------------------------ certificates, policies */

static int delete_certificate(json_object *reg, json_object *cmd, json_object *res,
                              const char **ret_error)
{
        const char *id = get_str(cmd, "certificateId", NULL);
        json_object *certs = section(reg, "certificates"), *c = get(certs, id ? id : "");
        bool force = json_object_get_boolean(get(cmd, "forceDelete"));
        char arn_hint[160];

        if (!c)
                return FAIL(-ENOENT, "ResourceNotFoundException", "no such certificate",
                            "The certificate %s does not exist.", id ? id : "");
        snprintf(arn_hint, sizeof(arn_hint), "Id: %s", id);
        if (!strcmp(get_str(c, "status", ""), "ACTIVE"))
                return FAIL(-EBUSY, "CertificateStateException", "the certificate is ACTIVE",
                            "Certificate must be deactivated (not ACTIVE) before deletion. %s",
                            arn_hint);
        if (alen(get(c, "things")) > 0)
                return FAIL(-EBUSY, "DeleteConflictException", "things are attached",
                            "Things must be detached before deletion (%s)", arn_hint);
        if (alen(get(c, "policies")) > 0 && !force)
                return FAIL(-EBUSY, "DeleteConflictException", "policies are attached",
                            "Certificate policies must be detached before deletion (%s)", arn_hint);
        /* its ownership tokens go with it */
        for (bool again = true; again;) {
                again = false;
                json_object_object_foreach(section(reg, "tokens"), tok, t)
                {
                        if (!strcmp(get_str(t, "certificateId", ""), id)) {
                                json_object_object_del(section(reg, "tokens"), tok);
                                again = true;
                                break;
                        }
                }
        }
        json_object_object_del(certs, id);
        return 1;
}

static int detach_policy(json_object *reg, json_object *cmd, json_object *res,
                         const char **ret_error)
{
        const char *id = get_str(cmd, "certificateId", NULL), *p = get_str(cmd, "policy", NULL);
        json_object *c = get(section(reg, "certificates"), id ? id : "");

        if (!c)
                return FAIL(-ENOENT, "ResourceNotFoundException", "no such certificate",
                            "The certificate %s does not exist.", id ? id : "");
        if (!p || !get(section(reg, "policies"), p))
                return FAIL(-ENOENT, "ResourceNotFoundException", "no such policy",
                            "The policy %s does not exist.", p ? p : "");
        array_remove(get(c, "policies"), p);
        return 1;
}

static int create_policy(json_object *reg, json_object *cmd, json_object *res,
                         const char **ret_error)
{
        const char *name = get_str(cmd, "name", NULL);
        json_object *doc = get(cmd, "document");

        if (!name || !*name)
                return FAIL(-EINVAL, "InvalidRequestException", "name is required", "%s",
                            "policyName is required");
        if (get(section(reg, "policies"), name))
                return FAIL(-EEXIST, "ResourceAlreadyExistsException", "the policy exists",
                            "Policy %s already exists", name);
        if (ob_emu_policy_validate(doc) < 0)
                return FAIL(-EINVAL, "MalformedPolicyException", "not a valid IoT policy", "%s",
                            "The policy document is not a valid IoT policy: Version, Statement "
                            "with Effect Allow|Deny, Action and Resource");
        json_object_object_add(section(reg, "policies"), name, json_object_get(doc));
        return 1;
}

static int delete_policy(json_object *reg, json_object *cmd, json_object *res,
                         const char **ret_error)
{
        const char *name = get_str(cmd, "name", NULL);

        if (!name || !get(section(reg, "policies"), name))
                return FAIL(-ENOENT, "ResourceNotFoundException", "no such policy",
                            "The policy %s does not exist.", name ? name : "");
        json_object_object_foreach(section(reg, "certificates"), id, c)
        {
                (void)id;
                if (array_find(get(c, "policies"), name) >= 0)
                        return FAIL(-EBUSY, "DeleteConflictException", "the policy is attached",
                                    "The policy cannot be deleted as the policy is attached to "
                                    "one or more principals (name=%s)",
                                    name);
        }
        json_object_object_del(section(reg, "policies"), name);
        return 1;
}

/* ------------------------------------------------------------------ provisioning templates */

/* The AWS fields a template entry keeps besides `body` and `enabled` (plugin.c reads those and
 * `preProvisioningHook`, the command that stands in for the Lambda function). */
static const char *const template_fields[] = {
        "description",
        "type",
        "provisioningRoleArn",
        "preProvisioningHook",
        "preProvisioningHookArn",
        "payloadVersion",
        "caCertificateId",
};

static int put_template_fields(json_object *t, json_object *cmd)
{
        for (size_t i = 0; i < OB_ELEMENTSOF(template_fields); i++) {
                json_object *v;
                if (!json_object_object_get_ex(cmd, template_fields[i], &v))
                        continue;
                if (v) /* JSON null removes the field */
                        json_object_object_add(t, template_fields[i], json_object_get(v));
                else
                        json_object_object_del(t, template_fields[i]);
        }
        if (get(cmd, "enabled"))
                json_object_object_add(
                        t, "enabled",
                        json_object_new_boolean(json_object_get_boolean(get(cmd, "enabled"))));
        return 0;
}

static int create_template(json_object *reg, json_object *cmd, int64_t now, json_object *res,
                           const char **ret_error)
{
        const char *name = get_str(cmd, "name", NULL);
        json_object *body, *t;

        if (!name || !*name)
                return FAIL(-EINVAL, "InvalidRequestException", "name is required", "%s",
                            "templateName is required");
        if (get(section(reg, "templates"), name))
                return FAIL(-EEXIST, "ResourceAlreadyExistsException", "the template exists",
                            "Template %s already exists", name);
        body = ob_emu_template_parse(get(cmd, "body"));
        if (!body)
                return FAIL(-EINVAL, "InvalidRequestException", "the template body is not valid",
                            "%s", "templateBody is not a JSON object of at most 10240 bytes");
        t = json_object_new_object();
        json_object_object_add(t, "enabled", json_object_new_boolean(0)); /* AWS's default */
        json_object_object_add(t, "body", body);
        put_template_fields(t, cmd);
        json_object_object_add(t, "creationDate", json_object_new_int64(now));
        json_object_object_add(t, "lastModifiedDate", json_object_new_int64(now));
        json_object_object_add(t, "defaultVersionId", json_object_new_int64(1));
        json_object_object_add(section(reg, "templates"), name, t);
        return 1;
}

static int update_template(json_object *reg, json_object *cmd, int64_t now, json_object *res,
                           const char **ret_error)
{
        const char *name = get_str(cmd, "name", NULL);
        json_object *t = get(section(reg, "templates"), name ? name : "");

        if (!t)
                return FAIL(-ENOENT, "ResourceNotFoundException", "no such template",
                            "The provisioning template %s does not exist", name ? name : "");
        if (get(cmd, "body")) {
                json_object *body = ob_emu_template_parse(get(cmd, "body"));
                if (!body)
                        return FAIL(-EINVAL, "InvalidRequestException",
                                    "the template body is not valid", "%s",
                                    "templateBody is not a JSON object of at most 10240 bytes");
                json_object_object_add(t, "body", body);
        }
        put_template_fields(t, cmd);
        json_object_object_add(t, "lastModifiedDate", json_object_new_int64(now));
        return 1;
}

static int delete_template(json_object *reg, json_object *cmd, json_object *res,
                           const char **ret_error)
{
        const char *name = get_str(cmd, "name", NULL);

        if (!name || !get(section(reg, "templates"), name))
                return FAIL(-ENOENT, "ResourceNotFoundException", "no such template",
                            "The provisioning template %s does not exist", name ? name : "");
        json_object_object_foreach(section(reg, "cas"), ca_id, ca)
        {
                if (!strcmp(get_str(ca, "template", ""), name))
                        return FAIL(-EBUSY, "DeleteConflictException", "a CA uses the template",
                                    "The provisioning template %s is used by CA certificate %s",
                                    name, ca_id);
        }
        json_object_object_del(section(reg, "templates"), name);
        return 1;
}

int ob_emu_admin_cmd(json_object *reg, json_object *cmd, int64_t now, json_object *res,
                     const char **ret_error)
{
        const char *op = get_str(cmd, "op", "");

        if (!strcmp(op, "create-thing"))
                return create_thing(reg, cmd, now, res, ret_error);
        if (!strcmp(op, "delete-thing"))
                return delete_thing(reg, cmd, res, ret_error);
        if (!strcmp(op, "attach-thing-principal") || !strcmp(op, "detach-thing-principal"))
                return thing_principal(reg, cmd, op[0] == 'a', res, ret_error);
        if (!strcmp(op, "delete-certificate"))
                return delete_certificate(reg, cmd, res, ret_error);
        if (!strcmp(op, "detach-policy"))
                return detach_policy(reg, cmd, res, ret_error);
        if (!strcmp(op, "create-policy"))
                return create_policy(reg, cmd, res, ret_error);
        if (!strcmp(op, "delete-policy"))
                return delete_policy(reg, cmd, res, ret_error);
        if (!strcmp(op, "create-template"))
                return create_template(reg, cmd, now, res, ret_error);
        if (!strcmp(op, "update-template"))
                return update_template(reg, cmd, now, res, ret_error);
        if (!strcmp(op, "delete-template"))
                return delete_template(reg, cmd, res, ret_error);
        return 0;
}
