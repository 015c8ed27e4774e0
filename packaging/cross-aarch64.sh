#!/bin/sh
# Cross-compile onboard-agent for aarch64 with Debian's cross toolchain and multiarch -dev
# packages, out of tree, and check that the result is aarch64 code. Proves `--host` builds keep
# working (docs/packaging.md "Cross-compiling").
#
#   packaging/cross-aarch64.sh [BUILDDIR]     (default: build-aarch64 in the source tree)
#
# Installs gcc-aarch64-linux-gnu and the arm64 -dev packages when run as root on Debian 12
# (dpkg --add-architecture arm64); set OB_CROSS_NO_INSTALL=1 to skip that step.
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-$srcdir/build-aarch64}
host=aarch64-linux-gnu
arch=arm64

if [ "${OB_CROSS_NO_INSTALL:-0}" != 1 ]; then
        pkgs="gcc-$host libc6-dev-$arch-cross pkg-config file \
libjson-c-dev:$arch libssl-dev:$arch libtss2-dev:$arch libsystemd-dev:$arch \
libpaho-mqtt-dev:$arch libcmocka-dev:$arch"
        missing=""
        for p in $pkgs; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
                        missing="$missing $p"
        done
        if [ -n "$missing" ]; then
                if [ "$(id -u)" != 0 ]; then
                        echo "cross-aarch64: missing:$missing (run as root to install)" >&2
                        exit 1
                fi
                dpkg --print-foreign-architectures | grep -qx "$arch" || dpkg --add-architecture "$arch"
                export DEBIAN_FRONTEND=noninteractive
                apt-get update -qq
                # shellcheck disable=SC2086
                apt-get install -y -qq --no-install-recommends $missing >/dev/null
        fi
fi

[ -x "$srcdir/configure" ] || (cd "$srcdir" && ./autogen.sh)
mkdir -p "$builddir"
cd "$builddir"
# Debian's multiarch layout: the plain pkg-config, told to look only at the arm64 .pc files.
PKG_CONFIG_LIBDIR=/usr/lib/$host/pkgconfig:/usr/share/pkgconfig
export PKG_CONFIG_LIBDIR
"$srcdir/configure" --host=$host PKG_CONFIG=pkg-config --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
        --disable-emulator --enable-werror \
        --with-systemdsystemunitdir=/usr/lib/systemd/system >configure.out
make -j2 >make.out
# check_PROGRAMS (the unit tests) must cross-build too, even if they cannot run here.
make -j2 check TESTS= >check-build.out

status=0
for f in .libs/onboard-agent onboard-agent .libs/agentctl agentctl; do
        [ -f "$f" ] || continue
        desc=$(file -b "$f")
        case $desc in
        *ELF*"ARM aarch64"*) echo "cross-aarch64: $f: $desc" ;;
        *ELF*) echo "cross-aarch64: $f is not aarch64: $desc" >&2; status=1 ;;
        esac
done
exit $status
