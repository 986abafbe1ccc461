# vmsavedstatedumpprovider.dll as a Wine 8 builtin, in two halves:
#   x86_64-windows/vmsavedstatedumpprovider.dll  PE, built by winegcc with
#       mingw-w64 and marked builtin: what Windows programs load;
#   x86_64-unix/vmsavedstatedumpprovider.so      ELF, winmem linked in: what
#       the PE half reaches through Wine's unix calls.
# Wine finds the pair in any WINEDLLPATH directory: `make install` puts it
# in $(PREFIX)/lib/winmem/wine (WINE_DLLDIR), so Windows programs use it with
# WINEDLLPATH=$(PREFIX)/lib/winmem/wine. A prefix made before the DLL existed
# needs `wineboot -u` once so system32 gets the placeholder Wine loads it through.
SSD_SRC   := wine/vmsavedstatedumpprovider
SSD_DIR   := $(BUILD)/wine
SSD_PE    := $(SSD_DIR)/x86_64-windows/vmsavedstatedumpprovider.dll
SSD_SO    := $(SSD_DIR)/x86_64-unix/vmsavedstatedumpprovider.so
WINEBUILD ?= $(firstword $(wildcard /usr/lib/wine/winebuild) winebuild)

all: $(SSD_PE) $(SSD_SO)

$(SSD_PE): $(SSD_SRC)/provider.c $(SSD_SRC)/unixlib.h $(SSD_SRC)/vmsavedstatedumpprovider.spec \
		include/winmem/vmsavedstatedump.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	winegcc -b x86_64-w64-mingw32 -shared -O2 -Wall -Iinclude -o $@ \
		$(SSD_SRC)/vmsavedstatedumpprovider.spec $(SSD_SRC)/provider.c -lkernel32 -lntdll
	$(WINEBUILD) --builtin $@

# --exclude-libs: winmem's own exports stay out of Wine's symbol space.
$(SSD_SO): $(SSD_SRC)/unixlib.c $(SSD_SRC)/unixlib.h $(LIBWINMEM_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -shared -fvisibility=hidden -Wl,--no-undefined -Wl,--exclude-libs,ALL \
		-o $@ $< $(LIBWINMEM_A) $(CORE_LIBS)

INSTALLS += install-wine-savedstate
.PHONY: install-wine-savedstate
WINE_DLLDIR ?= $(PREFIX)/lib/winmem/wine
install-wine-savedstate: $(SSD_PE) $(SSD_SO)
	install -D -m 644 $(SSD_PE) $(DESTDIR)$(WINE_DLLDIR)/x86_64-windows/vmsavedstatedumpprovider.dll
	install -D -m 755 $(SSD_SO) $(DESTDIR)$(WINE_DLLDIR)/x86_64-unix/vmsavedstatedumpprovider.so
