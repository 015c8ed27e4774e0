#!/bin/sh
# The packaging checkers must be able to fail: break a copy of the Yocto layer and of the
# Buildroot tree in one known way at a time and expect the checker to report that rule.
# shellcheck disable=SC2016 # the sed scripts below are meant literally
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ob-checkers.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
failed=0
n=0

recipe=recipes-connectivity/onboard-agent/onboard-agent_git.bb
brpkg=package/onboard-agent

# yocto RULE SED-SCRIPT FILE: break FILE (relative to the layer) with sed, expect RULE.
yocto() {
        rm -rf "$work/layer" && cp -r "$here/yocto/meta-onboard-agent" "$work/layer"
        sed -i "$2" "$work/layer/$3"
        expect "$1" "$here/check-yocto.sh" "$work/layer" "$top"
}
buildroot() {
        rm -rf "$work/br" && cp -r "$here/buildroot" "$work/br"
        sed -i "$2" "$work/br/$3"
        expect "$1" "$here/check-buildroot.sh" "$work/br"
}
expect() {
        rule=$1
        shift
        n=$((n + 1))
        if out=$(sh "$@" 2>&1); then
                echo "test-checkers: FAIL: '$rule' not caught (checker passed)"
                failed=1
        elif printf '%s\n' "$out" | grep -q ": $rule: "; then
                :
        else
                printf '%s\n' "$out"
                echo "test-checkers: FAIL: '$rule' not reported"
                failed=1
        fi
}

# The unbroken trees pass (otherwise every case below passes for the wrong reason).
sh "$here/check-yocto.sh" >/dev/null
sh "$here/check-buildroot.sh" >/dev/null

yocto workdir '/^inherit /i S = "${WORKDIR}/git"' $recipe
yocto workdir 's|^    install -d ${D}${datadir}/${BPN}|    install -d ${D}${datadir}/${BPN} ${UNPACKDIR}|' $recipe
yocto mandatory-var '/^LIC_FILES_CHKSUM/d' $recipe
yocto mandatory-var '/^LICENSE = /d' $recipe
yocto license-checksum 's/md5=3b83/md5=0b83/' $recipe
yocto autorev 's/^SRCREV = .*/SRCREV = "${AUTOREV}"/' $recipe
yocto srcrev 's/^SRCREV = "\(.\{12\}\).*/SRCREV = "\1"/' $recipe
yocto srcrev '/^SRCREV = /d' $recipe
yocto hardcoded-endpoint '$a ONBOARD_AGENT_ENDPOINT = "abcdef-ats.iot.eu-west-1.amazonaws.com"' $recipe
yocto hardcoded-endpoint '$a ONBOARD_AGENT_ENDPOINT = "abcdef-ats.iot.eu-west-1.amazonaws.com"' \
        recipes-connectivity/onboard-agent-config/onboard-agent-config_1.0.bb
yocto override-syntax 's/^RRECOMMENDS:${PN}/RRECOMMENDS_${PN}/' $recipe
yocto layer-compat 's/"scarthgap whinlatter wrynose"/"scarthgap styhead whinlatter wrynose"/' conf/layer.conf
yocto unknown-configure-option 's/--with-tpm,/--with-tpm2,/' $recipe
yocto indent 's/^    oe_runmake ptest-build/\toe_runmake ptest-build/' $recipe
yocto useradd '/^USERADD_DEPENDS/d' $recipe
yocto rdepends 's/tpm2-openssl libtss2-tcti-device tpm2-tss"/tpm2-tss"/' $recipe
yocto inherit 's/^inherit autotools pkgconfig systemd useradd ptest/inherit autotools systemd useradd/' $recipe
yocto path-hardcode 's|--home-dir ${localstatedir}/lib|--home-dir /var/lib|' $recipe
yocto assign-spacing 's/^SECTION = /SECTION=/' $recipe
yocto version 's/^PV = "0.1.0+git"/PV = "0.2.0+git"/' $recipe

