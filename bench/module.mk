# bench/: `make bench` — speed side by side against the anchors in one run,
# printed as ratios. Each bench/bench_*.c is a program linked with the
# optimized libwinmem.a; BENCH_LIBS_<name> adds libraries for one of them.
# Benches that need more than a program (Wine, the CLI) add a target to BENCHES.
BENCH_SRC  := $(wildcard bench/bench_*.c)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
BENCHES    += bench-programs

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBWINMEM_A)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(LIBWINMEM_A) $(CORE_LIBS) $(BENCH_LIBS_$*)

.PHONY: bench bench-programs
bench-programs: $(BENCH_BINS)
	@for b in $(BENCH_BINS); do echo "=== $$b"; $$b || exit 1; done

bench: all
	@for t in $(BENCHES); do $(MAKE) --no-print-directory $$t || exit 1; done

# The CLI against cat: `winmem report` of a generated 5-million-call trace,
# `winmem maps` of a process with 60,000 VMAs (bench/cli/*.c make both).
BENCHES += bench-cli
.PHONY: bench-cli
bench-cli: $(WINMEM_BIN) $(BUILD)/bench/cli_gen $(BUILD)/bench/cli_vmas
	@BUILD=$(BUILD) sh bench/cli.sh
$(BUILD)/bench/cli_gen $(BUILD)/bench/cli_vmas: $(BUILD)/bench/%: $(BUILD)/obj/bench/cli/%.o
	@mkdir -p $(@D)
	$(CC) -o $@ $< -lz
