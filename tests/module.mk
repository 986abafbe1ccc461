# tests/: every test program's build rule and the checks that run them.
#   check-unit   CUnit programs, tests/test_*.c, under ASan + UBSan
#   check-e2e    end-to-end scripts tests/e2e/*.sh on real programs
#                (the CLI, the core, Wine), except the shim's
#   check-shim   the shim's end-to-end scripts, tests/e2e/shim_*.sh
#   check-savedstate-fuzz  libFuzzer over the dump parsers (tests/fuzz/)
# The programs the scripts run are built here (tests/programs/, tests/e2e/*.c),
# so every script uses a built binary and none compiles its own.

# ---- unit tests ----
# Each tests/test_*.c is its own program, linked with tests/unit_main.c and
# the sanitizer build of the core, so one area's test cannot stop another's
# from building.
UNIT_SRC  := $(wildcard tests/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/%.c=$(BUILD)/tests/%)
UNIT_LIBS := -lcunit $(CORE_LIBS)

$(BUILD)/tests/%: $(BUILD)/san/tests/%.o $(BUILD)/san/tests/unit_main.o $(LIBWINMEM_SAN_A)
	@mkdir -p $(@D)
	$(CC) $(SAN_FLAGS) -o $@ $(filter %.o,$^) $(LIBWINMEM_SAN_A) $(UNIT_LIBS) $(UNIT_EXTRA_LIBS_$*)

# Tests of the CLI's pieces (test_cli_*), of the rules `winmem maps` shares
# with the core (test_winview) and of common/ (test_common) link the
# sanitizer build of the CLI's files, all but the command entry points
# (main.c, guest.c), and of common/.
UNIT_CLI_OBJ  := $(patsubst %.c,$(BUILD)/san/%.o,$(filter-out cli/main.c cli/guest.c,$(CLI_SRC))) $(COMMON_SAN_OBJ)
UNIT_CLI_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_cli_*.c)) $(BUILD)/tests/test_winview $(BUILD)/tests/test_common
$(UNIT_CLI_BINS): $(UNIT_CLI_OBJ)
$(foreach t,$(UNIT_CLI_BINS),$(eval UNIT_EXTRA_LIBS_$(notdir $(t)) := $(CLI_LIBS)))
# test_trace includes common/crc.c (zlib); the oracle test compares with libkdumpfile.
UNIT_EXTRA_LIBS_test_trace := -lz
UNIT_EXTRA_LIBS_test_savedstate_oracle := -lkdumpfile

CHECKS += check-unit
.PHONY: check-unit
check-unit: $(UNIT_BINS) $(DUMP_FIXTURE_STAMP)
	@rc=0; for t in $(UNIT_BINS); do \
		echo "--- $$t"; \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 $$t || rc=1; \
	done; exit $$rc

# ---- programs the end-to-end scripts run ----
TP := $(BUILD)/tests/programs

# A Windows program (mingw PE) holding known allocations, for the CLI's
# scripts and `make demo`.
CLI_TARGET_EXE := $(TP)/cli_target.exe
$(CLI_TARGET_EXE): tests/programs/cli_target.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -o $@ $<

# A native program on winmem's API, linked to libwinmem.so.0 (a link next to
# it) so the shim's native door can interpose on its calls.
CLI_NATIVE := $(TP)/cli_native
$(CLI_NATIVE): tests/programs/cli_native.c $(LIBWINMEM_SO)
	@mkdir -p $(@D)
	ln -sf ../../libwinmem.so $(@D)/libwinmem.so.0
	$(CC) -O1 -g -fno-omit-frame-pointer -Iinclude -o $@ $< -L$(BUILD) -lwinmem -Wl,-rpath,'$$ORIGIN'

