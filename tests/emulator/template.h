/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS IoT provisioning-template engine for the emulator: Parameters (+Default), Mappings,
 * Resources (AWS::IoT::Thing, AWS::IoT::Certificate, AWS::IoT::Policy, OverrideSettings),
 * DeviceConfiguration and the intrinsics Ref, Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap,
 * Fn::Sub. Pure: json-c only. It computes what to create; the caller applies it.
 */
#pragma once

#include <stddef.h>

#include <json-c/json.h>

#define OB_EMU_TEMPLATE_MAX_BODY     10240
#define OB_EMU_TEMPLATE_MAX_POLICIES 10

typedef struct ObEmuTemplatePolicy {
        char *name;            /* PolicyName, or NULL when given as a document */
        json_object *document; /* owned; NULL when given by name */
} ObEmuTemplatePolicy;

typedef struct ObEmuTemplateResult {
        char *thing_name;              /* NULL if the template has no thing */
        json_object *thing_attributes; /* owned object or NULL */
        char *thing_type;
        json_object *thing_groups;   /* owned array or NULL */
        json_object *thing_override; /* owned OverrideSettings object or NULL */
        char *certificate_id;        /* from the Certificate resource, NULL if none */
        char *certificate_status;    /* "ACTIVE" or "INACTIVE" (upper-cased) */
        ObEmuTemplatePolicy policies[OB_EMU_TEMPLATE_MAX_POLICIES];
        size_t n_policies;
        json_object *device_configuration; /* owned flat object of strings, never NULL on success */
} ObEmuTemplateResult;

/*
 * Parse a template given either as a JSON object or as a JSON string holding the body (AWS
 * stores it as an escaped string). Returns a new reference or NULL (too large, not an object).
 */
json_object *ob_emu_template_parse(json_object *body);

/*
 * Evaluate `tmpl` with `params` (object of string values: request parameters merged with the
 * auto-filled AWS::IoT::Certificate::* ones). On error returns -EINVAL and sets *ret_error to a
 * malloc'd message (caller frees). On success fills *ret (release with
 * ob_emu_template_result_done).
 */
int ob_emu_template_run(json_object *tmpl, json_object *params, ObEmuTemplateResult *ret,
                        char **ret_error);

void ob_emu_template_result_done(ObEmuTemplateResult *r);
