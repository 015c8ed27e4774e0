# tpm/: key providers (TPM 2.0 via tpm2-tss ESAPI, software file keys).
noinst_LTLIBRARIES += tpm/libobtpm.la
tpm_libobtpm_la_SOURCES = tpm/key-soft.c
tpm_libobtpm_la_CFLAGS = $(AM_CFLAGS) $(TSS2_CFLAGS) $(CRYPTO_CFLAGS)
tpm_libobtpm_la_LIBADD = lib/libob.la $(TSS2_LIBS) $(CRYPTO_LIBS)
if HAVE_TPM
tpm_libobtpm_la_SOURCES += tpm/tpm-key.c tpm/tpm-key.h tpm/tpm-private.h tpm/tpm-srk.c \
	tpm/tpm-provider.c tpm/tpm-info.c
endif
