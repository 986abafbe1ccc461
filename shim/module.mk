# shim/: libwinmem-shim.so, the LD_PRELOAD library (docs/shim.md).
#
# Every shim/*.c is linked in.
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
$(SHIM_SO): $(SHIM_OBJ) $(COMMON_OBJ) $(SHIM_GEN)/wmcore.a $(SHIM_GEN)/exports.map
	$(CC) -shared -Wl,-soname,libwinmem-shim.so -Wl,--version-script=$(SHIM_GEN)/exports.map \
		-Wl,-z,now -o $@ $(SHIM_OBJ) $(COMMON_OBJ) $(addprefix -Wl$(comma)-u$(comma)wmcore_,$(SHIM_API)) \
		-Wl,-u,wm_guard_forbid_handler $(SHIM_GEN)/wmcore.a -lz -Wl,--as-needed $(CORE_LIBS) -Wl,--no-as-needed

comma := ,

INSTALLS += install-shim
.PHONY: install-shim
install-shim: $(SHIM_SO)
	install -d $(DESTDIR)$(PREFIX)/lib
	install -m 755 $(SHIM_SO) $(DESTDIR)$(PREFIX)/lib/libwinmem-shim.so

# The shim's test programs and its check-shim target are in tests/module.mk.
BENCHES += bench-shim
.PHONY: bench-shim
bench-shim: shim-test-programs
	@BUILD=$(BUILD) sh bench/bench_shim.sh
