# cli/: the `winmem` command (build/winmem), its man page and `make demo`
# (its bench is in bench/module.mk). Every cli/*.c is part of the program, with common/'s helpers.
CLI_SRC    := $(wildcard cli/*.c)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
CLI_LIBS   := -ldw -lelf -lz -lpthread -lstdc++
WINMEM_BIN := $(BUILD)/winmem

all: $(WINMEM_BIN)

$(WINMEM_BIN): $(CLI_OBJ) $(COMMON_OBJ) $(LIBWINMEM_A)
	$(CC) -o $@ $(CLI_OBJ) $(COMMON_OBJ) $(LIBWINMEM_A) $(CORE_LIBS) $(CLI_LIBS)

# The ASan build of winmem, which the end-to-end scripts (tests/e2e/cli_*.sh)
# run, so a corrupt trace that crashed it fails there.
WINMEM_SAN_BIN := $(BUILD)/san/winmem
$(WINMEM_SAN_BIN): $(CLI_SRC:%.c=$(BUILD)/san/%.o) $(COMMON_SAN_OBJ) $(LIBWINMEM_SAN_A)
	$(CC) $(SAN_FLAGS) -o $@ $(filter %.o,$^) $(LIBWINMEM_SAN_A) $(CORE_LIBS) $(CLI_LIBS)

# make demo: a real Wine program (tests/module.mk builds it) under
# `winmem run`, its report, and the memory map of a real process in Windows terms.
.PHONY: demo
demo: all $(BUILD)/tests/programs/cli_target.exe
	@BUILD=$(BUILD) sh cli/demo.sh

INSTALLS += install-cli
.PHONY: install-cli
install-cli: $(WINMEM_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(WINMEM_BIN) $(DESTDIR)$(PREFIX)/bin/winmem
	install -m 644 docs/winmem.1 $(DESTDIR)$(PREFIX)/share/man/man1/winmem.1
