# tests/: unit (cmocka), integration (the test world), emulator, bench, fuzz.
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	top_srcdir='$(abs_top_srcdir)'; export top_srcdir; \
	top_builddir='$(abs_top_builddir)'; export top_builddir; \
	ASAN_OPTIONS="$${ASAN_OPTIONS:-fast_unwind_on_malloc=0}"; export ASAN_OPTIONS; \
	LSAN_OPTIONS="$${LSAN_OPTIONS:-suppressions=$(abs_top_srcdir)/tests/lsan.supp:print_suppressions=0}"; \
	export LSAN_OPTIONS;

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

# ---- ident helper: credential generations (lib/creds)
if HAVE_CMOCKA
unit_tests += tests/unit/test-creds
tests_unit_test_creds_SOURCES = tests/unit/test-creds.c
tests_unit_test_creds_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_creds_LDADD = $(UNIT_LDADD)
endif

# ---- pure-io helper: the in-memory filesystem of the flow tests (tests/unit/fake-fs.[ch])
if HAVE_CMOCKA
unit_tests += tests/unit/test-fake-fs
tests_unit_test_fake_fs_SOURCES = tests/unit/test-fake-fs.c tests/unit/fake-fs.c \
	tests/unit/fake-fs.h
tests_unit_test_fake_fs_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_fake_fs_LDADD = $(UNIT_LDADD)
endif

# ---- pure-io helper: each method family's flow on fakes only (no temp dir)
if HAVE_CMOCKA
unit_tests += tests/unit/test-onboard-flows
tests_unit_test_onboard_flows_SOURCES = tests/unit/test-onboard-flows.c tests/unit/fake-fs.c \
	tests/unit/fake-fs.h tests/unit/fake-key-provider.c tests/unit/fake-key-provider.h \
	tests/unit/fake-events.c tests/unit/fake-events.h
tests_unit_test_onboard_flows_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_onboard_flows_LDADD = $(UNIT_LDADD)
endif

# ---- dates from 64-bit seconds, whatever the width of time_t (lib/isotime)
if HAVE_CMOCKA
unit_tests += tests/unit/test-isotime
tests_unit_test_isotime_SOURCES = tests/unit/test-isotime.c
tests_unit_test_isotime_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_isotime_LDADD = $(UNIT_LDADD)
endif

# ---- known provider defects by version and platform (lib/provider-compat)
if HAVE_CMOCKA
unit_tests += tests/unit/test-provider-compat
tests_unit_test_provider_compat_SOURCES = tests/unit/test-provider-compat.c
tests_unit_test_provider_compat_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_provider_compat_LDADD = $(UNIT_LDADD)
endif

# ---- retired credential slots (lib/retire): the sweep after the grace
if HAVE_CMOCKA
unit_tests += tests/unit/test-retire
tests_unit_test_retire_SOURCES = tests/unit/test-retire.c
tests_unit_test_retire_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_retire_LDADD = $(UNIT_LDADD)
endif

# ---- ident helper: certificate checks (lib/x509)
if HAVE_CMOCKA
unit_tests += tests/unit/test-x509
tests_unit_test_x509_SOURCES = tests/unit/test-x509.c
tests_unit_test_x509_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_x509_LDADD = $(UNIT_LDADD)
endif

# ---- whom configuration files may belong to (lib/config-trust)
if HAVE_CMOCKA
unit_tests += tests/unit/test-config-trust
tests_unit_test_config_trust_SOURCES = tests/unit/test-config-trust.c
tests_unit_test_config_trust_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_trust_LDADD = $(UNIT_LDADD)
endif

# ---- the connection-outcome table (lib/conn-outcome)
if HAVE_CMOCKA
unit_tests += tests/unit/test-conn-outcome
tests_unit_test_conn_outcome_SOURCES = tests/unit/test-conn-outcome.c
tests_unit_test_conn_outcome_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_conn_outcome_LDADD = $(UNIT_LDADD)

# ---- the MQTT CONNECT/CONNACK of agentctl check cloud (lib/mqtt-connect)
unit_tests += tests/unit/test-mqtt-connect
tests_unit_test_mqtt_connect_SOURCES = tests/unit/test-mqtt-connect.c
tests_unit_test_mqtt_connect_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_mqtt_connect_LDADD = $(UNIT_LDADD)

