# wine/: the saved-state dump API (issue 6) outside core/: the QEMU fixtures
# its tests use, its fuzzers, and vmsavedstatedumpprovider.dll, the Wine
# builtin that lets Windows programs use the API under wine.

# Fixtures: made by QEMU when it is installed (a few seconds), else unpacked
# from the copies in tests/fixtures/. Tests find them through WM_DUMP_FIXTURES.
DUMP_FIXTURES      := $(BUILD)/fixtures
DUMP_FIXTURE_STAMP := $(DUMP_FIXTURES)/.stamp
$(DUMP_FIXTURE_STAMP): tools/make-dump-fixtures.sh tools/fixtures/dumpfix.py tools/fixtures/lm16.S tools/fixtures/pm32.S | $(DEPS_STAMP)
	@mkdir -p $(DUMP_FIXTURES)
	@if command -v qemu-system-x86_64 >/dev/null 2>&1; then \
		./tools/make-dump-fixtures.sh $(DUMP_FIXTURES) >/dev/null || exit 1; \
	else echo "qemu-system-x86_64 not installed: using tests/fixtures/ copies"; fi
	@for f in tests/fixtures/*; do b=$$(basename $$f .xz); \
		[ -f $(DUMP_FIXTURES)/$$b ] && continue; \
		case $$f in *.xz) xz -dc $$f > $(DUMP_FIXTURES)/$$b;; *) cp $$f $(DUMP_FIXTURES)/$$b;; esac; done
	@touch $@
.PHONY: dump-fixtures
dump-fixtures: $(DUMP_FIXTURE_STAMP)

# The unit tests and the client program read the fixtures.
check-unit: $(DUMP_FIXTURE_STAMP)
check-wine-tests-native: $(DUMP_FIXTURE_STAMP)
check-e2e: $(DUMP_FIXTURE_STAMP)
UNIT_EXTRA_LIBS_test_savedstate_oracle := -lkdumpfile

-include wine/vmsavedstatedumpprovider/module.mk

# check-savedstate: the Windows client program, as a PE under wine with the
# builtin DLL on WINEDLLPATH (own prefix; the first run makes it, ~10 s).
SSD_PREFIX := /tmp/winmem-savedstate-wine-$(shell id -u)
CHECKS += check-savedstate
.PHONY: check-savedstate
check-savedstate: $(SSD_PE) $(SSD_SO) $(BUILD)/wine-tests/pe/savedstate_client.exe $(DUMP_FIXTURE_STAMP)
	@export WINEPREFIX=$(SSD_PREFIX) WINEDEBUG=-all WINEDLLPATH=$(abspath $(SSD_DIR)); \
	if [ ! -f $(SSD_PREFIX)/drive_c/windows/system32/vmsavedstatedumpprovider.dll ]; then \
		echo "making Wine prefix $(SSD_PREFIX)"; wineboot -u >/dev/null 2>&1; wineserver -w; fi; \
	out=$$(WM_SAVEDSTATE_WINE=1 WM_DUMP_FIXTURES=$(abspath $(DUMP_FIXTURES)) \
		timeout 60 wine $(BUILD)/wine-tests/pe/savedstate_client.exe 2>&1); rc=$$?; \
	echo "$$out" | grep -E '^WT .* (pass|fail|skip)|Test failed|executed'; \
	[ $$rc -eq 0 ] && ! echo "$$out" | grep -qE ' (fail|skip) [0-9]'

# Fuzzers (tests/fuzz/fuzz_<format>.c): libFuzzer with ASan+UBSan over the
# dump parsers, seeded from the fixtures; check-savedstate-fuzz runs each for
# FUZZ_SECONDS (CI-sized: ~10 s in all). `make fuzz-savedstate FUZZ_SECONDS=600` for longer.
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

# bench/bench_savedstate.c compares against libelf and libkdumpfile.
BENCH_LIBS_bench_savedstate := -lkdumpfile
$(BUILD)/bench/bench_savedstate: $(DUMP_FIXTURE_STAMP)
