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
ONBOARD_AGENT_DEPENDENCIES = host-pkgconf json-c openssl paho-mqtt-c tpm2-tss
ONBOARD_AGENT_CONF_OPTS = \
	--with-tpm \
	--disable-emulator \
	--with-sysusersdir=/usr/lib/sysusers.d \
	--with-tmpfilesdir=/usr/lib/tmpfiles.d

ifeq ($(BR2_PACKAGE_SYSTEMD),y)
ONBOARD_AGENT_DEPENDENCIES += systemd
ONBOARD_AGENT_CONF_OPTS += --with-systemd
else
ONBOARD_AGENT_CONF_OPTS += --without-systemd
endif

# The unit is installed by `make install`, and only for a systemd init.
ifeq ($(BR2_INIT_SYSTEMD),y)
ONBOARD_AGENT_CONF_OPTS += --with-systemdsystemunitdir=/usr/lib/systemd/system
else
ONBOARD_AGENT_CONF_OPTS += --with-systemdsystemunitdir=no
endif

# The upstream example configuration is documentation, not a product's configuration.
define ONBOARD_AGENT_MOVE_EXAMPLE_CONFIG
	$(INSTALL) -d $(TARGET_DIR)/usr/share/onboard-agent
	mv $(TARGET_DIR)/etc/onboard-agent/config.json \
		$(TARGET_DIR)/usr/share/onboard-agent/config.json.example
endef
ONBOARD_AGENT_POST_INSTALL_TARGET_HOOKS += ONBOARD_AGENT_MOVE_EXAMPLE_CONFIG

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

$(eval $(autotools-package))
