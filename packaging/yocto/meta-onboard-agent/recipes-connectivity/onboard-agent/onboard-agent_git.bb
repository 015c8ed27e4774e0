SUMMARY = "Onboards Linux gateways to AWS IoT Core with a TPM-held key"
DESCRIPTION = "onboard-agent gives each gateway a unique identity in AWS IoT Core on first \
boot (static certificates, JITP, JITR or fleet provisioning), keeps the private key inside a \
TPM 2.0 and rotates the certificate unattended. agentctl lets operators see and steer it."
HOMEPAGE = "https://onboard-agent.invalid/"
SECTION = "net"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

DEPENDS = "json-c openssl paho-mqtt-c"
DEPENDS += "${@bb.utils.contains('PTEST_ENABLED', '1', 'cmocka', '', d)}"

PV = "0.1.0+git"

# Where the source comes from. Point ONBOARD_AGENT_GIT_URI at your mirror (local.conf or a
# bbappend); for development use externalsrc instead (README.md). destsuffix=${BP} lands the
# checkout in the default S on every supported release, so S is not set here.
ONBOARD_AGENT_GIT_URI ?= "git://git.onboard-agent.invalid/onboard-agent.git;protocol=https"
ONBOARD_AGENT_GIT_BRANCH ?= "main"
SRC_URI = "${ONBOARD_AGENT_GIT_URI};branch=${ONBOARD_AGENT_GIT_BRANCH};destsuffix=${BP}"
SRCREV = "c8e55e629dbe73882cc621f182fae62b2e82103f"

inherit autotools pkgconfig systemd useradd ptest

# tpm: the TPM 2.0 key provider. tctildr dlopens the device TCTI and OpenSSL dlopens the tpm2
# provider, so neither shows up as a shared-library dependency: name them here.
PACKAGECONFIG ??= "tpm ${@bb.utils.filter('DISTRO_FEATURES', 'systemd', d)}"
PACKAGECONFIG[tpm] = "--with-tpm,--without-tpm,tpm2-tss,tpm2-openssl libtss2-tcti-device tpm2-tss"
PACKAGECONFIG[systemd] = "--with-systemd --with-systemdsystemunitdir=${systemd_system_unitdir},--without-systemd --with-systemdsystemunitdir=no,systemd"

# The emulator is a mosquitto plugin for the project's own tests, never for a target.
EXTRA_OECONF = "--disable-emulator \
                --with-sysusersdir=${nonarch_libdir}/sysusers.d \
                --with-tmpfilesdir=${nonarch_libdir}/tmpfiles.d"

# The product's configuration comes from onboard-agent-config (see that recipe); the upstream
# example stays available as documentation.
do_install:append() {
    install -d ${D}${datadir}/${BPN}
    mv ${D}${sysconfdir}/${BPN}/config.json ${D}${datadir}/${BPN}/config.json.example
}

# ptest: `make install-ptest` (run by ptest.bbclass) installs the unit tests and run-ptest.
do_compile_ptest() {
    oe_runmake ptest-build
}

USERADD_PACKAGES = "${PN}"
USERADD_DEPENDS = "${@bb.utils.contains('PACKAGECONFIG', 'tpm', 'tpm2-tss', '', d)}"
GROUPADD_PARAM:${PN} = "--system ${BPN}"
# Same user as the sysusers.d snippet: home = state directory, member of tss for /dev/tpmrm0.
USERADD_PARAM:${PN} = "--system --no-create-home --home-dir ${localstatedir}/lib/${BPN} \
                       --shell ${base_sbindir}/nologin --gid ${BPN} \
                       ${@bb.utils.contains('PACKAGECONFIG', 'tpm', '--groups tss', '', d)} ${BPN}"

SYSTEMD_SERVICE:${PN} = "${BPN}.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

FILES:${PN} += "${nonarch_libdir}/sysusers.d ${nonarch_libdir}/tmpfiles.d"

RRECOMMENDS:${PN} += "onboard-agent-config ca-certificates"
