/* libFuzzer target: kdump-compressed dumps, standard and flattened (core/dump_kdump.c). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 8 && (!memcmp(data, "KDUMP   ", 8) || (size >= 12 && !memcmp(data, "makedumpfile", 12))))
        fuzz_dump(NULL, 0, data, size);
    else if (size && (data[0] & 1))
        fuzz_dump("makedumpfile", 12, data, size);
    else
        fuzz_dump("KDUMP   ", 8, data, size);
    return 0;
}
