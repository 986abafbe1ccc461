# wine/: the saved-state dump API outside core/: the QEMU fixtures its tests
# and fuzzers (tests/module.mk) use, and vmsavedstatedumpprovider.dll, the
# Wine builtin that lets Windows programs use the API under wine.

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

# bench/bench_savedstate.c compares against libelf and libkdumpfile.
BENCH_LIBS_bench_savedstate := -lkdumpfile
$(BUILD)/bench/bench_savedstate: $(DUMP_FIXTURE_STAMP)