# VirtualQueryEx walks of another process (tests/e2e/query_*.sh): a native
# walker on libwinmem.a, and a PE program for it to walk under Wine.
QUERY_WALK := $(TP)/query_walk
QUERY_PE   := $(TP)/query_pe.exe
$(QUERY_WALK): tests/e2e/query_walk.c $(LIBWINMEM_A)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -Iinclude -o $@ $< $(LIBWINMEM_A) $(CORE_LIBS)
$(QUERY_PE): tests/e2e/query_pe.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -o $@ $<

# The shim's: a trace reader, a probe as PE and as winelib, native programs
# on libwinmem (C and C++).
SHIM_TEST_PROGS := $(TP)/trace_dump $(TP)/shim_probe.exe $(TP)/shim_probe_wl.exe.so \
                   $(TP)/shim_native $(TP)/shim_cxx $(TP)/rec_host $(TP)/rec_idle.exe $(TP)/live_map.exe \
                   $(TP)/gctest.exe $(TP)/gctest_mt.exe $(TP)/gc_roots.exe
.PHONY: shim-test-programs
shim-test-programs: $(SHIM_SO) $(SHIM_TEST_PROGS)

$(TP)/trace_dump: tests/programs/trace_dump.c include/winmem/trace.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) -O1 -g $(BASE_CFLAGS) -o $@ $<
$(TP)/shim_probe.exe: tests/programs/shim_probe.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -o $@ $<
# winegcc writes the launcher script shim_probe_wl.exe next to the .exe.so.
$(TP)/shim_probe_wl.exe.so: tests/programs/shim_probe.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	winegcc -O1 -g -Wall -DWINELIB -o $(TP)/shim_probe_wl.exe $<
# Native programs find libwinmem.so.0 (its soname) through lib/ next to them.
$(TP)/lib/libwinmem.so.0: $(LIBWINMEM_SO)
	@mkdir -p $(@D)
	ln -sf ../../../libwinmem.so $@
# A library only this program's RUNPATH finds (dlopen under the shim must still find it).
$(TP)/lib/libshimtest.so.0: $(LIBWINMEM_SO)
	@mkdir -p $(@D)
	ln -sf ../../../libwinmem.so $@
$(TP)/shim_native: tests/programs/shim_native.c $(LIBWINMEM_SO) $(TP)/lib/libwinmem.so.0 $(TP)/lib/libshimtest.so.0
	$(CC) -O1 -g $(BASE_CFLAGS) -o $@ $< $(LIBWINMEM_SO) -Wl,-rpath,'$$ORIGIN/lib' -lpthread -ldl
$(TP)/shim_cxx: tests/programs/shim_cxx.cc $(LIBWINMEM_SO) $(TP)/lib/libwinmem.so.0
	g++ -O1 -g -Iinclude -o $@ $< $(LIBWINMEM_SO) -Wl,-rpath,'$$ORIGIN/lib'
# Hosts that are hard on the recorder (tests/e2e/shim_record.sh).
$(TP)/rec_host: tests/programs/rec_host.c $(LIBWINMEM_SO) $(TP)/lib/libwinmem.so.0
	$(CC) -O1 -g $(BASE_CFLAGS) -o $@ $< $(LIBWINMEM_SO) -Wl,-rpath,'$$ORIGIN/lib' -lpthread
$(TP)/rec_idle.exe: tests/programs/rec_idle.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -o $@ $<
# A real collector built for Windows from its source (tests/e2e/shim_gc.sh):
# Boehm GC's own test, from Debian's source package (tools/debian-source.sh
# fetches it once into build/src), single-threaded and with win32 threads
# and parallel marking. Built from the amalgamation extra/gc.c: no configure.
GC_SRC  := $(BUILD)/src/libgc
GC_DEFS := -DGC_NOT_DLL -DALL_INTERIOR_POINTERS -DNO_EXECUTE_PERMISSION
$(GC_SRC)/.winmem-ready: tools/debian-source.sh | $(DEPS_STAMP)
	tools/debian-source.sh libgc $(BUILD)/src > /dev/null