# ---- which configuration runs (lib/config-digest: daemon status, check config-current)
unit_tests += tests/unit/test-config-digest
tests_unit_test_config_digest_SOURCES = tests/unit/test-config-digest.c
tests_unit_test_config_digest_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_digest_LDADD = $(UNIT_LDADD)
endif

# ---- what is accepted of an issued certificate (lib/cert-accept)
if HAVE_CMOCKA
unit_tests += tests/unit/test-cert-accept
tests_unit_test_cert_accept_SOURCES = tests/unit/test-cert-accept.c
tests_unit_test_cert_accept_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cert_accept_LDADD = $(UNIT_LDADD)
endif

# ---- the onboarding state machine against a fake cloud (real software keys, real X.509)
if HAVE_CMOCKA
unit_tests += tests/unit/test-jobs-proto
tests_unit_test_jobs_proto_SOURCES = tests/unit/test-jobs-proto.c
tests_unit_test_jobs_proto_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_jobs_proto_LDADD = $(UNIT_LDADD)
unit_tests += tests/unit/test-job-runner
tests_unit_test_job_runner_SOURCES = tests/unit/test-job-runner.c
tests_unit_test_job_runner_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_job_runner_LDADD = $(UNIT_LDADD)
unit_tests += tests/unit/test-shadow-report
tests_unit_test_shadow_report_SOURCES = tests/unit/test-shadow-report.c
tests_unit_test_shadow_report_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_shadow_report_LDADD = $(UNIT_LDADD)
unit_tests += tests/unit/test-state-compat
tests_unit_test_state_compat_SOURCES = tests/unit/test-state-compat.c
tests_unit_test_state_compat_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_state_compat_LDADD = tpm/libobtpm.la $(UNIT_LDADD) $(TSS2_LIBS)
EXTRA_DIST += tests/data/state-ca88530
ONBOARD_HARNESS = tests/unit/onboard-harness.c tests/unit/onboard-harness.h \
	tests/unit/fake-events.c tests/unit/fake-events.h
unit_tests += tests/unit/test-onboard
tests_unit_test_onboard_SOURCES = tests/unit/test-onboard.c $(ONBOARD_HARNESS)
tests_unit_test_onboard_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_onboard_LDADD = tpm/libobtpm.la $(UNIT_LDADD) $(TSS2_LIBS)
unit_tests += tests/unit/test-onboard-rotate
tests_unit_test_onboard_rotate_SOURCES = tests/unit/test-onboard-rotate.c $(ONBOARD_HARNESS)
tests_unit_test_onboard_rotate_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_onboard_rotate_LDADD = tpm/libobtpm.la $(UNIT_LDADD) $(TSS2_LIBS)
unit_tests += tests/unit/test-onboard-checkin
tests_unit_test_onboard_checkin_SOURCES = tests/unit/test-onboard-checkin.c $(ONBOARD_HARNESS)
tests_unit_test_onboard_checkin_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_onboard_checkin_LDADD = tpm/libobtpm.la $(UNIT_LDADD) $(TSS2_LIBS)
unit_tests += tests/unit/test-onboard-heal
tests_unit_test_onboard_heal_SOURCES = tests/unit/test-onboard-heal.c $(ONBOARD_HARNESS)
tests_unit_test_onboard_heal_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_onboard_heal_LDADD = tpm/libobtpm.la $(UNIT_LDADD) $(TSS2_LIBS)
unit_tests += tests/unit/test-onboard-jobs
tests_unit_test_onboard_jobs_SOURCES = tests/unit/test-onboard-jobs.c $(ONBOARD_HARNESS)
tests_unit_test_onboard_jobs_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_onboard_jobs_LDADD = tpm/libobtpm.la $(UNIT_LDADD) $(TSS2_LIBS)
unit_tests += tests/unit/test-onboard-factory
tests_unit_test_onboard_factory_SOURCES = tests/unit/test-onboard-factory.c $(ONBOARD_HARNESS)
tests_unit_test_onboard_factory_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_onboard_factory_LDADD = tpm/libobtpm.la $(UNIT_LDADD) $(TSS2_LIBS)
endif

