# tests/hygiene/: static analysis, valgrind and coverage (docs/testing.md, "Analysis").
# Opt-in targets, not part of `make check`; CI runs them (.ci/run). They need the Debian 12
# packages cppcheck, clang-tidy, valgrind and gcovr (build-aux/install-deps).

# ---- make analyze: cppcheck and clang-tidy on lib/ tpm/ agent/, any finding fails.
# Configuration: .clang-tidy (top level) and tests/hygiene/cppcheck.supp, each with reasons.
ANALYZE_DIRS = lib tpm agent
CPPCHECK = cppcheck
CLANG_TIDY = clang-tidy
analyze_cppflags = $(DEFS) -I$(top_builddir) $(AM_CPPFLAGS) $(JSONC_CFLAGS) $(CRYPTO_CFLAGS) \
	$(TSS2_CFLAGS) $(PAHO_CFLAGS) $(SYSTEMD_CFLAGS)

analyze: analyze-cppcheck analyze-clang-tidy
	@echo "analyze: ok"

analyze-cppcheck:
	@command -v $(CPPCHECK) >/dev/null || \
		{ echo "analyze: $(CPPCHECK) not found (apt-get install cppcheck)"; exit 1; }
	@echo "  CPPCHECK $(ANALYZE_DIRS)"
	@$(CPPCHECK) --version
	@cd $(top_srcdir) && $(CPPCHECK) -q -j2 --std=c11 --enable=warning,performance,portability \
		--inline-suppr --suppressions-list=tests/hygiene/cppcheck.supp --error-exitcode=1 \
		--template='{file}:{line}: {severity} ({id}): {message}' \
		-DHAVE_CONFIG_H -I$(abs_top_builddir) -Ilib -Itpm -Iagent $(ANALYZE_DIRS)

analyze-clang-tidy:
	@command -v $(CLANG_TIDY) >/dev/null || \
		{ echo "analyze: $(CLANG_TIDY) not found (apt-get install clang-tidy)"; exit 1; }
	@echo "  CLANG-TIDY $(ANALYZE_DIRS)"
	@files=""; for d in $(ANALYZE_DIRS); do files="$$files $$(ls $(top_srcdir)/$$d/*.c)"; done; \
	$(CLANG_TIDY) -quiet $$files -- -std=gnu11 $(analyze_cppflags) 2>&1 | \
		grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$$' | \
		{ out=$$(cat); if test -n "$$out"; then echo "$$out"; exit 1; fi; }

# ---- make check-valgrind: the unit tests under valgrind; any error or definite/indirect leak
# fails. Needs a build without sanitizers (ASan and valgrind cannot share a process).
VALGRIND = valgrind
VALGRIND_FLAGS = --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--show-leak-kinds=definite,indirect --track-origins=yes --quiet

check-valgrind:
	@command -v $(VALGRIND) >/dev/null || \
		{ echo "check-valgrind: $(VALGRIND) not found (apt-get install valgrind)"; exit 1; }
	@case ' $(OB_CFLAGS) ' in *-fsanitize=*) \
		echo "check-valgrind: this build uses sanitizers; use a plain build"; exit 1;; esac
	@test -n "$(unit_tests)" || { echo "SKIP: check-valgrind: no unit tests (cmocka missing)"; exit 0; }; \
	$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(unit_tests)" \
		LOG_COMPILER="$(LIBTOOL) --mode=execute $(VALGRIND) $(VALGRIND_FLAGS)"

# ---- make coverage: lib/ line coverage from the unit tests (COVERAGE_CHECK=check for the
# whole suite). Needs a tree configured with --enable-coverage (a separate build directory).
# Fails below COVERAGE_MIN_LINES percent of lib/ lines; with the whole suite also when a stage
# or activity of the onboarding machine never occurs in a transition, in the unit tests of the
# machine or in the daemons' logs (tests/hygiene/check-transitions.sh).
GCOVR = gcovr
# the unit tests of the onboarding machine (their transitions count, tests/local.mk)
ONBOARD_UNIT_TESTS = test-onboard test-onboard-rotate test-onboard-factory
COVERAGE_CHECK = check-unit
COVERAGE_FILTER = lib/
COVERAGE_MIN_LINES = 90

coverage:
	@case ' $(OB_CFLAGS) ' in *' --coverage '*) ;; *) \
		echo "coverage: configure with --enable-coverage (in a separate build directory)"; \
		exit 1;; esac
	@command -v $(GCOVR) >/dev/null || \
		{ echo "coverage: $(GCOVR) not found (apt-get install gcovr)"; exit 1; }
	@find $(top_builddir) -name '*.gcda' -delete
	@rm -rf $(abs_top_builddir)/tests/world-logs
	@$(MAKE) $(AM_MAKEFLAGS) $(COVERAGE_CHECK)
	@src=$$(cd $(top_srcdir) && pwd); cd $(top_builddir) && \
	$(GCOVR) --root "$$src" --object-directory . --filter "$$src/$(COVERAGE_FILTER)" \
		--txt coverage.txt --html-details coverage.html \
		--fail-under-line $(COVERAGE_MIN_LINES); rc=$$?; \
	cat coverage.txt; echo "coverage: details in $(abs_top_builddir)/coverage.html"; \
	if [ $$rc != 0 ]; then \
		echo "coverage: FAIL: lib/ line coverage below $(COVERAGE_MIN_LINES) % (gcovr $$rc)"; \
		exit 1; fi; \
	echo "coverage: lib/ lines at or above $(COVERAGE_MIN_LINES) %"
	@mkdir -p $(abs_top_builddir)/tests/world-logs/unit && \
	for t in $(ONBOARD_UNIT_TESTS); do \
		test -x tests/unit/$$t || { echo "coverage: no tests/unit/$$t (cmocka)"; exit 1; }; \
		OB_TEST_VERBOSE=1 tests/unit/$$t >/dev/null \
			2>$(abs_top_builddir)/tests/world-logs/unit/$$t.transitions || exit 1; \
	done
	@$(SHELL) $(top_srcdir)/tests/hygiene/check-transitions.sh $(top_srcdir) \
		$(abs_top_builddir)/tests/world-logs || \
	if [ "$(COVERAGE_CHECK)" = check ]; then exit 1; else \
		echo "coverage: (unit tests only: not a failure; COVERAGE_CHECK=check needs every state)"; fi

CLEANFILES += coverage.txt coverage*.html coverage*.css
clean-local: clean-coverage
clean-coverage:
	-find $(top_builddir) -name '*.gcda' -delete

.PHONY: analyze analyze-cppcheck analyze-clang-tidy check-valgrind coverage clean-coverage
EXTRA_DIST += tests/hygiene/local.mk tests/hygiene/check-lib-io.sh tests/hygiene/cppcheck.supp .clang-tidy \
	tests/hygiene/check-transitions.sh
