# lib/: the core. Links libc, json-c and libcrypto only (no TPM, sockets, systemd, clock reads).
noinst_LTLIBRARIES += lib/libob.la
lib_libob_la_SOURCES =
lib_libob_la_SOURCES += lib/key-provider.h
lib_libob_la_SOURCES += lib/macro.h
lib_libob_la_SOURCES += lib/log.c lib/log.h
lib_libob_la_SOURCES += lib/isotime.c lib/isotime.h
lib_libob_la_SOURCES += lib/provider-compat.c lib/provider-compat.h
lib_libob_la_SOURCES += lib/fsops.c lib/fsops.h
lib_libob_la_SOURCES += lib/store.c lib/store.h
lib_libob_la_SOURCES += lib/creds.c lib/creds.h
lib_libob_la_SOURCES += lib/retire.c lib/retire.h
lib_libob_la_SOURCES += lib/errclass.h
lib_libob_la_SOURCES += lib/backoff.c lib/backoff.h
lib_libob_la_SOURCES += lib/tss2-pem.c lib/tss2-pem.h
lib_libob_la_SOURCES += lib/csr.c lib/csr.h
lib_libob_la_SOURCES += lib/x509.c lib/x509.h
lib_libob_la_SOURCES += lib/cert-accept.c lib/cert-accept.h
lib_libob_la_SOURCES += lib/conn-outcome.c lib/conn-outcome.h
lib_libob_la_SOURCES += lib/identity.c lib/identity.h
lib_libob_la_SOURCES += lib/fleet-proto.c lib/fleet-proto.h
lib_libob_la_SOURCES += lib/config-file.c lib/config-file.h lib/config-private.h lib/config-keys.c \
	lib/config-diags.c lib/config-template.c lib/config-validate.c lib/config-load.c
lib_libob_la_SOURCES += lib/config-trust.c lib/config-trust.h
lib_libob_la_SOURCES += lib/cbor.c lib/cbor.h
lib_libob_la_SOURCES += lib/onboard.c lib/onboard.h lib/onboard-private.h lib/onboard-state.c \
	lib/onboard-factory.c lib/onboard-forget.c lib/onboard-status.c \
	lib/onboard-fleet.c lib/onboard-fleet.h lib/onboard-rotate.c lib/onboard-rotate.h \
	lib/onboard-checkin.c lib/onboard-checkin.h \
	lib/onboard-heal.c lib/onboard-heal.h \
	lib/onboard-jobs.c lib/onboard-jobs.h \
	lib/onboard-factory.h lib/onboard-jit.c lib/onboard-method.h lib/onboard-key.c \
	lib/onboard-key.h lib/onboard-connect.c lib/onboard-connect.h
lib_libob_la_SOURCES += lib/transport.c lib/transport.h
lib_libob_la_SOURCES += lib/ctl-proto.c lib/ctl-proto.h
# ---- check helper: result aggregation and the rotation window of `agentctl check`
lib_libob_la_SOURCES += lib/health.c lib/health.h
lib_libob_la_SOURCES += lib/shadow-report.c lib/shadow-report.h lib/jobs-proto.c lib/jobs-proto.h
lib_libob_la_SOURCES += lib/job-runner.c lib/job-runner.h
# the MQTT CONNECT/CONNACK of agentctl check cloud
lib_libob_la_SOURCES += lib/mqtt-connect.c lib/mqtt-connect.h
# which configuration runs: the daemon reports it in status, agentctl check config-current compares
lib_libob_la_SOURCES += lib/config-digest.c lib/config-digest.h
lib_libob_la_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CRYPTO_CFLAGS)
lib_libob_la_LIBADD = $(JSONC_LIBS) $(CRYPTO_LIBS)
# ---- factory identity paths (static/jitp/jitr; shared with agentctl factory)
lib_libob_la_SOURCES += lib/factory-paths.c lib/factory-paths.h