buildroot indent 's/^\tdepends on BR2_TOOLCHAIN_HAS_SYNC_4/        depends on BR2_TOOLCHAIN_HAS_SYNC_4/' $brpkg/Config.in
buildroot help-text 's/^\t  device a unique identity in AWS IoT Core on first boot,$/\t  device a unique identity in AWS IoT Core on first boot, and more words/' $brpkg/Config.in
buildroot help-text 's/^\t  keeps the private key/\t keeps the private key/' $brpkg/Config.in
buildroot attributes-order '/^\tdepends on BR2_TOOLCHAIN_HAS_THREADS/{h;d};/^\tselect BR2_PACKAGE_TPM2_OPENSSL/G' $brpkg/Config.in
buildroot unknown-symbol 's/BR2_PACKAGE_JSON_C$/BR2_PACKAGE_JSONC/' $brpkg/Config.in
buildroot select-depends '/^\tdepends on BR2_TOOLCHAIN_HAS_SYNC_4/d' $brpkg/Config.in
buildroot default-n '/^\tbool "onboard-agent"/a\	default n' $brpkg/Config.in
buildroot trailing-space 's/^\tbool "onboard-agent"$/\tbool "onboard-agent" /' $brpkg/Config.in
buildroot hash-spaces 's/^sha256  \([0-9a-f]*\)  LICENSE/sha256 \1 LICENSE/' $brpkg/onboard-agent.hash
buildroot hash-size 's/^sha256  \([0-9a-f]\{60\}\)[0-9a-f]*/sha256  \1/' $brpkg/onboard-agent.hash
buildroot hash-license 's/^sha256  [0-9a-f]/sha256  0/' $brpkg/onboard-agent.hash
buildroot hash-comment '/^# Locally computed/d' $brpkg/onboard-agent.hash
buildroot package-header '1s/^#\{80\}$/#######/' $brpkg/onboard-agent.mk
buildroot variable-prefix 's/^ONBOARD_AGENT_LICENSE = /ONBOARD_AGNET_LICENSE = /' $brpkg/onboard-agent.mk
buildroot indent 's/^\tonboard-agent -1/        onboard-agent -1/' $brpkg/onboard-agent.mk
buildroot indent 's/^ONBOARD_AGENT_LICENSE = /\tONBOARD_AGENT_LICENSE = /' $brpkg/onboard-agent.mk
buildroot space-before-backslash 's/^ONBOARD_AGENT_CONF_OPTS = \\$/ONBOARD_AGENT_CONF_OPTS =  \\/' $brpkg/onboard-agent.mk
buildroot select-dependencies 's/ json-c openssl/ openssl/' $brpkg/onboard-agent.mk
buildroot systemd-unit 's/^\t--disable-emulator \\$/\t--disable-emulator --with-systemdsystemunitdir=\/usr\/lib\/systemd\/system \\/' $brpkg/onboard-agent.mk
buildroot users 's/ - tss onboard-agent daemon$/ - - onboard-agent daemon/' $brpkg/onboard-agent.mk
buildroot mandatory-var '/^define ONBOARD_AGENT_USERS/,/^endef/d' $brpkg/onboard-agent.mk
buildroot eval '$d' $brpkg/onboard-agent.mk
buildroot useless-flag '/^ONBOARD_AGENT_AUTORECONF/a ONBOARD_AGENT_INSTALL_TARGET = YES' $brpkg/onboard-agent.mk
buildroot overridden-variable '/^ifeq ($(BR2_PACKAGE_SYSTEMD),y)/a ONBOARD_AGENT_DEPENDENCIES = systemd' $brpkg/onboard-agent.mk
buildroot variable-with-braces 's/$(BR2_EXTERNAL_ONBOARD_PATH)\/..\/../${BR2_EXTERNAL_ONBOARD_PATH}\/..\/../' $brpkg/onboard-agent.mk
buildroot version 's/^ONBOARD_AGENT_VERSION = 0.1.0/ONBOARD_AGENT_VERSION = 0.2.0/' $brpkg/onboard-agent.mk
buildroot external 's/^name: ONBOARD/name: ONBOARD-AGENT/' external.desc

if [ "$failed" != 0 ]; then
        echo "test-checkers: some deliberate breakages were not caught"
        exit 1
fi
echo "test-checkers: $n deliberate breakages, all caught"
