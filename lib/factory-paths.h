/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a device's factory identity lives (docs/state.md, "Factory identity"): the certificate,
 * key and CA chain that the static, jitp and jitr methods connect with. `agentctl factory`
 * writes them; the onboarding machine reads them. One place for the names, so both agree.
 *
 *   <state_dir>/factory/            0750
 *   ├── device.key                  TSS2 PRIVATE KEY PEM (key.backend tpm) or PEM (software)
 *   ├── device.crt                  PEM certificate (the device certificate only)
 *   └── chain.pem                   optional: the issuing CA chain (PEM), sent by jitp/jitr
 *
 * Configured paths win: provisioning.device_cert / device_key / device_chain. With key.backend
 * tpm and tpm.vendor_key_handle set, the key is the vendor's persistent key
 * ("handle:0x81......", lib/key-provider.h), never a file.
 */
#pragma once

#include <stdbool.h>

#include "config-file.h"
#include "fsops.h"
#include "macro.h"

#define OB_FACTORY_DIR       "factory"
#define OB_FACTORY_DIR_MODE  0750
#define OB_FACTORY_KEY       "device.key"
#define OB_FACTORY_CERT      "device.crt"
#define OB_FACTORY_CHAIN     "chain.pem"
#define OB_FACTORY_CERT_MODE 0644
#define OB_FACTORY_KEY_MODE  0600
/* In a credential slot made from a vendor's handle key, instead of device.key: a text file
 * holding the key's path, e.g. "handle:0x81000002\n", for applications (docs/state.md). */
#define OB_SLOT_KEY_HANDLE      "device.key-handle"
#define OB_SLOT_KEY_HANDLE_MODE 0644

/* "<state_dir>/factory", malloc'ed; NULL on OOM. */
char *ob_factory_dir(const char *state_dir);
/* "<state_dir>/factory/<name>", malloc'ed; NULL on OOM. */
char *ob_factory_file(const char *state_dir, const char *name);

/* The device identity's files as the config resolves them, all malloc'ed (free with
 * ob_factory_paths_done()). Only names paths: whether the files exist is the caller's check
 * (chain.pem is optional). */
typedef struct ObFactoryPaths {
        char *cert;  /* provisioning.device_cert, else factory/device.crt */
        char *key;   /* provisioning.device_key, "handle:0x........", else factory/device.key */
        char *chain; /* provisioning.device_chain, else factory/chain.pem */
        bool cert_factory; /* cert is the factory folder's (not configured) */
        bool key_handle;   /* key is a persistent TPM handle */
        bool chain_factory;
} ObFactoryPaths;

/* The key of a credential slot whose key file would be slot_key (".../device.key"): that path
 * when the file exists (a rotation's slot has one of its own); else the "handle:0x........" that
 * the slot's device.key-handle records (a slot made from a vendor key: the certificate is for
 * the key at that handle, whatever the config says now); else, with key.backend tpm and
 * tpm.vendor_key_handle set, that handle (a slot made before device.key-handle existed); else
 * slot_key. malloc'ed; NULL on OOM. ops NULL: the real filesystem. */
char *ob_factory_slot_key(const ObConfig *c, const char *slot_key, const ObFsOps *ops);

/* Fill *ret from the config. 0 or -ENOMEM (then *ret holds nothing). */
int ob_factory_paths(const ObConfig *c, ObFactoryPaths *ret);
void ob_factory_paths_done(ObFactoryPaths *p);
