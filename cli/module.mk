# cli/: the `winmem` command (build/winmem), its man page, its tests, bench
# and `make demo`. Every cli/*.c is part of the program; cli/guest.c (the
# saved-state area's command) joins when it exists — main.c refers to it
# weakly, so the program links with or without it.
CLI_SRC    := $(wildcard cli/*.c)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
CLI_LIBS   := -ldw -lelf -lz -lpthread
WINMEM_BIN := $(BUILD)/winmem

all: $(WINMEM_BIN)

$(WINMEM_BIN): $(CLI_OBJ) $(LIBWINMEM_A)
	$(CC) -o $@ $(CLI_OBJ) $(LIBWINMEM_A) $(CORE_LIBS) $(CLI_LIBS)

# Unit tests (tests/test_cli_*.c) link the sanitizer build of the CLI's own
# pieces (not main.c, not another area's guest.c) on top of tests/module.mk's rule.
CLI_UNIT_SRC  := $(filter-out cli/main.c cli/guest.c,$(CLI_SRC))
CLI_UNIT_OBJ  := $(CLI_UNIT_SRC:%.c=$(BUILD)/san/%.o)
CLI_UNIT_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_cli_*.c))
$(CLI_UNIT_BINS): $(CLI_UNIT_OBJ)
$(foreach t,$(CLI_UNIT_BINS),$(eval UNIT_EXTRA_LIBS_$(notdir $(t)) := $(CLI_LIBS)))

# The test program the end-to-end tests and the demo run under Wine.
CLI_TARGET_EXE := $(BUILD)/tests/programs/cli_target.exe
$(CLI_TARGET_EXE): tests/programs/cli_target.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -o $@ $<

# A native program on winmem's API, linked to libwinmem.so.0 (a link next to
# it) so the shim's native door can interpose on its calls.
CLI_NATIVE := $(BUILD)/tests/programs/cli_native
$(CLI_NATIVE): tests/programs/cli_native.c $(LIBWINMEM_SO)
	@mkdir -p $(@D)
	ln -sf ../../libwinmem.so $(@D)/libwinmem.so.0
	$(CC) -O1 -g -fno-omit-frame-pointer -Iinclude -o $@ $< -L$(BUILD) -lwinmem -Wl,-rpath,'$$ORIGIN'

# The end-to-end scripts (tests/e2e/cli_*.sh) run in check-e2e; they use the
# ASan build of winmem, so a corrupt trace that crashed it fails there.
WINMEM_SAN_BIN := $(BUILD)/san/winmem
$(WINMEM_SAN_BIN): $(CLI_SRC:%.c=$(BUILD)/san/%.o) $(LIBWINMEM_SAN_A)
	$(CC) $(SAN_FLAGS) -o $@ $(filter %.o,$^) $(LIBWINMEM_SAN_A) $(CORE_LIBS) $(CLI_LIBS)
check-e2e: $(WINMEM_SAN_BIN) $(CLI_TARGET_EXE) $(CLI_NATIVE)

# make demo: a real Wine program under `winmem run`, its report, and the
# memory map of a real process in Windows terms.
.PHONY: demo
demo: all $(CLI_TARGET_EXE)
	@BUILD=$(BUILD) sh cli/demo.sh

INSTALLS += install-cli
.PHONY: install-cli
install-cli: $(WINMEM_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(WINMEM_BIN) $(DESTDIR)$(PREFIX)/bin/winmem
	install -m 644 docs/winmem.1 $(DESTDIR)$(PREFIX)/share/man/man1/winmem.1

BENCHES += bench-cli
.PHONY: bench-cli
bench-cli: $(WINMEM_BIN) $(BUILD)/bench/cli_gen $(BUILD)/bench/cli_vmas
	@BUILD=$(BUILD) sh bench/cli.sh
$(BUILD)/bench/cli_gen $(BUILD)/bench/cli_vmas: $(BUILD)/bench/%: $(BUILD)/obj/bench/cli/%.o
	@mkdir -p $(@D)
	$(CC) -o $@ $< -lz

# Fuzzer over the trace readers (tests/fuzz/trace_reader.c): libFuzzer with
# ASan+UBSan over the reader and report, export, diff on its result, beside
# the dump-parser fuzzers (which are tests/fuzz/fuzz_*.c, built without the
# CLI). Seeds: real traces of a native program run under the shim (with and
# without stacks; module paths defanged so runs do not load libc's symbols),
# and crafted ones (tests/e2e/cli_hostile_traces.py), among them inputs that
# once broke the reader, so a regression fails on the first run.
# check-trace-fuzz runs it for TRACE_FUZZ_SECONDS; `make fuzz-trace
# TRACE_FUZZ_SECONDS=600` for longer.
TRACE_FUZZ     := $(BUILD)/fuzz/trace_reader
TRACE_FUZZ_SRC := $(CLI_UNIT_SRC) $(CORE_SRC)
TRACE_SEEDS    := $(BUILD)/fuzz/trace-seeds
TRACE_FUZZ_SECONDS ?= 10
$(TRACE_FUZZ): tests/fuzz/trace_reader.c $(TRACE_FUZZ_SRC) $(wildcard cli/*.h core/*.h include/winmem/*.h) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	clang -O1 -g -std=gnu11 -Iinclude -Icore -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o $@ $< $(TRACE_FUZZ_SRC) $(CORE_LIBS) $(CLI_LIBS)
$(TRACE_SEEDS)/.stamp: $(WINMEM_BIN) $(SHIM_SO) $(CLI_NATIVE) tests/e2e/cli_hostile_traces.py
	@rm -rf $(@D) && mkdir -p $(@D)
	$(WINMEM_BIN) run -o $(@D)/native.tmp --no-summary -- $(CLI_NATIVE) > /dev/null
	python3 tests/e2e/cli_hostile_traces.py defang $(@D)/native.tmp $(@D)/native-stacks.wmt && rm $(@D)/native.tmp
	$(WINMEM_BIN) run --stack 0 -o $(@D)/native-nostacks.wmt --no-summary -- $(CLI_NATIVE) > /dev/null
	python3 tests/e2e/cli_hostile_traces.py modules $(@D)/modules.wmt /nonexistent/lib.so /dev/null
	python3 tests/e2e/cli_hostile_traces.py bomb $(@D)/bomb.wmt
	python3 tests/e2e/cli_hostile_traces.py records $(@D)/records.wmt
	python3 tests/e2e/cli_hostile_traces.py short-module $(@D)/short-module.wmt
	touch $@

CHECKS += check-trace-fuzz
.PHONY: check-trace-fuzz fuzz-trace
check-trace-fuzz fuzz-trace: $(TRACE_FUZZ) $(TRACE_SEEDS)/.stamp
	@mkdir -p $(BUILD)/fuzz/corpus/trace && cp -n $(TRACE_SEEDS)/*.wmt $(BUILD)/fuzz/corpus/trace/ 2>/dev/null; \
	ASAN_OPTIONS=detect_leaks=1 $(TRACE_FUZZ) -max_total_time=$(TRACE_FUZZ_SECONDS) -max_len=131072 \
		-rss_limit_mb=2048 -timeout=20 -close_fd_mask=3 -artifact_prefix=$(BUILD)/fuzz/trace- \
		$(BUILD)/fuzz/corpus/trace > $(BUILD)/fuzz/trace.log 2>&1 \
	&& echo "trace_reader: $$(grep -Eo 'Done [0-9]+ runs.*' $(BUILD)/fuzz/trace.log | tail -n 1)" \
	|| { echo "trace_reader FAILED:"; tail -30 $(BUILD)/fuzz/trace.log; exit 1; }
