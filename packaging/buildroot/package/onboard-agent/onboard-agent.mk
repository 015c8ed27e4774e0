################################################################################
#
# onboard-agent
#
################################################################################

# Built from the source tree this external tree lives in (packaging/buildroot). To build a
# release tarball instead, override _SITE/_SITE_METHOD and add its hash to onboard-agent.hash.
ONBOARD_AGENT_VERSION = 0.1.0
ONBOARD_AGENT_SITE = $(BR2_EXTERNAL_ONBOARD_PATH)/../..
ONBOARD_AGENT_SITE_METHOD = local
ONBOARD_AGENT_LICENSE = Apache-2.0
ONBOARD_AGENT_LICENSE_FILES = LICENSE
# A git checkout has no generated configure.
ONBOARD_AGENT_AUTORECONF = YES
ONBOARD_AGENT_DEPENDENCIES = host-pkgconf json-c openssl paho-mqtt-c systemd tpm2-tss
# Config.in depends on BR2_INIT_SYSTEMD: the unit, sysusers.d and tmpfiles.d snippets are
# installed by `make install`. The upstream example configuration goes to
# /usr/share/onboard-agent/config.json.example; the unit starts once
# /etc/onboard-agent/config.json exists.
ONBOARD_AGENT_CONF_OPTS = \
	--with-tpm \
	--with-systemd \
	--disable-emulator \
	--with-systemdsystemunitdir=/usr/lib/systemd/system \
	--with-sysusersdir=/usr/lib/sysusers.d \
	--with-tmpfilesdir=/usr/lib/tmpfiles.d

ONBOARD_AGENT_CONFIG_FILE = $(call qstrip,$(BR2_PACKAGE_ONBOARD_AGENT_CONFIG_FILE))
ifneq ($(ONBOARD_AGENT_CONFIG_FILE),)
define ONBOARD_AGENT_INSTALL_CONFIG
	$(INSTALL) -D -m 0644 $(ONBOARD_AGENT_CONFIG_FILE) \
		$(TARGET_DIR)/etc/onboard-agent/config.json
endef
ONBOARD_AGENT_POST_INSTALL_TARGET_HOOKS += ONBOARD_AGENT_INSTALL_CONFIG
endif

# Same user as the sysusers.d snippet; tss gives access to /dev/tpmrm0.
define ONBOARD_AGENT_USERS
	onboard-agent -1 onboard-agent -1 * /var/lib/onboard-agent - tss onboard-agent daemon
endef

# As the unit and tmpfiles.d say: the configuration (it may hold the claim key) readable by the
# agent's group only, the state (the device's identity) by the agent only.
define ONBOARD_AGENT_PERMISSIONS
	/etc/onboard-agent d 0750 root onboard-agent - - - - -
	/var/lib/onboard-agent d 0700 onboard-agent onboard-agent - - - - -
endef

$(eval $(autotools-package))
