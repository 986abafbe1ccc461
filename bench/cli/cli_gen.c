/*
 * bench/cli/cli_gen.c — writes a large synthetic trace for `make bench`:
 * N call records (default 5,000,000) over 8 threads, 4,096 distinct stacks
 * of 12 frames in 3 modules, a mix of APIs with ~3% failures — written with
 * the format's own structs (tests/cli_tracegen.h), as the shim would.
 *
 *   cli_gen OUT [N [SEED]]
 *
 * Another SEED gives another run of the same "program" (same modules and
 * stacks, calls in another order with other sizes): what `winmem diff`
 * compares in the bench.
 */
#include <stdio.h>
#include <stdlib.h>
#include "../../tests/cli_tracegen.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cli_gen OUT [N [SEED]]\n");
        return 2;
    }
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 5000000;
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    static char iobuf[1 << 20];
    setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
    tg g;
    tg_open(&g, f, 1000, WMT_MODE_TRACE, WMT_HF_WINE | WMT_HF_WINE_HOOKED, "/usr/bin/wine64-preloader", "bench.exe");
    tg_module(&g, 1000, 1, WMT_MOD_PE, 0x170000000, 0x170000000, 0x170100000, "\\??\\C:\\windows\\system32\\ntdll.dll");
    tg_module(&g, 1000, 2, WMT_MOD_PE, 0x180000000, 0x180000000, 0x180200000, "\\??\\C:\\windows\\system32\\kernelbase.dll");
    tg_module(&g, 1000, 3, WMT_MOD_PE, 0x140000000, 0x140000000, 0x140010000, "\\??\\Z:\\nowhere\\bench.exe");
    tg_flush(&g);
    const unsigned threads = 8, stacks = 4096;
    uint64_t seq[8] = { 0 }, t = 1000000;
    srand(1);   /* the stacks: the same program whatever the seed */
    for (unsigned th = 0; th < threads; th++) {
        char name[16];
        snprintf(name, sizeof name, "worker%u", th);
        tg_thread(&g, 1000 + th, name);
    }
    for (unsigned s = 1; s <= stacks; s++) {
        struct wmt_frame fr[12];
        for (int k = 0; k < 12; k++)
            fr[k] = (struct wmt_frame){ 1 + (unsigned)k % 3, WMT_FR_PE, (uint64_t)(rand() % 0xf000) };
        tg_stack(&g, 1000 + s % threads, s, 12, fr);
    }
    srand(argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1);
    static const uint16_t apis[] = { WMT_API_NtAllocateVirtualMemory, WMT_API_NtFreeVirtualMemory,
                                     WMT_API_NtProtectVirtualMemory, WMT_API_NtQueryVirtualMemory };
    for (uint64_t i = 0; i < n; i++) {
        unsigned th = (unsigned)(i / 1000) % threads;   /* runs of 1000 calls per thread, like real chunks */
        uint16_t api = apis[rand() % 4];
        struct wmt_call c = tg_call_init(api, 1000 + th, ++seq[th], t, 200 + (uint64_t)(rand() % 5000),
                                         1 + (uint32_t)(rand() % stacks));
        if (rand() % 32 == 0) {
            c.status = 0xC0000018;   /* STATUS_CONFLICTING_ADDRESSES */
            c.ret = (uint64_t)(int64_t)(int32_t)c.status;
        }
        c.arg[0] = UINT64_MAX, c.arg[1] = 0x10000 + i * 0x1000;
        t += 6000;
        tg_rec(&g, 1000 + th, &c, sizeof c);
    }
    tg_end(&g, 1000, n);
    tg_close(&g);
    return fclose(f) ? 1 : 0;
}
