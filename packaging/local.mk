# packaging/: Yocto layer, Buildroot external tree, Debian packaging (shipped in the tarball).

# ---- packaging helper (docs/packaging.md)
EXTRA_DIST += LICENSE docs/packaging.md \
	packaging/build-deb.sh \
	packaging/cross.sh \
	tests/cross/test-cross-onboard.sh \
	packaging/reproducible.sh \
	packaging/run-ptest \
	packaging/check-yocto-build.sh \
	packaging/check-yocto-build.py \
	packaging/debian/changelog \
	packaging/debian/control \
	packaging/debian/copyright \
	packaging/debian/onboard-agent.lintian-overrides \
	packaging/debian/onboard-agent.postrm \
	packaging/debian/rules \
	packaging/debian/source/format \
	packaging/yocto/meta-onboard-agent/README.md \
	packaging/yocto/meta-onboard-agent/conf/layer.conf \
	packaging/yocto/meta-onboard-agent/recipes-connectivity/onboard-agent/onboard-agent_git.bb \
	packaging/yocto/meta-onboard-agent/recipes-connectivity/onboard-agent-config/onboard-agent-config_1.0.bb \
	packaging/yocto/meta-onboard-agent/recipes-connectivity/onboard-agent-config/onboard-agent-config/README.config \
	packaging/yocto/meta-onboard-agent/examples/meta-product/conf/layer.conf \
	packaging/yocto/meta-onboard-agent/examples/meta-product/recipes-connectivity/onboard-agent-config/onboard-agent-config_%.bbappend \
	packaging/buildroot/external.desc \
	packaging/buildroot/external.mk \
	packaging/buildroot/Config.in \
	packaging/buildroot/package/onboard-agent/Config.in \
	packaging/buildroot/package/onboard-agent/onboard-agent.mk \
	packaging/buildroot/package/onboard-agent/onboard-agent.hash

# Yocto ptest: ptest.bbclass runs `make install-ptest DESTDIR=<ptest dir>` when the Makefile
# has this target; the recipe only builds the tests first (ptest-build). The unit tests are
# plain executables (they link convenience libraries only); test-config reads the docs and the
# example configuration beside them.
ptest_programs =
if HAVE_CMOCKA
ptest_programs += $(unit_tests)
endif
ptest-build: $(ptest_programs)
install-ptest: $(ptest_programs)
	@test -n "$(ptest_programs)" || { echo "install-ptest: configure found no cmocka" >&2; exit 1; }
	$(MKDIR_P) $(DESTDIR)/tests/unit $(DESTDIR)/docs/man $(DESTDIR)/config
	for t in $(ptest_programs); do \
		$(LIBTOOL) --mode=install $(INSTALL_PROGRAM) $$t $(DESTDIR)/tests/unit/ || exit 1; \
	done
	$(INSTALL_DATA) $(srcdir)/docs/configuration.md $(DESTDIR)/docs/
	$(INSTALL_DATA) $(srcdir)/docs/man/onboard-agent.json.5 $(DESTDIR)/docs/man/
	$(INSTALL_DATA) $(srcdir)/config/config.json $(DESTDIR)/config/
	$(INSTALL_SCRIPT) $(srcdir)/packaging/run-ptest $(DESTDIR)/run-ptest

# The packaging is checked with the ecosystems' own tools (docs/packaging.md "Checks"):
# ../shared/tools/check-packaging runs Buildroot's check-package, oelint-adv and lintian;
# `make check-yocto-build` builds the tree the Yocto recipe's SRCREV names the way the recipe
# does. `make check` keeps one invariant of the project's own: one version everywhere.
check-packaging:
	@v=$$(sed -n '1s/^onboard-agent (\([^-)]*\)-.*/\1/p' $(srcdir)/packaging/debian/changelog); \
	if test "$$v" != "$(PACKAGE_VERSION)"; then \
		echo "check-packaging: debian/changelog says $$v, configure.ac $(PACKAGE_VERSION)"; exit 1; fi
	@v=$$(sed -n 's/^ONBOARD_AGENT_VERSION = //p' $(srcdir)/packaging/buildroot/package/onboard-agent/onboard-agent.mk); \
	if test "$$v" != "$(PACKAGE_VERSION)"; then \
		echo "check-packaging: onboard-agent.mk says $$v, configure.ac $(PACKAGE_VERSION)"; exit 1; fi
check-local: check-packaging
check-yocto-build:
	@$(SHELL) $(srcdir)/packaging/check-yocto-build.sh
.PHONY += ptest-build install-ptest check-packaging check-yocto-build

# ---- foreign architectures (docs/testing.md "Foreign architectures"): each one built against
# a sysroot of its Debian packages, its unit tests run under qemu-user, then its daemon onboards
# and rotates against this build's test world (the broker and the emulator stay native).
# CI runs a slice (armhf, s390x); `make check-cross CROSS_ARCHES=armhf-t64` runs one.
CROSS_ARCHES = armhf armhf-t64 arm64 s390x
check-cross: all
	@st=0; for a in $(CROSS_ARCHES); do \
		$(SHELL) $(srcdir)/packaging/cross.sh $$a $(abs_top_builddir)/build-$$a || st=1; \
		bash $(srcdir)/tests/cross/test-cross-onboard.sh $$a $(abs_top_builddir)/build-$$a/obj \
			$(abs_top_builddir) || st=1; \
	done; exit $$st
.PHONY += check-cross
