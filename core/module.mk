# core/: libwinmem.so, libwinmem.a and winmem.pc.
# Every core/*.c is part of the library; areas that need more libraries
# append to CORE_LIBS in their own fragment.
CORE_SRC     := $(wildcard core/*.c)
CORE_OBJ     := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
CORE_SAN_OBJ := $(CORE_SRC:%.c=$(BUILD)/san/%.o)
LIBWINMEM_SO := $(BUILD)/libwinmem.so
LIBWINMEM_A  := $(BUILD)/libwinmem.a
LIBWINMEM_SAN_A := $(BUILD)/san/libwinmem.a
WINMEM_VERSION := 0.1.0

all: $(LIBWINMEM_SO) $(LIBWINMEM_A) $(BUILD)/winmem.pc

$(LIBWINMEM_SO): $(CORE_OBJ)
	$(CC) -shared -Wl,-soname,libwinmem.so.0 -Wl,--no-undefined -o $@ $^ $(CORE_LIBS)
$(LIBWINMEM_A): $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $^
$(LIBWINMEM_SAN_A): $(CORE_SAN_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/winmem.pc: core/module.mk $(PREFIX_STAMP)
	@mkdir -p $(@D)
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: winmem\nDescription: The Windows memory API on Linux\nVersion: %s\nLibs: -L$${libdir} -lwinmem\nLibs.private: %s\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(WINMEM_VERSION)' '$(CORE_LIBS)' > $@

INSTALLS += install-core
.PHONY: install-core
install-core: $(LIBWINMEM_SO) $(LIBWINMEM_A) $(BUILD)/winmem.pc
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/winmem
	install -m 644 include/winmem/*.h $(DESTDIR)$(PREFIX)/include/winmem/
	install -m 755 $(LIBWINMEM_SO) $(DESTDIR)$(PREFIX)/lib/libwinmem.so.$(WINMEM_VERSION)
	ln -sf libwinmem.so.$(WINMEM_VERSION) $(DESTDIR)$(PREFIX)/lib/libwinmem.so.0
	ln -sf libwinmem.so.0 $(DESTDIR)$(PREFIX)/lib/libwinmem.so
	install -m 644 $(LIBWINMEM_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(BUILD)/winmem.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

# Saved-state dumps (core/dump_kdump.c): kdump page compressions.
CORE_LIBS += -lz -llzo2 -lsnappy -lzstd