# ---- ident helper: serial number sources (lib/identity)
if HAVE_CMOCKA
unit_tests += tests/unit/test-identity
tests_unit_test_identity_SOURCES = tests/unit/test-identity.c
tests_unit_test_identity_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_identity_LDADD = $(UNIT_LDADD)
endif

# ---- ctl helper: the control-socket codec
if HAVE_CMOCKA
unit_tests += tests/unit/test-ctl-proto
tests_unit_test_ctl_proto_SOURCES = tests/unit/test-ctl-proto.c
tests_unit_test_ctl_proto_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ctl_proto_LDADD = $(UNIT_LDADD)
endif

# ---- the control socket's admission rule (agent/control-limits.c: pure, compiled in)
if HAVE_CMOCKA
unit_tests += tests/unit/test-journal-fields
tests_unit_test_journal_fields_SOURCES = tests/unit/test-journal-fields.c \
	agent/journal-fields.c agent/journal-fields.h
tests_unit_test_journal_fields_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/agent
tests_unit_test_journal_fields_LDADD = $(UNIT_LDADD)
unit_tests += tests/unit/test-control-limits
tests_unit_test_control_limits_SOURCES = tests/unit/test-control-limits.c \
	agent/control-limits.c agent/control-limits.h
tests_unit_test_control_limits_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/agent
tests_unit_test_control_limits_LDADD = $(UNIT_LDADD)
endif

# agentctl's --json errors (agent/cli.c)
if HAVE_CMOCKA
unit_tests += tests/unit/test-cli
tests_unit_test_cli_SOURCES = tests/unit/test-cli.c agent/cli.c agent/cli.h
tests_unit_test_cli_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/agent
tests_unit_test_cli_LDADD = $(UNIT_LDADD)
endif

# ---- ctl helper: the control socket, server and client, end to end (needs root for setpriv)
if HAVE_SYSTEMD
check_PROGRAMS += tests/integration/ob-ctl-server tests/integration/ob-ctl-call
tests_integration_ob_ctl_server_SOURCES = tests/integration/ob-ctl-server.c
tests_integration_ob_ctl_server_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
tests_integration_ob_ctl_server_LDADD = agent/libobagent.la lib/libob.la $(SYSTEMD_LIBS) $(JSONC_LIBS)
tests_integration_ob_ctl_call_SOURCES = tests/integration/ob-ctl-call.c
tests_integration_ob_ctl_call_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_integration_ob_ctl_call_LDADD = agent/libobagent.la lib/libob.la $(JSONC_LIBS)
TESTS += tests/integration/test-control.sh
endif
EXTRA_DIST += tests/integration/test-control.sh tests/integration/ctl-raw.py

# ---- a hostile control-group member against the real daemon (issue 19): a flood of its
# connections never locks root out; make check-local-peer: 20 rotations instead of 5
TESTS += tests/integration/test-local-peer.sh
EXTRA_DIST += tests/integration/test-local-peer.sh tests/integration/ctl-flood.py
check-local-peer: onboard-agent$(EXEEXT) agentctl$(EXEEXT) tests/integration/ob-ctl-call$(EXEEXT)
	@top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' OB_FLOOD_ROTATIONS=20 \
	sh '$(abs_top_srcdir)/tests/integration/test-local-peer.sh'
.PHONY: check-local-peer

# ---- onboarding end to end: the daemon against the emulator with the TPM
TESTS += tests/integration/test-onboard.sh
EXTRA_DIST += tests/integration/test-onboard.sh tests/lsan.supp

# ---- tpm helper: the fake key provider (tests/unit/fake-key-provider.[ch]) and CSRs over it
if HAVE_CMOCKA
unit_tests += tests/unit/test-key-provider-fake
tests_unit_test_key_provider_fake_SOURCES = tests/unit/test-key-provider-fake.c \
	tests/unit/fake-key-provider.c tests/unit/fake-key-provider.h
tests_unit_test_key_provider_fake_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_key_provider_fake_LDADD = $(UNIT_LDADD)
endif

# ---------------------------------------------------------------- fuzzing (tests/fuzz)
include tests/fuzz/local.mk

