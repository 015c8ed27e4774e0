# tests/emulator/: AWS IoT Core emulator as a mosquitto 2.0 plugin (see docs/emulator.md).
if BUILD_EMULATOR
pkglib_LTLIBRARIES += tests/emulator/ob_emulator.la
tests_emulator_ob_emulator_la_SOURCES = \
	tests/emulator/plugin.c \
	tests/emulator/policy.c tests/emulator/policy.h \
	tests/emulator/template.c tests/emulator/template.h \
	tests/emulator/pki.c tests/emulator/pki.h
tests_emulator_ob_emulator_la_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CRYPTO_CFLAGS) -fvisibility=default
tests_emulator_ob_emulator_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared
tests_emulator_ob_emulator_la_LIBADD = lib/libob.la $(JSONC_LIBS) $(CRYPTO_LIBS)
endif
EXTRA_DIST += tests/emulator/world-hook.sh tests/emulator/ob-emu-admin
