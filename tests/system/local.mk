# tests/system/: the systemd unit. test-unit-security.sh runs in `make check` (offline, no root);
# `make check-system` boots a Debian 12 rootfs with a real systemd as PID 1 (needs root and
# debootstrap; docs/testing.md "System tests") and is not part of `make check`.
TESTS += tests/system/test-unit-security.sh
EXTRA_DIST += tests/system/test-unit-security.sh tests/system/rootfs.sh tests/system/boot.sh \
	tests/system/test-service.sh

check-unit-security:
	@$(MAKE) $(AM_MAKEFLAGS) check TESTS=tests/system/test-unit-security.sh

# The agent is installed into the booted rootfs from this build tree (DESTDIR), configured
# like a distribution package: --prefix=/usr --sysconfdir=/etc --localstatedir=/var.
check-system: all
	@top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/tests/system/test-service.sh
.PHONY += check-unit-security check-system