# ---- certificate rotation end to end: the daemon against the emulator with the TPM
TESTS += tests/integration/test-rotate.sh
TESTS += tests/integration/test-shadow.sh
EXTRA_DIST += tests/integration/test-shadow.sh
EXTRA_DIST += tests/integration/test-rotate.sh tests/integration/agent-lib.sh
TESTS += tests/integration/test-heal.sh
EXTRA_DIST += tests/integration/test-heal.sh
TESTS += tests/integration/test-jobs.sh
EXTRA_DIST += tests/integration/test-jobs.sh

# ---------------------------------------------------------------- analysis, valgrind, coverage
include tests/hygiene/local.mk

# ---- system helper: the systemd unit (offline gate in make check; make check-system)
include tests/system/local.mk

# ---- check helper: the pure parts of `agentctl check` (lib/health.[ch])
if HAVE_CMOCKA
unit_tests += tests/unit/test-health
tests_unit_test_health_SOURCES = tests/unit/test-health.c
tests_unit_test_health_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_health_LDADD = $(UNIT_LDADD)
endif

# ---- check helper: agentctl check against the test world
TESTS += tests/integration/test-check.sh
EXTRA_DIST += tests/integration/test-check.sh
TESTS += tests/integration/test-completion.sh
EXTRA_DIST += tests/integration/test-completion.sh
# ---- the SRK made again with every persistent TPM handle taken: a transient SRK, no restart loop
TESTS += tests/integration/test-srk-full.sh
EXTRA_DIST += tests/integration/test-srk-full.sh

include tests/bench/local.mk

# ---- factory helper: agentctl factory csr|install-cert|status against swtpm + tpm2-abrmd
TESTS += tests/integration/test-factory.sh
EXTRA_DIST += tests/integration/test-factory.sh

# ---- vendortls helper: the probe linked like the daemon, with agent/tls-handle-key.c (MQTT TLS
# with a key at a persistent TPM handle, tests/integration/test-transport.sh)
check_PROGRAMS += tests/integration/ob-mqtt-probe-handle
tests_integration_ob_mqtt_probe_handle_SOURCES = tests/integration/ob-mqtt-probe.c \
	agent/tls-handle-key.c agent/tls-handle-key.h
tests_integration_ob_mqtt_probe_handle_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
tests_integration_ob_mqtt_probe_handle_LDFLAGS = $(AM_LDFLAGS) $(OB_EXPORT_TLS_LDFLAGS)
tests_integration_ob_mqtt_probe_handle_LDADD = agent/libobagent.la lib/libob.la $(PAHO_LIBS) \
	$(CRYPTO_LIBS) $(JSONC_LIBS) $(DL_LIBS)

# ---- tls-seam helper: the seam's runtime check (agent/tls-handle-key.h), linked like the daemon
# and with the replacement hidden from the libraries (as with a libssl or Paho linked otherwise)
if HAVE_CMOCKA
unit_tests += tests/unit/test-tls-seam tests/unit/test-tls-seam-hidden \
	tests/unit/test-tls-seam-versioned
tests_unit_test_tls_seam_SOURCES = tests/unit/test-tls-seam.c agent/tls-handle-key.c \
	agent/tls-handle-key.h
tests_unit_test_tls_seam_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/agent
tests_unit_test_tls_seam_LDFLAGS = $(AM_LDFLAGS) $(OB_EXPORT_TLS_LDFLAGS)
tests_unit_test_tls_seam_LDADD = agent/libobagent.la $(UNIT_LDADD) $(PAHO_LIBS) $(DL_LIBS)
tests_unit_test_tls_seam_hidden_SOURCES = $(tests_unit_test_tls_seam_SOURCES)
tests_unit_test_tls_seam_hidden_CFLAGS = $(tests_unit_test_tls_seam_CFLAGS) \
	-DOB_TEST_SEAM_HIDDEN -fvisibility=hidden
