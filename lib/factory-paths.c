/* SPDX-License-Identifier: Apache-2.0 */
/* Factory identity paths (factory-paths.h, docs/state.md). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "factory-paths.h"
#include "key-provider.h"

char *ob_factory_dir(const char *state_dir)
{
        char *p;

        if (asprintf(&p, "%s/" OB_FACTORY_DIR, state_dir) < 0)
                return NULL;
        return p;
}

char *ob_factory_file(const char *state_dir, const char *name)
{
        char *p;

        if (asprintf(&p, "%s/" OB_FACTORY_DIR "/%s", state_dir, name) < 0)
                return NULL;
        return p;
}

void ob_factory_paths_done(ObFactoryPaths *p)
{
        free(p->cert);
        free(p->key);
        free(p->chain);
        *p = (ObFactoryPaths){0};
}

int ob_factory_paths(const ObConfig *c, ObFactoryPaths *ret)
{
        ObFactoryPaths p = {0};
        const char *sd = c->paths.state_dir;

        p.cert_factory = !c->provisioning.device_cert;
        p.cert = p.cert_factory ? ob_factory_file(sd, OB_FACTORY_CERT)
                                : strdup(c->provisioning.device_cert);
        if (c->provisioning.device_key)
                p.key = strdup(c->provisioning.device_key);
        else if (c->key.backend == OB_KEY_BACKEND_TPM && c->tpm.vendor_key_handle) {
                p.key_handle = true;
                if (asprintf(&p.key, OB_KEY_PATH_HANDLE_PREFIX "0x%08x", c->tpm.vendor_key_handle) <
                    0)
                        p.key = NULL;
        } else
                p.key = ob_factory_file(sd, OB_FACTORY_KEY);
        p.chain_factory = !c->provisioning.device_chain;
        p.chain = p.chain_factory ? ob_factory_file(sd, OB_FACTORY_CHAIN)
                                  : strdup(c->provisioning.device_chain);
        if (!p.cert || !p.key || !p.chain) {
                ob_factory_paths_done(&p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

char *ob_factory_slot_key(const ObConfig *c, const char *slot_key)
{
        char *p;

        if (access(slot_key, F_OK) == 0 || c->key.backend != OB_KEY_BACKEND_TPM ||
            !c->tpm.vendor_key_handle)
                return strdup(slot_key);
        if (asprintf(&p, OB_KEY_PATH_HANDLE_PREFIX "0x%08x", c->tpm.vendor_key_handle) < 0)
                return NULL;
        return p;
}
