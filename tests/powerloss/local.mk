# ---- power loss: an LD_PRELOAD shim that fails filesystem calls and cuts power inside the real
# daemon (tests/powerloss/ob-fault.c, docs/testing.md "Power loss"). Built for the tests only,
# never installed, never instrumented (it is preloaded ahead of everything, like the emulator
# plugin, so it gets OB_PLUGIN_CFLAGS). `make check` runs a sample; `make check-powerloss` the
# full sweep.
check_LTLIBRARIES += tests/powerloss/ob-fault.la
tests_powerloss_ob_fault_la_SOURCES = tests/powerloss/ob-fault.c
tests_powerloss_ob_fault_la_CFLAGS = $(OB_PLUGIN_CFLAGS)
tests_powerloss_ob_fault_la_LDFLAGS = $(OB_PLUGIN_LDFLAGS) -module -avoid-version -shared -rpath /nowhere
tests_powerloss_ob_fault_la_LIBADD = -ldl

TESTS += tests/powerloss/test-powerloss.sh
EXTRA_DIST += tests/powerloss/test-powerloss.sh

check-powerloss: all tests/powerloss/ob-fault.la
	@OB_POWERLOSS_FULL=1 $(MAKE) $(AM_MAKEFLAGS) check TESTS=tests/powerloss/test-powerloss.sh
.PHONY += check-powerloss
