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

unit_tests += tests/unit/test-store
tests_unit_test_store_SOURCES = tests/unit/test-store.c
tests_unit_test_store_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_store_LDADD = $(UNIT_LDADD)

unit_tests += tests/unit/test-backoff
tests_unit_test_backoff_SOURCES = tests/unit/test-backoff.c
tests_unit_test_backoff_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_backoff_LDADD = $(UNIT_LDADD)

unit_tests += tests/unit/test-tss2-pem
tests_unit_test_tss2_pem_SOURCES = tests/unit/test-tss2-pem.c
tests_unit_test_tss2_pem_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_tss2_pem_LDADD = $(UNIT_LDADD)

unit_tests += tests/unit/test-csr
tests_unit_test_csr_SOURCES = tests/unit/test-csr.c
tests_unit_test_csr_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_csr_LDADD = $(UNIT_LDADD)

unit_tests += tests/unit/test-fleet-proto
tests_unit_test_fleet_proto_SOURCES = tests/unit/test-fleet-proto.c
tests_unit_test_fleet_proto_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_fleet_proto_LDADD = $(UNIT_LDADD)

unit_tests += tests/unit/test-key-soft
tests_unit_test_key_soft_SOURCES = tests/unit/test-key-soft.c
tests_unit_test_key_soft_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_key_soft_LDADD = tpm/libobtpm.la $(UNIT_LDADD) $(TSS2_LIBS)

check_PROGRAMS += $(unit_tests)
TESTS += $(unit_tests)

check-unit: $(unit_tests)
	@$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(unit_tests)"
.PHONY += check-unit
endif

# ---- config helper: configuration table, drop-ins, diagnostics, docs agree with the table
if HAVE_CMOCKA
unit_tests += tests/unit/test-config
tests_unit_test_config_SOURCES = tests/unit/test-config.c
tests_unit_test_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_LDADD = $(UNIT_LDADD)
endif

# ---- config helper: the command-line mains and their exit codes (no test world needed)
TESTS += tests/integration/test-cli-config.sh
EXTRA_DIST += tests/integration/test-cli-config.sh

# ---------------------------------------------------------------- integration tests (test world)
TESTS += tests/integration/test-world.sh
if HAVE_TPM
check_PROGRAMS += tests/integration/ob-keytool
tests_integration_ob_keytool_SOURCES = tests/integration/ob-keytool.c
tests_integration_ob_keytool_CFLAGS = $(AM_CFLAGS) $(TSS2_CFLAGS) $(CRYPTO_CFLAGS)
tests_integration_ob_keytool_LDADD = tpm/libobtpm.la lib/libob.la $(TSS2_LIBS) $(CRYPTO_LIBS) $(JSONC_LIBS)
TESTS += tests/integration/test-tpm-key.sh
endif
EXTRA_DIST += tests/integration/test-tpm-key.sh

check_PROGRAMS += tests/integration/ob-mqtt-probe
if HAVE_TPM
TESTS += tests/integration/test-transport.sh
endif
EXTRA_DIST += tests/integration/test-transport.sh tests/integration/common.sh
tests_integration_ob_mqtt_probe_SOURCES = tests/integration/ob-mqtt-probe.c
tests_integration_ob_mqtt_probe_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
tests_integration_ob_mqtt_probe_LDADD = agent/libobagent.la lib/libob.la $(PAHO_LIBS) $(CRYPTO_LIBS) $(JSONC_LIBS)
EXTRA_DIST += tests/world/world.sh tests/integration/test-world.sh tests/demo.sh
# ---------------------------------------------------------------- emulator (tests/emulator)
include tests/emulator/local.mk
# ---------------------------------------------------------------- fuzzing (tests/fuzz)
include tests/fuzz/local.mk
# ---------------------------------------------------------------- analysis, valgrind, coverage
include tests/hygiene/local.mk