tests_unit_test_tls_seam_hidden_LDADD = $(tests_unit_test_tls_seam_LDADD)
tests_unit_test_tls_seam_versioned_SOURCES = $(tests_unit_test_tls_seam_SOURCES)
tests_unit_test_tls_seam_versioned_CFLAGS = $(tests_unit_test_tls_seam_CFLAGS) -DOB_TEST_SEAM_VERSIONED
tests_unit_test_tls_seam_versioned_LDFLAGS = $(tests_unit_test_tls_seam_LDFLAGS) \
	-Wl,--version-script=$(top_srcdir)/tests/unit/tls-seam-versioned.map
tests_unit_test_tls_seam_versioned_LDADD = $(tests_unit_test_tls_seam_LDADD)
EXTRA_DIST += tests/unit/tls-seam-versioned.map
endif

# ---- hostile helper: a hostile or broken cloud end to end (emulator faults, bad TLS servers)
TESTS += tests/integration/test-hostile.sh
EXTRA_DIST += tests/integration/test-hostile.sh tests/integration/tls-bad-server.py
EXTRA_DIST += tests/integration/tls12-proxy.py tests/integration/tcppipe.py

# ---- static, jitp and jitr end to end: the daemon against the emulator with the TPM
TESTS += tests/integration/test-methods.sh
EXTRA_DIST += tests/integration/test-methods.sh

# ---- methods helper: where the factory identity is looked for (lib/factory-paths.[ch])
if HAVE_CMOCKA
unit_tests += tests/unit/test-factory-paths
tests_unit_test_factory_paths_SOURCES = tests/unit/test-factory-paths.c
tests_unit_test_factory_paths_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_factory_paths_LDADD = $(UNIT_LDADD)
endif

# ---- crash helper: SIGKILL at seeded random moments (a sample in make check; make check-crash)
TESTS += tests/integration/test-crash.sh
EXTRA_DIST += tests/integration/test-crash.sh tests/integration/crash-campaign.sh \
	tests/integration/crash-times.txt \
	tests/integration/crash-worker.sh
CRASH_KILLS ?= 1000
CRASH_JOBS ?= 4
check-crash: onboard-agent$(EXEEXT) agentctl$(EXEEXT) tests/integration/ob-mqtt-probe$(EXEEXT)
	@top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	CRASH_KILLS='$(CRASH_KILLS)' CRASH_RUNS='$(CRASH_RUNS)' CRASH_SEED='$(CRASH_SEED)' \
	CRASH_JOBS='$(CRASH_JOBS)' CRASH_BATCH='$(CRASH_BATCH)' CRASH_TPM_SHARE='$(CRASH_TPM_SHARE)' \
	CRASH_TIMES='$(CRASH_TIMES)' CRASH_ONLY='$(CRASH_ONLY)' CRASH_OUT='$(CRASH_OUT)' \
	CRASH_MEASURE='$(CRASH_MEASURE)' bash '$(abs_top_srcdir)/tests/integration/crash-campaign.sh'
.PHONY: check-crash

# ---- outages: broker down, DNS failure, tpm2-abrmd restarted, TPM lockout (issue 10)
TESTS += tests/integration/test-outages.sh
EXTRA_DIST += tests/integration/test-outages.sh

# ---- the suite's secret scan: every world keeps its logs and its secrets (tests/world/world.sh,
# OB_WORLD_LOGS); test-secrets.sh runs after every other test and greps all logs for them
AM_TESTS_ENVIRONMENT += OB_WORLD_LOGS='$(abs_top_builddir)/tests/world-logs'; export OB_WORLD_LOGS;
TESTS += tests/hygiene/test-secrets.sh
# a test written as one single-quoted script runs to its end (no apostrophe closes it early)
TESTS += tests/hygiene/test-inline-scripts.sh
EXTRA_DIST += tests/hygiene/test-inline-scripts.sh
EXTRA_DIST += tests/hygiene/test-secrets.sh
tests/hygiene/test-secrets.log: $(TEST_LOGS:tests/hygiene/test-secrets.log=)
clean-local: clean-world-logs
clean-world-logs:
	-rm -rf $(abs_top_builddir)/tests/world-logs
.PHONY: clean-world-logs

include tests/powerloss/local.mk

# ---- vendore2e helper: a vendor's key at a TPM handle end to end (static, restart, rotate, jitp)
TESTS += tests/integration/test-vendor-key.sh
EXTRA_DIST += tests/integration/test-vendor-key.sh
