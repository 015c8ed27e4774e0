# lib/: the core. Links libc, json-c and libcrypto only (no TPM, sockets, systemd, clock reads).
noinst_LTLIBRARIES += lib/libob.la
lib_libob_la_SOURCES = \
	lib/macro.h \
	lib/log.c lib/log.h \
	lib/cbor.c lib/cbor.h
lib_libob_la_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CRYPTO_CFLAGS)
lib_libob_la_LIBADD = $(JSONC_LIBS) $(CRYPTO_LIBS)
