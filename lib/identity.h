/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the device's serial number comes from (config identity.serial_sources,
 * docs/provisioning.md "Serial number"). Sources, tried in order:
 *   "file:/PATH"  the first line of a file
 *   "dmi"         /sys/class/dmi/id/product_serial, then /sys/class/dmi/id/board_serial
 *   "devicetree"  /proc/device-tree/serial-number (NUL-terminated)
 *   "machine-id"  /etc/machine-id (unique per installation, not per board)
 * Every path is taken below root (NULL or "" = "/"), so tests use a fake tree.
 */
#pragma once

#include <stddef.h>

/* A usable serial is 1..64 characters of [A-Za-z0-9._:-]. */
#define OB_IDENTITY_SERIAL_MAX 64
/* At most this much of a source file is read. */
#define OB_IDENTITY_READ_MAX 4096

/*
 * The serial from the first source that yields a usable one: whitespace and NULs around the
 * value are trimmed; values outside the charset or longer than 64, and placeholders vendors
 * leave in firmware ("To Be Filled By O.E.M.", "Default string", "System Serial Number",
 * "None", "0", all zeros, all F...) are skipped, as are sources that do not exist.
 * A source that exists but cannot be read (permission, I/O error, not a regular file) stops
 * the search with its error: falling back would give the device another identity than the
 * one it has when the source is readable.
 * 0: *ret_serial (malloc'ed) and *ret_source (malloc'ed copy of the source string; ret_source
 * may be NULL). -ENOENT no source gave a serial; -EACCES, -EIO, -EINVAL (not a regular file)...
 * a source could not be read. err (may be NULL with errsize 0) lists each source tried and why
 * it gave nothing, e.g. "dmi (/sys/class/dmi/id/product_serial): placeholder \"Default
 * string\"; devicetree (/proc/device-tree/serial-number): not found"; it is set on success too.
 */
int ob_identity_serial(const char *const *sources, const char *root, char **ret_serial,
                       char **ret_source, char *err, size_t errsize);

/*
 * /etc/machine-id below root as 32 lower-case hex digits (malloc'ed). -ENOENT missing;
 * -EBADMSG anything else in it ("uninitialized", upper case, all zeros, wrong length); or the
 * errno of reading it.
 */
int ob_identity_machine_id(const char *root, char **ret);
