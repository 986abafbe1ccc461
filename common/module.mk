# common/: small helpers both the shim and the CLI need (names.c, pe.h),
# compiled into each of them, never into libwinmem (the core includes only
# the header-only pe.h). Sources include them as "common/<file>.h".
COMMON_SRC     := $(wildcard common/*.c)
COMMON_OBJ     := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
COMMON_SAN_OBJ := $(COMMON_SRC:%.c=$(BUILD)/san/%.o)
