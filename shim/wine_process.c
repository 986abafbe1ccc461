/*
 * shim/wine_process.c — which Windows program a Wine process really runs.
 *
 * The filter knows a Wine process by its command line (`wine X.exe` is
 * "X.exe"), but when X.exe cannot be found Wine runs its start.exe to say
 * so, under the same command line: a trace named after X.exe would hold
 * start.exe's calls. The PEB knows better: its ImagePathName is the image
 * Wine loaded. It is written once per trace file as a PROCESS record, so
 * `winmem run` can warn that the program named is not the one recorded.
 *
 * Read inside a door call (the PEB exists before any Windows code runs),
 * with every read checked against Wine's own query first: the structure is
 * Wine's, and a bad pointer must end this, not the program's call.
 */
#include <string.h>
#include "common/names.h"
#include "shim.h"
#include "wine_abi.h"

static int noted;      /* 1 once this file has its PROCESS record */

/* [addr, addr + len) lies in committed, readable memory of this process. */
static bool readable(uint64_t addr, uint64_t len)
{
    struct wm_mbi m;
    if (!addr || !wm_wine_query_self(addr, 0, &m, sizeof m) || m.state != WM_MEM_COMMIT)
        return false;
    /* PAGE_NOACCESS (1) and guard pages (0x100) cannot be read. */
    return !(m.prot & 0x101) && addr + len <= m.base + m.size && addr + len > addr;
}

static uint64_t read64(uint64_t addr) { uint64_t v; memcpy(&v, (const void *)(uintptr_t)addr, 8); return v; }

/* The UTF-8 image path into out, or "" when the PEB does not give one. */
static void image_path(char *out, size_t size)
{
    out[0] = 0;
    uint64_t teb = wm_teb(), peb, params;
    if (!teb || !readable(teb + WM_TEB_PEB, 8) || !readable(peb = read64(teb + WM_TEB_PEB), 0x28) ||
        !readable(params = read64(peb + WM_PEB_PARAMS), WM_PARAMS_IMAGE + 16))
        return;
    uint16_t len;
    memcpy(&len, (const void *)(uintptr_t)(params + WM_PARAMS_IMAGE), 2);
    uint64_t buf = read64(params + WM_PARAMS_IMAGE + 8);
    if (!(read64(params + WM_PARAMS_FLAGS) & 1))
        buf += params;                          /* denormalized: an offset */
    if (!len || (len & 1) || !readable(buf, len))
        return;
    uint16_t w[512];
    size_t n = len / 2u < 512 ? len / 2u : 512;
    memcpy(w, (const void *)(uintptr_t)buf, n * 2);
    wm_utf16_to_utf8(w, n, out, size);
}

void wm_wine_note_process(void)
{
    if (__atomic_load_n(&noted, __ATOMIC_ACQUIRE) || __atomic_exchange_n(&noted, 1, __ATOMIC_ACQ_REL))
        return;
    unsigned char buf[sizeof(struct wmt_process) + 1024 + 8] = { 0 };
    struct wmt_process *r = (struct wmt_process *)buf;
    image_path((char *)(r + 1), 1024);
    size_t pl = strlen((const char *)(r + 1));
    if (!pl)
        return;
    r->h.type = WMT_REC_PROCESS;
    r->h.size = (uint16_t)((sizeof *r + pl + 7) & ~(size_t)7);
    r->image_len = (uint16_t)pl;
    wm_write_meta(buf, r->h.size);
}

void wm_wine_process_after_fork(void) { __atomic_store_n(&noted, 0, __ATOMIC_RELEASE); }
