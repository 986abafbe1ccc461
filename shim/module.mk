# shim/: libwinmem-shim.so, the LD_PRELOAD library (docs/shim.md).
#
# Every shim/*.c is linked in (another area's shim/awe_wine.c included).
# The core is linked in too, from libwinmem.a with its Windows API symbols
# renamed wmcore_* (the shim exports those names itself) and everything
# but the shim's own exports made local by a version script, so the
# shim's copy never interposes on anything in the host.

SHIM_SO   := $(BUILD)/libwinmem-shim.so
SHIM_SRC  := $(wildcard shim/*.c)
SHIM_OBJ  := $(SHIM_SRC:%.c=$(BUILD)/obj/%.o)
SHIM_GEN  := $(BUILD)/obj/shim-gen
# The Windows API the native door exports (shim/native.c: NATIVE_APIS).
SHIM_API  := VirtualQuery VirtualQueryEx NtQueryVirtualMemory ZwQueryVirtualMemory \
             QueryVirtualMemoryInformation QueryWorkingSetEx K32QueryWorkingSetEx \
             VirtualAlloc VirtualAllocEx VirtualFree VirtualFreeEx VirtualProtect \
             VirtualProtectEx VirtualLock VirtualUnlock AllocateUserPhysicalPages \
             MapUserPhysicalPages FreeUserPhysicalPages GetLastError SetLastError
SHIM_LIBC := dlopen dlclose pipe pipe2 execve execv execvp execvpe execl execlp execle _exit _Exit mmap mmap64 munmap mprotect mremap madvise

all: $(SHIM_SO)

$(SHIM_GEN)/rename.txt: shim/module.mk
	@mkdir -p $(@D)
	@rm -f $@; for s in $(SHIM_API); do echo "$$s wmcore_$$s" >> $@; done

$(SHIM_GEN)/exports.map: shim/module.mk
	@mkdir -p $(@D)
	@{ echo '{ global:'; for s in $(SHIM_API) $(SHIM_LIBC); do echo "  $$s;"; done; \
	   echo 'local: *; };'; } > $@

$(SHIM_GEN)/wmcore.a: $(LIBWINMEM_A) $(SHIM_GEN)/rename.txt
	objcopy --redefine-syms=$(SHIM_GEN)/rename.txt $< $@

# -u pulls the core's members in (the shim's references are weak).
$(SHIM_SO): $(SHIM_OBJ) $(SHIM_GEN)/wmcore.a $(SHIM_GEN)/exports.map
	$(CC) -shared -Wl,-soname,libwinmem-shim.so -Wl,--version-script=$(SHIM_GEN)/exports.map \
		-Wl,-z,now -o $@ $(SHIM_OBJ) $(addprefix -Wl$(comma)-u$(comma)wmcore_,$(SHIM_API)) \
		-Wl,-u,wm_guard_forbid_handler $(SHIM_GEN)/wmcore.a -lz -Wl,--as-needed $(CORE_LIBS) -Wl,--no-as-needed

comma := ,

INSTALLS += install-shim
.PHONY: install-shim
install-shim: $(SHIM_SO)
	install -d $(DESTDIR)$(PREFIX)/lib
	install -m 755 $(SHIM_SO) $(DESTDIR)$(PREFIX)/lib/libwinmem-shim.so

# ---- test programs (tests/programs/) and checks ----
SHIM_TP := $(BUILD)/tests/programs
SHIM_TEST_PROGS := $(SHIM_TP)/trace_dump $(SHIM_TP)/shim_probe.exe $(SHIM_TP)/shim_probe_wl.exe.so \
                   $(SHIM_TP)/shim_native $(SHIM_TP)/shim_cxx $(SHIM_TP)/rec_host $(SHIM_TP)/rec_idle.exe
.PHONY: shim-test-programs
shim-test-programs: $(SHIM_SO) $(SHIM_TEST_PROGS)

$(SHIM_TP)/trace_dump: tests/programs/trace_dump.c include/winmem/trace.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) -O1 -g $(BASE_CFLAGS) -o $@ $<
$(SHIM_TP)/shim_probe.exe: tests/programs/shim_probe.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -o $@ $<
# winegcc writes the launcher script shim_probe_wl.exe next to the .exe.so.
$(SHIM_TP)/shim_probe_wl.exe.so: tests/programs/shim_probe.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	winegcc -O1 -g -Wall -DWINELIB -o $(SHIM_TP)/shim_probe_wl.exe $<
# Native programs find libwinmem.so.0 (its soname) through lib/ next to them.
$(SHIM_TP)/lib/libwinmem.so.0: $(LIBWINMEM_SO)
	@mkdir -p $(@D)
	ln -sf ../../../libwinmem.so $@
# A library only this program's RUNPATH finds (dlopen under the shim must still find it).
$(SHIM_TP)/lib/libshimtest.so.0: $(LIBWINMEM_SO)
	@mkdir -p $(@D)
	ln -sf ../../../libwinmem.so $@
$(SHIM_TP)/shim_native: tests/programs/shim_native.c $(LIBWINMEM_SO) $(SHIM_TP)/lib/libwinmem.so.0 $(SHIM_TP)/lib/libshimtest.so.0
	$(CC) -O1 -g $(BASE_CFLAGS) -o $@ $< $(LIBWINMEM_SO) -Wl,-rpath,'$$ORIGIN/lib' -lpthread -ldl
$(SHIM_TP)/shim_cxx: tests/programs/shim_cxx.cc $(LIBWINMEM_SO) $(SHIM_TP)/lib/libwinmem.so.0
	g++ -O1 -g -Iinclude -o $@ $< $(LIBWINMEM_SO) -Wl,-rpath,'$$ORIGIN/lib'

# Hosts that are hard on the recorder (tests/e2e/shim_record.sh).
$(SHIM_TP)/rec_host: tests/programs/rec_host.c $(LIBWINMEM_SO) $(SHIM_TP)/lib/libwinmem.so.0
	$(CC) -O1 -g $(BASE_CFLAGS) -o $@ $< $(LIBWINMEM_SO) -Wl,-rpath,'$$ORIGIN/lib' -lpthread
$(SHIM_TP)/rec_idle.exe: tests/programs/rec_idle.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O1 -g -Wall -o $@ $<

# The shim's end-to-end scripts (tests/e2e/shim_*.sh) run here, once, with
# their programs built; check-e2e sees WINMEM_SHIM_CHECK unset and skips them.
CHECKS += check-shim
.PHONY: check-shim
check-shim: shim-test-programs
	@rc=0; for t in $(sort $(wildcard tests/e2e/shim_*.sh)); do \
		echo "--- $$t"; WINMEM_SHIM_CHECK=1 BUILD=$(BUILD) sh $$t || { echo "FAILED: $$t"; rc=1; }; \
	done; exit $$rc

BENCHES += bench-shim
.PHONY: bench-shim
bench-shim: shim-test-programs
	@BUILD=$(BUILD) sh bench/bench_shim.sh

# tests/test_trace.c includes shim/crc.c, which uses zlib.
UNIT_EXTRA_LIBS_test_trace := -lz
