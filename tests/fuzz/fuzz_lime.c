/* libFuzzer target: LiME dumps (core/dump_lime.c). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && !memcmp(data, "EMiL", 4))
        fuzz_dump(NULL, 0, data, size);
    else
        fuzz_dump("EMiL", 4, data, size);
    return 0;
}
