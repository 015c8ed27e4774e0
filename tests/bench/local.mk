# ---- bench helper: benchmarks with parseable output (docs/performance.md); not in `make check`.
# `make bench` runs all of them, `make bench BENCH="P1 P4"` a selection.
EXTRA_DIST += tests/bench/run.sh tests/bench/benchlib.py tests/bench/p1-onboard.py \
	tests/bench/p2-idle.py tests/bench/p3-memory.py tests/bench/p4-size.sh \
	tests/bench/p5-fleet.py tests/bench/p5-sim.py tests/bench/p6-startup.py \
	tests/bench/p7-reload.py

bench: all
	@top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) '$(abs_top_srcdir)/tests/bench/run.sh' $(BENCH)
.PHONY += bench
