#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# P4: installed size. `make install DESTDIR=TMP` from the build tree, strip the ELF files
# (strip --strip-unneeded, what packagers do), and sum what the agent installs: binaries,
# configuration, docs and man pages. Excluded: the emulator plugin (tests/emulator, installed
# under pkglibdir for the test world) and libtool .la files.
# Symbolic links (agentctl -> onboard-agent) count nothing. runtime_kib leaves out the docs and
# man pages (share/doc, share/man): what an image has when they are split off (Yocto's -doc
# package).
# Output (sizes in bytes and KiB):
#   P4-file bytes=N path=PATH                  (one per file)
#   P4 installed_bytes=N installed_kib=K binaries_kib=B runtime_kib=R target_kib=300
set -eu
: "${top_builddir:=$(pwd)}"
d=$(mktemp -d "${TMPDIR:-/tmp}/ob-p4.XXXXXX")
trap 'rm -rf "$d"' EXIT
make -s -C "$top_builddir" install DESTDIR="$d" >/dev/null 2>&1 ||
  { echo "P4: make install failed" >&2; exit 1; }
total=0 bins=0 docs=0
for f in $(find "$d" -type f | sort); do
  case $f in
  *ob_emulator* | *.la) continue ;;
  esac
  if head -c 4 "$f" | grep -q ELF; then
    strip --strip-unneeded "$f"
    n=$(stat -c %s "$f")
    bins=$((bins + n))
  else
    n=$(stat -c %s "$f")
  fi
  total=$((total + n))
  case $f in
  */share/doc/* | */share/man/*) docs=$((docs + n)) ;;
  esac
  echo "P4-file bytes=$n path=${f#"$d"}"
done
echo "P4 installed_bytes=$total installed_kib=$((total / 1024)) binaries_kib=$((bins / 1024)) runtime_kib=$(((total - docs) / 1024)) target_kib=300"
