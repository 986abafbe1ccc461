# wine-tests/: the conformance suite. Each wine-tests/*.c is written once
# against the Win32 API (harness: wine-tests/wt.h) and built three ways:
#   native   against the sanitizer build of libwinmem (-DWT_NATIVE);
#   pe       a 64-bit Windows program (mingw-w64), run under wine: the oracle;
#   winelib  an ELF .exe.so built by winegcc, run under wine.
# tools/wt-matrix then runs them natively, under plain wine (pe, winelib) and
# the pe build under wine with the shim in trace, check and native mode, and
# prints the test × run matrix (docs/conformance.md says how to read it).
WT_SRC     := $(wildcard wine-tests/*.c)
WT_NAMES   := $(WT_SRC:wine-tests/%.c=%)
WT_NATIVE  := $(WT_NAMES:%=$(BUILD)/wine-tests/native/%)
WT_PE      := $(WT_NAMES:%=$(BUILD)/wine-tests/pe/%.exe)
WT_WINELIB := $(WT_NAMES:%=$(BUILD)/wine-tests/winelib/%.exe.so)
MINGW_CC   := x86_64-w64-mingw32-gcc
WINEGCC    := winegcc
WT_PE_LIBS := -lntdll -lpsapi -lkernel32
WT_WINELIB_LIBS := -lntdll -lpsapi
WT_HDRS    := wine-tests/wt.h

$(BUILD)/wine-tests/native/%: wine-tests/%.c $(WT_HDRS) $(LIBWINMEM_SAN_A) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) -O1 -g $(BASE_CFLAGS) $(SAN_FLAGS) -DWT_NATIVE -o $@ $< $(LIBWINMEM_SAN_A) $(CORE_LIBS)

$(BUILD)/wine-tests/pe/%.exe: wine-tests/%.c $(WT_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(MINGW_CC) -O1 -g -Wall -o $@ $< $(WT_PE_LIBS)

# winegcc writes <name>.exe.so and a shell launcher <name>.exe; the runner
# starts `wine <name>.exe.so` itself. __WINE__ tells wt.h it is winelib.
$(BUILD)/wine-tests/winelib/%.exe.so: wine-tests/%.c $(WT_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(WINEGCC) -m64 -O1 -g -Wall -Wno-unused-parameter -o $(@:.so=) $< $(WT_WINELIB_LIBS)

.PHONY: wine-tests wine-tests-native wine-tests-pe wine-tests-winelib
wine-tests-native: $(WT_NATIVE)
wine-tests-pe: $(WT_PE)
wine-tests-winelib: $(WT_WINELIB)
wine-tests: wine-tests-native wine-tests-pe wine-tests-winelib

# The matrix is the check. First tools/wt_selftest.py shows on made-up
# results that each rule of the matrix can fail. Builds run with -k so one program that does not
# build (for one variant) shows as "no build" cells instead of hiding the
# rest of the matrix; the runner then fails on those cells.
WT_MATRIX_ARGS ?=
# Built with the programs: the saved-state client's dumps (wine/module.mk)
# and the shim, so check-conformance alone fills every column. Programs run
# from the top of the tree.
WT_PREREQS = $(if $(DUMP_FIXTURE_STAMP),dump-fixtures) $(SHIM_SO)
CHECKS += check-conformance
.PHONY: check-conformance
check-conformance: | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/wine-tests
	@$(MAKE) --no-print-directory -k wine-tests $(WT_PREREQS) >$(BUILD)/wine-tests/build.log 2>&1 || \
		{ echo "some wine-tests did not build (full log: $(BUILD)/wine-tests/build.log):"; \
		  grep -E ' error|Error [0-9]' $(BUILD)/wine-tests/build.log | head -20; }
	@python3 tools/wt_selftest.py >$(BUILD)/wine-tests/selftest.log || { cat $(BUILD)/wine-tests/selftest.log; exit 1; }
	@python3 tools/wt-matrix --build $(BUILD) $(if $(SHIM_SO),--require-shim) --expected wine-tests/expected-differences.txt $(WT_MATRIX_ARGS) $(WT_NAMES)

# The same shim tests and matrix on Debian 13's Wine 10.0 (a debootstrap'ed
# root under build/, made once and cached; tools/wine10-check.sh).
CHECKS += check-wine10
.PHONY: check-wine10
check-wine10: all shim-test-programs | $(DEPS_STAMP)
	@$(MAKE) --no-print-directory -k wine-tests $(WT_PREREQS) >$(BUILD)/wine-tests/build-w10.log 2>&1 || true
	@BUILD=$(BUILD) ./tools/wine10-check.sh

BENCHES += bench-shim-wine10
.PHONY: bench-shim-wine10
bench-shim-wine10: all shim-test-programs
	@BUILD=$(BUILD) sh bench/bench_shim_wine10.sh
