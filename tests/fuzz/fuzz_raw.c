/* libFuzzer target: raw images with a layout file (core/dump_raw.c): the input is the layout text. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t image[64 * 1024];
    char ipath[64], lpath[64];
    for (size_t i = 0; i < sizeof image; i++)
        image[i] = (uint8_t)(i * 7);
    int ifd = fuzz_file(NULL, 0, image, sizeof image, ipath);
    int lfd = fuzz_file(NULL, 0, data, size, lpath);
    VM_SAVED_STATE_DUMP_HANDLE h;
    if (ifd >= 0 && lfd >= 0 && winmem_LoadSavedStateFilesUtf8(ipath, lpath, &h) == S_OK) {
        fuzz_exercise(h);
        ReleaseSavedStateFiles(h);
    }
    if (ifd >= 0)
        close(ifd);
    if (lfd >= 0)
        close(lfd);
    return 0;
}
