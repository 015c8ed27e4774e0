#!/bin/sh
# Cross-build onboard-agent for a Debian architecture against a sysroot of that architecture's
# Debian packages — the way Yocto and Buildroot build, against a sysroot, not the host — and
# run its unit tests on that architecture under qemu-user (binfmt_misc). `make check-cross`
# runs it for each architecture and then an end-to-end onboarding of the foreign daemon
# (tests/cross/test-cross-onboard.sh); docs/testing.md "Foreign architectures".
#
#   packaging/cross.sh ARCH [BUILDDIR] [--no-tests]
#     ARCH: armhf (32-bit, 32-bit time_t on Debian 12), armhf-t64 (Debian 13's armhf, 64-bit
#     time_t throughout, --enable-time64), arm64, s390x (64-bit big-endian)
#
# BUILDDIR (default build-ARCH in the source tree) gets:
#   sysroot/  the target's packages, unpacked: debootstrap --foreign --variant=minbase with the
#             -dev packages we build against and what runs beside us (tpm2-openssl, the
#             tpm2-abrmd TCTI), each .deb unpacked with dpkg-deb -x; made once, then reused
#   src/      a copy of the sources git knows (when run from a git checkout)
#   obj/      the build; obj/cross.env says where the sysroot is (QEMU_LD_PREFIX)
# A sysroot, not multiarch (dpkg --add-architecture): a multiarch -dev package must have the
# same version as the host's library, so a security update that reached amd64 before the other
# architecture (or a mirror that carries no security updates for it: s390x here) makes the
# :ARCH packages uninstallable; a sysroot is one architecture's own consistent set.
#
# As root on Debian 12 it installs the host tools it needs (gcc-HOST, debootstrap,
# qemu-user-static, file) and registers the qemu binfmt handler from /usr/lib/binfmt.d (without
# it, threaded programs crash under a qemu started by hand). OB_CROSS_NO_INSTALL=1 skips the
# installation; OB_CROSS_MIRROR (default http://deb.debian.org/debian) and OB_CROSS_SUITE
# (bookworm; trixie for armhf-t64); OB_CROSS_CONFIGURE adds configure options.
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:?usage: cross.sh ARCH [BUILDDIR] [--no-tests]}
builddir=${2:-$srcdir/build-$arch}
run_tests=1
[ "${3:-}" = --no-tests ] && run_tests=0
label=$arch time64=""
case $arch in
armhf-t64) # Debian 13's armhf: 64-bit time_t throughout (the t64 transition), as Yocto builds
        arch=armhf host=arm-linux-gnueabihf qemu=arm elf="ARM, EABI5" time64=--enable-time64
        OB_CROSS_SUITE=${OB_CROSS_SUITE:-trixie} ;;
