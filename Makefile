# winmem — top-level build. Each area adds its own rules in <area>/module.mk;
# this file holds what they share. `make help` lists the targets.
#
#   make            build libwinmem.so/.a, the shim and the CLI into build/
#   make check      every test (installs missing Debian packages first)
#   make demo       the main job on a real process
#   make bench      speed, side by side against the anchors, as ratios
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= gcc
BUILD   := build

WARN     := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2
CFLAGS   ?= -O2 -g
BASE_CFLAGS := -std=gnu11 $(WARN) -fPIC -fno-omit-frame-pointer -I. -Iinclude -Icore -D_GNU_SOURCE
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined

# Libraries every core user links; areas append (e.g. compression for dumps).
CORE_LIBS := -lelf -lpthread -ldl

.PHONY: all check demo bench install clean deps help
all:

# Keep objects that only feed pattern rules.
.SECONDARY:

# Missing Debian packages are installed by name (as root) or the exact
# apt-get line is printed and make stops. Stamped so it runs once per tree.
DEPS_STAMP := $(BUILD)/.deps-ok
deps: $(DEPS_STAMP)
$(DEPS_STAMP): tools/debian-packages.txt tools/deps.sh
	@./tools/deps.sh
	@mkdir -p $(@D) && touch $@

# Objects: build/obj/ (normal), build/san/ (AddressSanitizer + UBSan, for tests).
$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -fvisibility=hidden -MMD -MP -c $< -o $@
$(BUILD)/san/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) -O1 -g $(BASE_CFLAGS) $(SAN_FLAGS) -fvisibility=hidden -MMD -MP -c $< -o $@

# Files that name PREFIX (winmem.pc) depend on PREFIX_STAMP, rewritten
# only when PREFIX differs from the last make's, so they follow PREFIX.
PREFIX_STAMP := $(BUILD)/.prefix
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(PREFIX_STAMP) 2>/dev/null)" = "$(PREFIX)" ] || echo "$(PREFIX)" > $(PREFIX_STAMP); })

# CHECKS: names of check-* targets the areas register; tools/check.sh runs
# them all, reports each, and prints the closing "N passed, N failed" line.
# tests/ comes last: it builds every test program, from what the others define.
CHECKS :=
MODULES := core common shim cli wine wine-tests bench tests
INSTALLS :=
BENCHES :=
-include $(foreach m,$(MODULES),$(m)/module.mk)

check: all | $(DEPS_STAMP)
	@./tools/check.sh $(CHECKS)

# INSTALLS: install-* targets the areas register. Every one installs under
# $(DESTDIR)$(PREFIX) (PREFIX_STAMP above).
install: all $(INSTALLS)

clean:
	rm -rf $(BUILD)

help:
	@sed -n '2,10p' Makefile

# Dependency files; the Wine 10.0 root under build/ is a whole Debian tree: not searched.
-include $(shell find $(BUILD) -path $(BUILD)/wine10-root -prune -o -name '*.d' -type f -print 2>/dev/null)