$(TP)/gctest.exe: $(GC_SRC)/.winmem-ready
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O2 -I$(GC_SRC)/include $(GC_DEFS) -o $@ $(GC_SRC)/extra/gc.c $(GC_SRC)/tests/test.c
$(TP)/gctest_mt.exe: $(GC_SRC)/.winmem-ready
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O2 -I$(GC_SRC)/include $(GC_DEFS) -DGC_THREADS -DGC_BUILTIN_ATOMIC -DPARALLEL_MARK \
		-DTHREAD_LOCAL_ALLOC -o $@ $(GC_SRC)/extra/gc.c $(GC_SRC)/tests/test.c
$(TP)/gc_roots.exe: tests/programs/gc_roots.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -o $@ $<
# The live map's program (tests/e2e/shim_live_map.sh).
$(TP)/live_map.exe: tests/programs/live_map.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -o $@ $<

# The noisy multi-threaded program `winmem diff` is tested on
# (tests/e2e/diff_noisy.sh): the PE, one PE per injected change (each in
# its own directory, named noisy.exe like the program it changes), one
# without unwind data for its own functions (like Go before 1.21: its
# stacks must end at the last frame that can be trusted), and the same
# source as a winelib program (winegcc writes the launcher noisy_wl.exe).
NOISY_VARIANTS := site fail prot rwx leak grow
NOISY_EXES := $(TP)/noisy.exe $(NOISY_VARIANTS:%=$(TP)/noisy-%/noisy.exe) $(TP)/noisy-nounwind/noisy.exe \
              $(TP)/noisy_wl.exe.so
$(TP)/noisy.exe: tests/programs/noisy.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -o $@ $<
$(TP)/noisy-nounwind/noisy.exe: tests/programs/noisy.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -fno-asynchronous-unwind-tables -fno-unwind-tables -o $@ $<
$(TP)/noisy-%/noisy.exe: tests/programs/noisy.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -DINJECT_$(shell echo $* | tr a-z A-Z) -o $@ $<
$(TP)/noisy_wl.exe.so: tests/programs/noisy.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	winegcc -O1 -g -Wall -DWINELIB -o $(TP)/noisy_wl.exe $<

