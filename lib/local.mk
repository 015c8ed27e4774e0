# lib/: the core. Links libc, json-c and libcrypto only (no TPM, sockets, systemd, clock reads).
noinst_LTLIBRARIES += lib/libob.la
lib_libob_la_SOURCES = \
	lib/key-provider.h \
	lib/macro.h \
	lib/log.c lib/log.h \
	lib/fsops.c lib/fsops.h \
	lib/store.c lib/store.h \
	lib/errclass.h \
	lib/backoff.c lib/backoff.h \
	lib/tss2-pem.c lib/tss2-pem.h \
	lib/csr.c lib/csr.h \
	lib/fleet-proto.c lib/fleet-proto.h \
	lib/config-file.c lib/config-file.h \
	lib/cbor.c lib/cbor.h \
	lib/ctl-proto.c lib/ctl-proto.h
lib_libob_la_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CRYPTO_CFLAGS)
lib_libob_la_LIBADD = $(JSONC_LIBS) $(CRYPTO_LIBS)
