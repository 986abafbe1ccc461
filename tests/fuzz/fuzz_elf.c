/* libFuzzer target: QEMU ELF dumps (core/dump_elf.c, notes in core/dump_cpu.c). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Keep the magic so the ELF reader, not format sniffing, sees the input. */
    if (size >= 4 && !memcmp(data, "\177ELF", 4))
        fuzz_dump(NULL, 0, data, size);
    else
        fuzz_dump("\177ELF", 4, data, size);
    return 0;
}
