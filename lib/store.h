/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Atomic, versioned, checksummed store for one JSON object (the agent's state.json).
 *
 * File format (docs/state.md):
 *     ONBOARD-STATE <format> <generation> sha256:<64 hex> <payload length>\n
 *     <payload: compact JSON, exactly <payload length> bytes>\n
 * Save: temp file (O_EXCL, 0600) -> write -> fsync -> keep the current good file as NAME.prev
 * (hard link + rename) -> rename temp over NAME -> fsync the directory.
 * Load: NAME if it is intact, else NAME.prev, and the load info says which and why.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "fsops.h"
#include "macro.h"

#define OB_STORE_FORMAT   1
#define OB_STORE_MAX_SIZE (1024 * 1024)

typedef struct ObStore ObStore;

typedef enum ObStoreSource {
        OB_STORE_SOURCE_MAIN,
        OB_STORE_SOURCE_PREV,
} ObStoreSource;

typedef struct ObStoreLoadInfo {
        ObStoreSource source;  /* which copy was returned */
        uint64_t generation;   /* its generation */
        int main_error;        /* 0, or why the main copy was not used (negative errno) */
        char main_reason[160]; /* human text for main_error, "" when 0 */
} ObStoreLoadInfo;

/*
 * Open the store NAME inside directory DIR (which must exist). ops NULL means the real
 * filesystem. Returns 0 or negative errno (-ENOENT/-ENOTDIR for DIR, -ENOMEM).
 */
int ob_store_open(const char *dir, const char *name, const ObFsOps *ops, ObStore **ret);
ObStore *ob_store_free(ObStore *s);
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(ObStore *, ob_store_free)

/*
 * Load the newest intact copy. On success *ret owns a new reference. Errors: -ENOENT no state
 * yet (fresh device: neither copy exists), -EBADMSG both copies corrupt or torn,
 * -EPROTONOSUPPORT written by a newer format, -EFBIG larger than OB_STORE_MAX_SIZE, or the
 * errno of a failed read. info (may be NULL) reports a fallback to the previous copy.
 */
int ob_store_load(ObStore *s, json_object **ret, ObStoreLoadInfo *info);

/*
 * Atomically replace the state with payload (a JSON object). The generation is one more than
 * the newest seen; call ob_store_load() first so an existing state is kept as NAME.prev. On failure
 * (negative errno) the previous state is still what loads.
 */
int ob_store_save(ObStore *s, json_object *payload);

/* Generation of the last state loaded or saved (0 before any). */
uint64_t ob_store_generation(const ObStore *s);

/* Parse one store file image (exposed for fuzzing and tests). Returns 0, -EBADMSG,
 * -EPROTONOSUPPORT. */
int ob_store_parse(const char *data, size_t size, json_object **ret, uint64_t *ret_generation,
                   char *reason, size_t reason_size);
