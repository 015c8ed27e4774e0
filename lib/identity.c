/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsops.h"
#include "identity.h"
#include "macro.h"

#define DMI_PRODUCT "/sys/class/dmi/id/product_serial"
#define DMI_BOARD   "/sys/class/dmi/id/board_serial"
#define DT_SERIAL   "/proc/device-tree/serial-number"
#define MACHINE_ID  "/etc/machine-id"

/* Values firmware and vendors leave in place of a serial (compared without case). */
static const char *const placeholders[] = {
        "To Be Filled By O.E.M.",
        "To Be Filled By O.E.M",
        "To Be Filled By OEM",
        "To Be Filled",
        "Default string",
        "Default",
        "System Serial Number",
        "Chassis Serial Number",
        "Base Board Serial Number",
        "Serial Number",
        "SerialNumber",
        "Serial",
        "Not Specified",
        "Not Applicable",
        "Not Available",
        "Not Settable",
        "N/A",
        "NA",
        "None",
        "Null",
        "Empty",
        "Unknown",
        "Invalid",
        "OEM",
        "O.E.M.",
        "0",
        "123456789",
        "1234567890",
        "0123456789",
};

/* Append "; <text>" to err (bounded; a cut message ends in "..."). */
static void err_add(char *err, size_t size, const char *fmt, ...) _printf_(3, 4);
static void err_add(char *err, size_t size, const char *fmt, ...)
{
        va_list ap;

        if (!err || size == 0)
                return;
        size_t used = strnlen(err, size);
        if (used + 1 >= size)
                return;
        if (used > 0) {
                int k = snprintf(err + used, size - used, "; ");
                used += (size_t)k;
                if (used + 1 >= size)
                        goto cut;
        }
        va_start(ap, fmt);
        int n = vsnprintf(err + used, size - used, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n < size - used)
                return;
cut:
        if (size >= 4)
                memcpy(err + size - 4, "...", 4);
}

static char *root_path(const char *root, const char *path)
{
        char *p;
        size_t n = root ? strlen(root) : 0;

        while (n > 0 && root[n - 1] == '/')
                n--;
        if (asprintf(&p, "%.*s%s", (int)n, n > 0 ? root : "", path) < 0)
                return NULL;
        return p;
}

/*
 * Read root+path (a regular file of at most OB_IDENTITY_READ_MAX bytes) into *ret (free()),
 * NUL-terminated after *ret_len. A FIFO or device is never opened for blocking reads.
 */
static int read_source(const char *root, const char *path, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *p = root_path(root, path);

        if (!p)
                return -ENOMEM;
        int r = ob_fs_read_file(p, 0, OB_IDENTITY_READ_MAX, ret, ret_len);
        return r == -ENOTDIR ? -ENOENT : r;
}

