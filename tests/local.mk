# tests/: unit (cmocka), integration (the test world), emulator, bench, fuzz.
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	top_srcdir='$(abs_top_srcdir)'; export top_srcdir; \
	top_builddir='$(abs_top_builddir)'; export top_builddir;

# ---------------------------------------------------------------- unit tests (cmocka)
if HAVE_CMOCKA
UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JSONC_CFLAGS) $(CRYPTO_CFLAGS) -I$(top_srcdir)/tests/unit
UNIT_LDADD = lib/libob.la $(CMOCKA_LIBS) $(JSONC_LIBS) $(CRYPTO_LIBS)

unit_tests = tests/unit/test-log

tests_unit_test_log_SOURCES = tests/unit/test-log.c
tests_unit_test_log_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_log_LDADD = $(UNIT_LDADD)

check_PROGRAMS += $(unit_tests)
TESTS += $(unit_tests)

check-unit: $(unit_tests)
	@$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(unit_tests)"
.PHONY += check-unit
endif

# ---------------------------------------------------------------- emulator (tests/emulator)
include tests/emulator/local.mk
