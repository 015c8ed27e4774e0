SUMMARY = "Onboards Linux gateways to AWS IoT Core with a TPM-held key"
DESCRIPTION = "onboard-agent gives each gateway a unique identity in AWS IoT Core on first \
               boot (static certificates, JITP, JITR or fleet provisioning), keeps the private key inside a \
               TPM 2.0 and rotates the certificate unattended. agentctl lets operators see and steer it."
# The project publishes no web site yet: .invalid (RFC 2606) never resolves, so nobody can take
# the name over, and oelint-adv's homepageping (a network probe) can never pass for it.
# nooelint: oelint.vars.homepageping
HOMEPAGE = "https://onboard-agent.invalid/"
SECTION = "net"
CVE_PRODUCT = "onboard-agent"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

# cmocka builds the unit tests that ptest runs (PTEST_ENABLED, from DISTRO_FEATURES ptest).
DEPENDS = "${@bb.utils.contains('PTEST_ENABLED', '1', 'cmocka', '', d)} json-c openssl paho-mqtt-c systemd"

PV = "0.1.0+git"

# Where the source comes from. Point ONBOARD_AGENT_GIT_URI at your mirror (local.conf or a
# bbappend); for development use externalsrc instead (README.md). destsuffix=${BP} lands the
# checkout in the default S on every supported release, so S is not set here.
ONBOARD_AGENT_GIT_URI ?= "git://git.onboard-agent.invalid/onboard-agent.git;protocol=https"
ONBOARD_AGENT_GIT_BRANCH ?= "main"
SRC_URI = "${ONBOARD_AGENT_GIT_URI};branch=${ONBOARD_AGENT_GIT_BRANCH};destsuffix=${BP}"
SRCREV = "23ae0e6870aa0030bc1403fd886dfb6e63894ecc"

# The daemon runs as a systemd service (sd_notify, watchdog, journald; there is no init script
# and no daemon build without libsystemd yet): images without systemd skip this recipe.
inherit autotools bash-completion features_check pkgconfig ptest systemd useradd
REQUIRED_DISTRO_FEATURES = "systemd"

# tpm: the TPM 2.0 key provider. tctildr dlopens the device TCTI and OpenSSL dlopens the tpm2
# provider, so neither shows up as a shared-library dependency: name them here.
PACKAGECONFIG ??= "tpm"
PACKAGECONFIG[tpm] = "--with-tpm,--without-tpm,tpm2-tss,tpm2-openssl libtss2-tcti-device tpm2-tss"

# The emulator is a mosquitto plugin for the project's own tests, never for a target.
EXTRA_OECONF = "--disable-emulator \
                --with-systemd \
                --with-systemdsystemunitdir=${systemd_system_unitdir} \
                --with-sysusersdir=${nonarch_libdir}/sysusers.d \
                --with-tmpfilesdir=${nonarch_libdir}/tmpfiles.d"

# make install ships the example configuration as ${datadir}/${BPN}/config.json.example; the
# product's config.json comes from onboard-agent-config (see that recipe). The configuration
# directory may hold the claim key: readable by the agent's group only (as tmpfiles.d says).
do_install:append() {
    install -d -m 0750 ${D}${sysconfdir}/${BPN}
    chown root:${BPN} ${D}${sysconfdir}/${BPN}
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

# Enabled (systemd.bbclass's default); it starts once /etc/onboard-agent/config.json exists
# (ConditionPathExists= in the unit).
SYSTEMD_SERVICE:${PN} = "${BPN}.service"

FILES:${PN} += "${nonarch_libdir}/sysusers.d ${nonarch_libdir}/tmpfiles.d"

RRECOMMENDS:${PN} += "onboard-agent-config ca-certificates"
