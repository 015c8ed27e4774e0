# tests/fuzz/: libFuzzer targets (docs/testing.md, "Fuzzing"). Built with clang by
# tests/fuzz/fuzz.sh into build/fuzz/, whatever compiler the tree is configured with.
#
# Adding a target is one line: FUZZ_TARGETS += NAME, for tests/fuzz/fuzz-NAME.c with seeds in
# tests/fuzz/corpus/NAME/ (and optionally a libFuzzer dictionary tests/fuzz/fuzz-NAME.dict).
# The targets link every lib/ source, so new lib/ modules need nothing here.
FUZZ_TARGETS = config
FUZZ_TARGETS += store
FUZZ_TARGETS += fleet-json
FUZZ_TARGETS += fleet-cbor
FUZZ_TARGETS += cbor
FUZZ_TARGETS += tss2-pem
FUZZ_TARGETS += x509-csr
FUZZ_TARGETS += backoff-json
FUZZ_TARGETS += emu-template
FUZZ_TARGETS += ctl-proto

# Sources outside lib/ that targets use.
FUZZ_EXTRA_SRC = tests/emulator/template.c

FUZZ_CC = clang
FUZZ_SECONDS = 60
FUZZ_CHECK_SECONDS = 10
FUZZ_JOBS = 2
fuzz_env = top_srcdir='$(top_srcdir)' FUZZ_OUT='$(abs_top_builddir)/fuzz' \
	FUZZ_TARGETS='$(FUZZ_TARGETS)' \
	FUZZ_SOURCES='$(lib_libob_la_SOURCES) $(FUZZ_EXTRA_SRC)' \
	FUZZ_CC='$(FUZZ_CC)' FUZZ_JOBS='$(FUZZ_JOBS)' \
	FUZZ_CPPFLAGS='$(DEFS) -I$(top_builddir) $(AM_CPPFLAGS) -I$(top_srcdir)/tests/emulator $(JSONC_CFLAGS) $(CRYPTO_CFLAGS)' \
	FUZZ_LIBS='$(JSONC_LIBS) $(CRYPTO_LIBS)'

# make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS='store cbor']: fuzz each target for a while.
fuzz:
	@$(fuzz_env) $(SHELL) $(top_srcdir)/tests/fuzz/fuzz.sh run $(FUZZ_SECONDS)

# CI: replay every seed, then fuzz each target for FUZZ_CHECK_SECONDS. Skips without clang.
check-fuzz:
	@$(fuzz_env) $(SHELL) $(top_srcdir)/tests/fuzz/fuzz.sh check $(FUZZ_CHECK_SECONDS) || \
		{ rc=$$?; test $$rc -eq 77; }

clean-local: clean-fuzz
clean-fuzz:
	-rm -rf $(abs_top_builddir)/fuzz

.PHONY: fuzz check-fuzz clean-fuzz
# the whole folder: sources, dictionaries, seeds
EXTRA_DIST += tests/fuzz