# ---- end-to-end scripts ----
# Each script runs from the top of the tree with BUILD set, prints what it
# checks, and exits non-zero on failure. The CLI's use the ASan build of
# winmem, so a corrupt trace that crashed it fails there.
SHIM_E2E_SCRIPTS := $(sort $(wildcard tests/e2e/shim_*.sh))
E2E_SCRIPTS      := $(filter-out $(SHIM_E2E_SCRIPTS),$(sort $(wildcard tests/e2e/*.sh)))

CHECKS += check-e2e
.PHONY: check-e2e
# awe_wine.sh runs the AWE conformance program natively and as PE (wine-tests/module.mk).
check-e2e: all $(WINMEM_SAN_BIN) $(CLI_TARGET_EXE) $(CLI_NATIVE) $(NOISY_EXES) $(QUERY_WALK) $(QUERY_PE) $(DUMP_FIXTURE_STAMP) \
           $(BUILD)/wine-tests/native/awe $(BUILD)/wine-tests/pe/awe.exe
	@rc=0; for t in $(E2E_SCRIPTS); do \
		echo "--- $$t"; BUILD=$(BUILD) sh $$t || { echo "FAILED: $$t"; rc=1; }; \
	done; exit $$rc

CHECKS += check-shim
.PHONY: check-shim
check-shim: shim-test-programs
	@rc=0; for t in $(SHIM_E2E_SCRIPTS); do \
		echo "--- $$t"; BUILD=$(BUILD) sh $$t || { echo "FAILED: $$t"; rc=1; }; \
	done; exit $$rc

# ---- fuzzers ----
# tests/fuzz/fuzz_<format>.c: libFuzzer with ASan+UBSan over the dump
# parsers, seeded from the fixtures (wine/module.mk); check-savedstate-fuzz
# runs each for FUZZ_SECONDS (CI-sized: ~10 s in all).
# `make fuzz-savedstate FUZZ_SECONDS=600` for longer.
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_CORE   := core/savedstate.c core/dump_elf.c core/dump_kdump.c core/dump_lime.c core/dump_raw.c \
               core/dump_cpu.c core/guest_paging.c
FUZZ_SECONDS ?= 2
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_CORE) core/dump.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	clang -O1 -g -std=gnu11 -Iinclude -Icore -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o $@ $< $(FUZZ_CORE) -lelf -lz -llzo2 -lsnappy -lzstd -lpthread
$(BUILD)/fuzz/seeds/.stamp: $(DUMP_FIXTURE_STAMP) tools/fixtures/dumpfix.py
	python3 tools/fixtures/dumpfix.py seeds $(DUMP_FIXTURES) $(@D) && touch $@

CHECKS += check-savedstate-fuzz
.PHONY: check-savedstate-fuzz fuzz-savedstate
check-savedstate-fuzz fuzz-savedstate: $(FUZZ_BINS) $(BUILD)/fuzz/seeds/.stamp
	@rc=0; for f in $(FUZZ_BINS); do n=$$(basename $$f); fmt=$${n#fuzz_}; \
		mkdir -p $(BUILD)/fuzz/corpus/$$fmt; cp -n $(BUILD)/fuzz/seeds/$$fmt-seed* $(BUILD)/fuzz/corpus/$$fmt/ 2>/dev/null; \
		ASAN_OPTIONS=detect_leaks=1 $$f -max_total_time=$(FUZZ_SECONDS) -max_len=450000 -rss_limit_mb=2048 \
			-artifact_prefix=$(BUILD)/fuzz/$$fmt- $(BUILD)/fuzz/corpus/$$fmt > $(BUILD)/fuzz/$$fmt.log 2>&1 \
		&& echo "fuzz_$$fmt: $$(grep -Eo 'Done [0-9]+ runs.*' $(BUILD)/fuzz/$$fmt.log | tail -n 1)" \
		|| { echo "fuzz_$$fmt FAILED:"; tail -30 $(BUILD)/fuzz/$$fmt.log; rc=1; }; done; exit $$rc

# The Windows program of the report's memory ledger (tests/e2e/cli_ledger.sh):
# a mingw PE with DWARF, so its call sites are named with file:line.
LEDGER_EXE := $(TP)/ledger.exe
$(LEDGER_EXE): tests/programs/ledger.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -o $@ $<
check-e2e: $(LEDGER_EXE)

# The same ledger on native C++ code (ELF, DWARF, a namespace, an inlined helper).
LEDGER_CXX := $(TP)/ledger_cxx
$(LEDGER_CXX): tests/programs/ledger_cxx.cc $(LIBWINMEM_SO) | $(DEPS_STAMP)
	@mkdir -p $(@D)/lib
	ln -sf ../../../libwinmem.so $(@D)/lib/libwinmem.so.0
	g++ -O1 -g -fno-omit-frame-pointer -Iinclude -o $@ $< $(LIBWINMEM_SO) -Wl,-rpath,'$$ORIGIN/lib'
check-e2e: $(LEDGER_CXX)

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
TRACE_FUZZ_SRC := $(filter-out cli/main.c cli/guest.c,$(CLI_SRC)) $(COMMON_SRC) $(CORE_SRC)
TRACE_SEEDS    := $(BUILD)/fuzz/trace-seeds
TRACE_FUZZ_SECONDS ?= 10
$(TRACE_FUZZ): tests/fuzz/trace_reader.c $(TRACE_FUZZ_SRC) $(wildcard cli/*.h core/*.h common/*.h include/winmem/*.h) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	clang -O1 -g -std=gnu11 -I. -Iinclude -Icore -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
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
