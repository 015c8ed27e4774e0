# tests/emulator/: AWS IoT Core emulator as a mosquitto 2.0 plugin (see docs/emulator.md).
if BUILD_EMULATOR
pkglib_LTLIBRARIES += tests/emulator/ob_emulator.la
tests_emulator_ob_emulator_la_SOURCES = \
	tests/emulator/plugin.c \
	tests/emulator/admin-cmds.c tests/emulator/admin-cmds.h \
	tests/emulator/policy.c tests/emulator/policy.h \
	tests/emulator/template.c tests/emulator/template.h \
	tests/emulator/pki.c tests/emulator/pki.h \
	tests/emulator/ca-trust.c tests/emulator/ca-trust.h \
	tests/emulator/shadow.c tests/emulator/shadow.h \
	tests/emulator/jobs.c tests/emulator/jobs.h \
	lib/cbor.c lib/cbor.h lib/log.c lib/log.h
# never instrumented, even in a sanitizer build (configure.ac: OB_PLUGIN_CFLAGS)
tests_emulator_ob_emulator_la_CFLAGS = $(OB_PLUGIN_CFLAGS) $(JSONC_CFLAGS) $(CRYPTO_CFLAGS) -fvisibility=default
tests_emulator_ob_emulator_la_LDFLAGS = $(OB_PLUGIN_LDFLAGS) -module -avoid-version -shared
tests_emulator_ob_emulator_la_LIBADD = $(JSONC_LIBS) $(CRYPTO_LIBS)
endif
EXTRA_DIST += tests/emulator/world-hook.sh tests/emulator/ob-emu-admin tests/emulator/aws-issuer-ca.py

if HAVE_CMOCKA
emu_unit_tests = tests/unit/test-emu-policy tests/unit/test-emu-template tests/unit/test-emu-pki \
	tests/unit/test-emu-ca-trust tests/unit/test-emu-shadow tests/unit/test-emu-jobs
tests_unit_test_emu_jobs_SOURCES = tests/unit/test-emu-jobs.c tests/emulator/jobs.c
tests_unit_test_emu_jobs_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/tests/emulator
tests_unit_test_emu_jobs_LDADD = $(UNIT_LDADD)
tests_unit_test_emu_shadow_SOURCES = tests/unit/test-emu-shadow.c tests/emulator/shadow.c
tests_unit_test_emu_shadow_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/tests/emulator
tests_unit_test_emu_shadow_LDADD = $(UNIT_LDADD)
tests_unit_test_emu_ca_trust_SOURCES = tests/unit/test-emu-ca-trust.c tests/emulator/ca-trust.c
tests_unit_test_emu_ca_trust_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/tests/emulator
tests_unit_test_emu_ca_trust_LDADD = $(UNIT_LDADD)
tests_unit_test_emu_pki_SOURCES = tests/unit/test-emu-pki.c tests/emulator/pki.c
tests_unit_test_emu_pki_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/tests/emulator
tests_unit_test_emu_pki_LDADD = $(UNIT_LDADD)
tests_unit_test_emu_policy_SOURCES = tests/unit/test-emu-policy.c tests/emulator/policy.c
tests_unit_test_emu_policy_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/tests/emulator
tests_unit_test_emu_policy_LDADD = $(UNIT_LDADD)
tests_unit_test_emu_template_SOURCES = tests/unit/test-emu-template.c tests/emulator/template.c
tests_unit_test_emu_template_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/tests/emulator
tests_unit_test_emu_template_LDADD = $(UNIT_LDADD)
unit_tests += $(emu_unit_tests)
endif

if BUILD_EMULATOR
TESTS += tests/emulator/test-emulator.sh tests/emulator/test-emu-certs.sh \
	tests/emulator/test-emu-ca-trust.sh
endif
EXTRA_DIST += tests/emulator/test-emulator.sh tests/emulator/emu-client.py tests/emulator/sni-front.py \
	tests/emulator/test-emu-certs.sh tests/emulator/test-emu-ca-trust.sh tests/emulator/emu-test-lib.sh

if HAVE_CMOCKA
tests_unit_test_cbor_SOURCES = tests/unit/test-cbor.c
tests_unit_test_cbor_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cbor_LDADD = $(UNIT_LDADD)
unit_tests += tests/unit/test-cbor
endif

# ---- the control plane for the AWS CLI (api-server.py, docs/emulator-cli.md) and the
# whitepaper's flows driven by the real `aws` (Debian's awscli; skipped with a reason without it)
EXTRA_DIST += tests/emulator/api-server.py tests/emulator/api_http.py tests/emulator/api_ops.py \
	tests/emulator/api_handlers.py \
	tests/emulator/api-check.py tests/emulator/test-emu-api.sh
if BUILD_EMULATOR
TESTS += tests/emulator/test-emu-api.sh tests/integration/test-cli-factory.sh \
	tests/integration/test-cli-fleet.sh
endif
EXTRA_DIST += tests/integration/cli-lib.sh tests/integration/test-cli-factory.sh \
	tests/integration/test-cli-fleet.sh
if HAVE_CMOCKA
unit_tests += tests/unit/test-emu-admin-cmds
tests_unit_test_emu_admin_cmds_SOURCES = tests/unit/test-emu-admin-cmds.c \
	tests/emulator/admin-cmds.c tests/emulator/policy.c tests/emulator/template.c
tests_unit_test_emu_admin_cmds_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/tests/emulator
tests_unit_test_emu_admin_cmds_LDADD = $(UNIT_LDADD)
endif
