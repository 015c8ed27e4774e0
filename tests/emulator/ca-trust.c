/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "ca-trust.h"
#include "macro.h"

#define NAME_LEN 32 /* "%08lx.%d" + NUL */

/* Is NAME an OpenSSL hash-dir entry ("%08lx.%d")? */
static bool hash_name(const char *name)
{
        size_t i = 0;

        for (; i < 8; i++)
                if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
                        return false;
        if (name[i++] != '.' || !name[i])
                return false;
        for (; name[i]; i++)
                if (name[i] < '0' || name[i] > '9')
                        return false;
        return true;
}

static char *pem_of(X509 *x)
{
        BIO *b = BIO_new(BIO_s_mem());
        char *data, *out = NULL;
        long n;

        if (b && PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &data)) > 0)
                out = strndup(data, (size_t)n);
        BIO_free(b);
        return out;
}

static bool same_content(const char *path, const char *pem)
{
        size_t want = strlen(pem), got;
        char buf[16384];
        FILE *f = fopen(path, "re");

        if (!f)
                return false;
        got = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        return got == want && !memcmp(buf, pem, want);
}

static int write_atomic(const char *dir, const char *name, const char *pem)
{
        char path[4096], tmp[4200];
        FILE *f;
        int r = 0;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (same_content(path, pem))
                return 0;
        snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
        f = fopen(tmp, "we");
        if (!f)
                return -errno;
        if (fputs(pem, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) < 0)
                r = -EIO;
        if (fclose(f) != 0 && r == 0)
                r = -EIO;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

int ob_emu_trust_sync(const char *dir, X509 *const *cas, size_t n)
{
        _cleanup_free_ char(*names)[NAME_LEN] = calloc(n ? n : 1, NAME_LEN);
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                unsigned long h = X509_subject_name_hash(cas[i]);
                int seq = 0;
                for (size_t j = 0; j < i; j++)
                        if (X509_subject_name_hash(cas[j]) == h)
                                seq++;
                snprintf(names[i], NAME_LEN, "%08lx.%d", h & 0xffffffffUL, seq);
                _cleanup_free_ char *pem = pem_of(cas[i]);
                int k = pem ? write_atomic(dir, names[i], pem) : -ENOMEM;
                if (k < 0 && r == 0)
                        r = k;
        }
        d = opendir(dir);
        if (!d)
                return r ? r : -errno;
        while ((de = readdir(d))) {
                bool keep = false;
                if (!hash_name(de->d_name))
                        continue;
                for (size_t i = 0; i < n && !keep; i++)
                        keep = !strcmp(names[i], de->d_name);
                if (!keep && unlinkat(dirfd(d), de->d_name, 0) < 0 && r == 0)
                        r = -errno;
        }
        closedir(d);
        return r;
}
