# wine-tests/: conformance programs, written once against the Win32 API.
# Native builds link libwinmem (sanitizer build); PE builds use mingw-w64 and
# run under wine as the reference. The matrix runner comes with issue 7.
WT_SRC    := $(wildcard wine-tests/*.c)
WT_NATIVE := $(WT_SRC:wine-tests/%.c=$(BUILD)/wine-tests/native/%)
WT_PE     := $(WT_SRC:wine-tests/%.c=$(BUILD)/wine-tests/pe/%.exe)
MINGW_CC  := x86_64-w64-mingw32-gcc
WT_PE_LIBS := -lntdll -lpsapi -lkernel32

$(BUILD)/wine-tests/native/%: wine-tests/%.c wine-tests/wt.h $(LIBWINMEM_SAN_A) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) -O1 -g $(BASE_CFLAGS) $(SAN_FLAGS) -DWT_NATIVE -o $@ $< $(LIBWINMEM_SAN_A) $(CORE_LIBS)

$(BUILD)/wine-tests/pe/%.exe: wine-tests/%.c wine-tests/wt.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(MINGW_CC) -O1 -g -Wall -o $@ $< $(WT_PE_LIBS)

.PHONY: wine-tests-native wine-tests-pe
wine-tests-native: $(WT_NATIVE)
wine-tests-pe: $(WT_PE)

CHECKS += check-wine-tests-native
.PHONY: check-wine-tests-native
check-wine-tests-native: $(WT_NATIVE)
	@rc=0; for t in $(WT_NATIVE); do echo "--- $$t"; $$t || rc=1; done; exit $$rc