static bool trim_char(char c)
{
        return c == 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Trim in place: returns the start, and the new length in *len. */
static char *trim(char *s, size_t *len)
{
        size_t n = *len;

        while (n > 0 && trim_char(*s)) {
                s++;
                n--;
        }
        while (n > 0 && trim_char(s[n - 1]))
                n--;
        s[n] = 0;
        *len = n;
        return s;
}

/* Is the value usable? NULL when it is, else why not (into why). */
static const char *judge(const char *v, size_t len, char *why, size_t why_size)
{
        static const char allowed[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";

        if (len == 0)
                return "empty";
        for (size_t i = 0; i < OB_ELEMENTSOF(placeholders); i++)
                if (strcasecmp(v, placeholders[i]) == 0) {
                        snprintf(why, why_size, "placeholder value \"%s\"", placeholders[i]);
                        return why;
                }
        if (len > OB_IDENTITY_SERIAL_MAX) {
                snprintf(why, why_size, "%zu characters, more than %d", len,
                         OB_IDENTITY_SERIAL_MAX);
                return why;
        }
        size_t ok = strspn(v, allowed);
        if (ok < len) {
                snprintf(why, why_size, "character 0x%02x at offset %zu is not allowed",
                         (unsigned char)v[ok], ok);
                return why;
        }
        /* all zeros or all F, separators aside: an unprogrammed EEPROM or fuse block */
        bool any = false, zeros = true, effs = true;
        for (size_t i = 0; i < len; i++) {
                if (strchr("._:-", v[i]))
                        continue;
                any = true;
                zeros = zeros && v[i] == '0';
                effs = effs && (v[i] == 'F' || v[i] == 'f');
        }
        if (!any)
                return "no letter or digit";
        if (zeros)
                return "placeholder value (all zeros)";
        if (effs)
                return "placeholder value (all F)";
        return NULL;
}

/* Is v (len chars, NUL-terminated) a machine id: 32 lower-case hex digits, not all zero? */
static bool machine_id_ok(const char *v, size_t len)
{
        return len == 32 && strspn(v, "0123456789abcdef") == 32 && strspn(v, "0") != 32;
}

int ob_identity_machine_id(const char *root, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        r = read_source(root, MACHINE_ID, &buf, &len);
        if (r < 0)
                return r;
        char *v = trim(buf, &len);
        if (!machine_id_ok(v, len))
                return -EBADMSG;
        char *id = strdup(v);
        if (!id)
                return -ENOMEM;
        *ret = id;
        return 0;
}

/*
 * Try one file of a source. 1 and *ret_value: usable; 0: skipped (reason added to err);
 * negative: the file exists but cannot be read (reason added to err).
 */
static int try_file(const char *source, const char *root, const char *path, bool first_line,
                    bool nul_terminated, char **ret_value, char *err, size_t errsize)
{
        _cleanup_free_ char *buf = NULL;
        char why[96];
        size_t len = 0;
        int r;

        r = read_source(root, path, &buf, &len);
        if (r == -ENOENT) {
                err_add(err, errsize, "%s (%s): not found", source, path);
                return 0;
        }
        if (r < 0) {
                err_add(err, errsize, "%s (%s): %s", source, path,
                        r == -EINVAL  ? "not a regular file"
                        : r == -EFBIG ? "larger than " OB_STRINGIFY(OB_IDENTITY_READ_MAX) " bytes"
                                      : strerror(-r));
                return r;
        }
        if (first_line) {
                char *nl = memchr(buf, '\n', len);
                if (nl)
                        len = (size_t)(nl - buf);
        }
        if (nul_terminated) {
                char *nul = memchr(buf, 0, len);
                if (nul)
                        len = (size_t)(nul - buf);
        }
        buf[len] = 0;
        char *v = trim(buf, &len);
        /* a NUL left inside the value is a character like any other: not allowed */
        const char *bad =
                memchr(v, 0, len) ? "contains a NUL byte" : judge(v, len, why, sizeof(why));
        if (bad) {
                err_add(err, errsize, "%s (%s): %s", source, path, bad);
                return 0;
        }
        char *s = strdup(v);
        if (!s)
                return -ENOMEM;
        *ret_value = s;
        return 1;
}

static int try_source(const char *source, const char *root, char **ret_value, char *err,
                      size_t errsize)
{
        int r;

        if (strncmp(source, "file:", 5) == 0) {
                if (source[5] != '/') {
                        err_add(err, errsize, "%s: not an absolute path", source);
                        return 0;
                }
                return try_file(source, root, source + 5, true, false, ret_value, err, errsize);
        }
        if (strcmp(source, "dmi") == 0) {
                r = try_file(source, root, DMI_PRODUCT, false, false, ret_value, err, errsize);
                if (r != 0)
                        return r;
                return try_file(source, root, DMI_BOARD, false, false, ret_value, err, errsize);
        }
        if (strcmp(source, "devicetree") == 0)
                return try_file(source, root, DT_SERIAL, false, true, ret_value, err, errsize);
        if (strcmp(source, "machine-id") == 0) {
                r = ob_identity_machine_id(root, ret_value);
                if (r == 0)
                        return 1;
                if (r == -ENOENT || r == -EBADMSG) {
                        err_add(err, errsize, "%s (%s): %s", source, MACHINE_ID,
                                r == -ENOENT ? "not found" : "not 32 lower-case hex digits");
                        return 0;
                }
                err_add(err, errsize, "%s (%s): %s", source, MACHINE_ID,
                        r == -EINVAL ? "not a regular file" : strerror(-r));
                return r;
        }
        err_add(err, errsize, "%s: unknown source", source);
        return 0;
}

int ob_identity_serial(const char *const *sources, const char *root, char **ret_serial,
                       char **ret_source, char *err, size_t errsize)
{
        if (err && errsize > 0)
                err[0] = 0;
        if (!sources || !sources[0]) {
                err_add(err, errsize, "no serial sources");
                return -ENOENT;
        }
        for (size_t i = 0; sources[i]; i++) {
                _cleanup_free_ char *value = NULL;
                int r = try_source(sources[i], root, &value, err, errsize);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                if (ret_source) {
                        char *s = strdup(sources[i]);
                        if (!s)
                                return -ENOMEM;
                        *ret_source = s;
                }
                *ret_serial = TAKE_PTR(value);
                return 0;
        }
        return -ENOENT;
}
