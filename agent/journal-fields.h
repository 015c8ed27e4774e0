/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The structured journal fields of the engine's log lines (docs/operations.md, "Journal
 * fields"): taken from the status the daemon reports at that moment, so the journal and
 * `agentctl status` never disagree. Pure.
 */
#pragma once

#include <stddef.h>

#include <json-c/json.h>

#define OB_JOURNAL_FIELDS_MAX 12
#define OB_JOURNAL_FIELD_LEN  192

typedef struct ObJournalFields {
        char buf[OB_JOURNAL_FIELDS_MAX][OB_JOURNAL_FIELD_LEN];
        const char *list[OB_JOURNAL_FIELDS_MAX + 1]; /* NULL-terminated, for ob_log_full() */
} ObJournalFields;

/*
 * Fill f from a status object (ob_onboard_status()): OB_STATE, OB_STAGE, OB_METHOD, OB_THING,
 * OB_CERT_ID, OB_ERROR_CODE, OB_ERROR_CLASS, OB_NEXT_RETRY, each only when the status has it.
 * Returns f->list.
 */
const char *const *ob_journal_fields(json_object *status, ObJournalFields *f);
