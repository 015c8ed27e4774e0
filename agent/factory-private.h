/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the `agentctl factory` commands share (agent/factory.c; the commands are in
 * agent/factory-csr.c, factory-cert.c and factory-status.c): the Factory context (the
 * configuration, the factory files' paths, the key provider, the factory lock), making and
 * owning what they write, and the guard of the mutating commands (no daemon, one command at a
 * time). Internal to agentctl. Every function that fails says why (agent/cli.h) unless it says
 * otherwise.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "config-file.h"
#include "key-provider.h"
#include "macro.h"

#define EXIT_CONFIG 78
#define EXIT_NOPERM 77

#define DAY_S        86400
#define PATH_MAX_LEN 512

OB_DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free)

typedef struct Factory {
        ObConfig *config;
        char state_dir[PATH_MAX_LEN];
        char dir[PATH_MAX_LEN]; /* <state_dir>/factory */
        char key_path[PATH_MAX_LEN], cert_path[PATH_MAX_LEN], chain_path[PATH_MAX_LEN];
        bool vendor_key; /* the key is tpm.vendor_key_handle's, not a file */
        ObKeyProvider *keys;
        char key_err[512];
        int lock_fd;
        uid_t uid; /* the state directory's owner: who gets what we create */
        gid_t gid;
} Factory;

/* Load the configuration and name the factory files. 0, or an exit code after saying why. */
int ob_factory_init(Factory *f, const char *config_path);

/* Free what f holds and release the factory lock; f may be half-initialised. */
void ob_factory_done(Factory *f);

/* Use the paths the daemon reads (configured provisioning.device_* win). 0, -ENOMEM or
 * -ENAMETOOLONG; says nothing. */
int ob_factory_use_configured_paths(Factory *f);

/* "software" or "tpm". */
const char *ob_factory_backend_name(const Factory *f);

/* Open the key provider; create_srk: make the SRK if absent, else only use it. Negative errno
 * with the reason in f->key_err (not said). */
int ob_factory_open_keys(Factory *f, bool create_srk);

/* Load our key's public half; negative errno with the reason in f->key_err (not said). */
int ob_factory_load_key(Factory *f, EVP_PKEY **ret_pub);

/* SHA-256 of the public key's SubjectPublicKeyInfo, 64 hex digits; -EINVAL, not said. */
int ob_factory_pub_fingerprint(EVP_PKEY *pub, char ret[65]);

/* Give path to the state directory's owner when we are root. 0 or negative errno. */
int ob_factory_own(const Factory *f, const char *path);

/* For the mutating commands: the daemon must not run; make the directories; take the factory
 * lock. 0 or an exit code. */
int ob_factory_prepare(Factory *f);

/* 1 the device is onboarded, 0 not (no state yet), negative errno: state.json cannot be read
 * (not said). */
int ob_factory_onboarded(const Factory *f);

/* Write data to path atomically and give it to the agent. 0 or negative errno. */
int ob_factory_install_file(const Factory *f, const char *path, const char *data, size_t len,
                            mode_t mode);

/* name as RFC 2253 text in buf ("?" when it cannot be printed). */
void ob_factory_name_text(X509_NAME *name, char *buf, size_t size);
