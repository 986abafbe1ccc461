# tests/: CUnit unit tests. Each tests/test_*.c is its own program (linked
# with tests/unit_main.c and the sanitizer build of the core), so one area's
# test cannot stop another's from building.
UNIT_SRC  := $(wildcard tests/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/%.c=$(BUILD)/tests/%)
UNIT_LIBS := -lcunit $(CORE_LIBS)

$(BUILD)/tests/%: $(BUILD)/san/tests/%.o $(BUILD)/san/tests/unit_main.o $(LIBWINMEM_SAN_A)
	@mkdir -p $(@D)
	$(CC) $(SAN_FLAGS) -o $@ $(filter %.o,$^) $(LIBWINMEM_SAN_A) $(UNIT_LIBS) $(UNIT_EXTRA_LIBS_$*)

CHECKS += check-unit
.PHONY: check-unit
check-unit: $(UNIT_BINS)
	@rc=0; for t in $(UNIT_BINS); do \
		echo "--- $$t"; \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 $$t || rc=1; \
	done; exit $$rc

# tests/e2e/*.sh: end-to-end tests on real programs (Wine, the shim, the CLI).
# Each script runs from the top of the tree with BUILD set, prints what it
# checks, and exits non-zero on failure. They run after `all` is built.
E2E_SCRIPTS := $(sort $(wildcard tests/e2e/*.sh))
CHECKS += check-e2e
.PHONY: check-e2e
check-e2e: all
	@rc=0; for t in $(E2E_SCRIPTS); do \
		echo "--- $$t"; BUILD=$(BUILD) sh $$t || { echo "FAILED: $$t"; rc=1; }; \
	done; exit $$rc

# The Windows program of the report's memory ledger (tests/e2e/cli_ledger.sh):
# a mingw PE with DWARF, so its call sites are named with file:line.
LEDGER_EXE := $(BUILD)/tests/programs/ledger.exe
$(LEDGER_EXE): tests/programs/ledger.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -o $@ $<
check-e2e: $(LEDGER_EXE)

# The same ledger on native C++ code (ELF, DWARF, a namespace, an inlined helper).
LEDGER_CXX := $(BUILD)/tests/programs/ledger_cxx
$(LEDGER_CXX): tests/programs/ledger_cxx.cc $(LIBWINMEM_SO) | $(DEPS_STAMP)
	@mkdir -p $(@D)/lib
	ln -sf ../../../libwinmem.so $(@D)/lib/libwinmem.so.0
	g++ -O1 -g -fno-omit-frame-pointer -Iinclude -o $@ $< $(LIBWINMEM_SO) -Wl,-rpath,'$$ORIGIN/lib'
check-e2e: $(LEDGER_CXX)