armhf) host=arm-linux-gnueabihf qemu=arm elf="ARM, EABI5" ;;
arm64) host=aarch64-linux-gnu qemu=aarch64 elf="ARM aarch64" ;;
s390x) host=s390x-linux-gnu qemu=s390x elf="IBM S/390" ;;
*) echo "cross: unknown architecture $arch (armhf, armhf-t64, arm64, s390x)" >&2; exit 2 ;;
esac
mirror=${OB_CROSS_MIRROR:-http://deb.debian.org/debian}
suite=${OB_CROSS_SUITE:-bookworm}
# what configure looks for (build-aux/install-deps has the host's list) and what the agent
# loads at run time: the tpm2 OpenSSL provider and the TCTI of the test world's tpm2-abrmd
target_pkgs="libc6-dev libjson-c-dev libssl-dev libtss2-dev libsystemd-dev libpaho-mqtt-dev \
libcmocka-dev tpm2-openssl libtss2-tcti-tabrmd0"

if [ "${OB_CROSS_NO_INSTALL:-0}" != 1 ]; then
        missing=""
        for p in gcc-$host debootstrap qemu-user-static file pkg-config; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
                        missing="$missing $p"
        done
        if [ -n "$missing" ]; then
                if [ "$(id -u)" != 0 ]; then
                        echo "cross: missing:$missing (run as root to install)" >&2
                        exit 1
                fi
                export DEBIAN_FRONTEND=noninteractive
                # host packages only: an index of another architecture failing does not matter
                apt-get update -qq || echo "cross: apt-get update reported errors; going on" >&2
                # shellcheck disable=SC2086
                apt-get install -y -qq --no-install-recommends $missing >/dev/null
        fi
fi

binfmt_ready() {
        [ "$run_tests" = 1 ] || return 0
        d=/proc/sys/fs/binfmt_misc
        [ -e $d/register ] || mount -t binfmt_misc binfmt_misc $d 2>/dev/null || true
        if [ ! -e "$d/qemu-$qemu" ] && [ -w $d/register ] && [ -f "/usr/lib/binfmt.d/qemu-$qemu.conf" ]; then
                cat "/usr/lib/binfmt.d/qemu-$qemu.conf" >$d/register
        fi
        [ -e "$d/qemu-$qemu" ] || { echo "cross: no binfmt handler for qemu-$qemu (needs root)" >&2; return 1; }
}
binfmt_ready

mkdir -p "$builddir"
builddir=$(cd "$builddir" && pwd)
sysroot=$builddir/sysroot
stamp="$suite $mirror $target_pkgs"
if [ "$(cat "$sysroot/.ob-sysroot" 2>/dev/null)" != "$stamp" ]; then
        echo "cross: $label: sysroot from $mirror $suite (debootstrap --foreign, dpkg-deb -x)"
        rm -rf "$sysroot"
        debootstrap --foreign --arch="$arch" --variant=minbase \
                --include="$(echo $target_pkgs | tr ' ' ,)" "$suite" "$sysroot" "$mirror" \
                >"$builddir/debootstrap.log" 2>&1 ||
                { tail -20 "$builddir/debootstrap.log" >&2; exit 1; }
        # the first stage unpacks only the base; the rest is downloaded, not unpacked
        for deb in "$sysroot"/var/cache/apt/archives/*.deb; do
                dpkg-deb -x "$deb" "$sysroot"
        done
        rm -f "$sysroot"/var/cache/apt/archives/*.deb
        echo "$stamp" >"$sysroot/.ob-sysroot"
fi

if git -C "$srcdir" rev-parse --git-dir >/dev/null 2>&1; then
        # from a copy of the sources git knows (an in-tree build may be configured there)
        mkdir -p "$builddir/src"
        (cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
                xargs -0 cp -a -u --parents -t "$builddir/src")
        srcdir=$builddir/src
fi
mkdir -p "$builddir/obj"
[ -x "$srcdir/configure" ] || (cd "$srcdir" && ./autogen.sh >/dev/null 2>&1)
cd "$builddir/obj"
echo "QEMU_LD_PREFIX=$sysroot" >cross.env
# the plain pkg-config, told to look only at the sysroot's .pc files and to prefix their paths
PKG_CONFIG_LIBDIR=$sysroot/usr/lib/$host/pkgconfig:$sysroot/usr/share/pkgconfig
PKG_CONFIG_SYSROOT_DIR=$sysroot
export PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
# the sysroot's library directories first: Debian's cross gcc searches its own /usr/HOST/lib
# (libc6-HOST-cross, glibc 2.36) before the sysroot, which matters with a newer suite
"$srcdir/configure" --host="$host" CC="$host-gcc --sysroot=$sysroot" PKG_CONFIG=pkg-config \
        LDFLAGS="-L$sysroot/usr/lib/$host -L$sysroot/lib/$host -Wl,-rpath-link,$sysroot/usr/lib/$host:$sysroot/lib/$host ${LDFLAGS:-}" \
        --prefix=/usr --sysconfdir=/etc --localstatedir=/var --disable-emulator --enable-werror \
        --with-systemdsystemunitdir=/usr/lib/systemd/system $time64 ${OB_CROSS_CONFIGURE:-} >configure.out
grep -E 'time_t, off_t' configure.out | sed "s/^ */cross: $label: /"
make -j2 >make.out 2>&1 || { grep -E 'error|warning' make.out | head -20 >&2; exit 1; }

status=0
for f in .libs/onboard-agent onboard-agent; do
        [ -f "$f" ] || continue
        desc=$(file -b "$f")
        case $desc in
        *ELF*"$elf"*) echo "cross: $label: $f: $(echo "$desc" | cut -d, -f1-2)" ;;
        *) echo "cross: $label: $f is not $elf: $desc" >&2; status=1 ;;
        esac
done
if [ "$run_tests" = 1 ]; then
        # the unit tests, built for ARCH, run by make's harness through binfmt + qemu-user,
        # which finds the target's loader and libraries in the sysroot
        QEMU_LD_PREFIX=$sysroot
        export QEMU_LD_PREFIX
        if make -j2 check-unit >check.out 2>&1; then
                echo "cross: $label: unit tests: $(grep -E '^# (PASS|FAIL|ERROR|SKIP):' check.out | tr -s ' ' | tr '\n' ' ')"
        else
                status=1
                grep -E '^(FAIL|ERROR):|^# (PASS|FAIL|ERROR)' check.out >&2 || tail -20 check.out >&2
        fi
else
        make -j2 check TESTS= >check-build.out # the unit tests must cross-build too
fi
exit $status
