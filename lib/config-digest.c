/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "config-digest.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "config-file.h"
#include "fsops.h"
#include "macro.h"

#define MAX_FILE    (1024 * 1024)
#define MAX_DROPINS 256 /* as many as the loader reads */

OB_DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free)

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* path, NUL, its length (8 bytes, big-endian), its bytes. 0, or negative errno. */
static int add_file(EVP_MD_CTX *md, const char *path)
{
        _cleanup_free_ char *data = NULL;
        uint8_t len[8];
        size_t n = 0;
        int r;

        r = ob_fs_read_file(path, 0, MAX_FILE, &data, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < 8; i++)
                len[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        if (EVP_DigestUpdate(md, path, strlen(path) + 1) != 1 ||
            EVP_DigestUpdate(md, len, sizeof(len)) != 1 || EVP_DigestUpdate(md, data, n) != 1)
                return -EIO;
        return 0;
}

int ob_config_digest(const char *main_path, const char *dropin_dir,
                     char ret_hex[OB_CONFIG_DIGEST_HEX])
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        _cleanup_free_ char *dir = NULL;
        char *names[MAX_DROPINS];
        size_t n = 0;
        uint8_t h[32];
        unsigned hl = 0;
        DIR *dh;
        int r;

        dir = dropin_dir ? strdup(dropin_dir) : ob_config_dropin_dir_for(main_path);
        if (!md || !dir || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                return -ENOMEM;
        r = add_file(md, main_path);
        if (r < 0)
                return r;
        dh = opendir(dir);
        for (struct dirent *de; dh && n < MAX_DROPINS && (de = readdir(dh));) {
                size_t l = strlen(de->d_name);
                struct stat st;
                char *p;

                if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
                        continue;
                if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
                        free(p);
                        continue;
                }
                names[n++] = p;
        }
        if (dh)
                closedir(dh);
        if (r >= 0)
                qsort(names, n, sizeof(char *), cmp_str);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = add_file(md, names[i]);
                if (r == -ENOENT) /* gone since it was listed */
                        r = 0;
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        if (r < 0)
                return r;
        if (EVP_DigestFinal_ex(md, h, &hl) != 1 || hl != sizeof(h))
                return -EIO;
        for (size_t i = 0; i < sizeof(h); i++)
                snprintf(ret_hex + 2 * i, 3, "%02x", h[i]);
        return 0;
}

json_object *ob_config_digest_to_json(const char *main_path, const char *hex)
{
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "file", json_object_new_string(main_path));
        json_object_object_add(o, "sha256", json_object_new_string(hex));
        return o;
}
