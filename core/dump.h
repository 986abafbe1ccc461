/*
 * core/dump.h — what the saved-state API (core/savedstate.c) shares with the
 * format back-ends (core/dump_*.c), the CPU-note decoder (core/dump_cpu.c)
 * and the page walker (core/guest_paging.c). Not installed.
 *
 * A back-end fills a wm_dump: either file-backed segments (ELF, LiME, raw:
 * GPA ranges stored verbatim at a file offset) or a read_page callback
 * (kdump: compressed pages), plus the vCPU state from the dump's notes.
 */
#ifndef WINMEM_CORE_DUMP_H
#define WINMEM_CORE_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "winmem/vmsavedstatedump.h"

#define WM_DUMP_PAGE 4096ULL

#define WM_HR_BAD_FORMAT    HRESULT_FROM_WIN32(ERROR_BAD_FORMAT)
#define WM_HR_INVALID_DATA  HRESULT_FROM_WIN32(ERROR_INVALID_DATA)
#define WM_HR_NOT_SUPPORTED HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED)

/* GPA [gpa, gpa+len) is stored at file offset off. */
struct wm_seg {
    uint64_t gpa, len, off;
};

struct wm_vp {
    VIRTUAL_PROCESSOR_REGISTER reg[X64_RegisterMax];
    bool have[X64_RegisterMax];
    bool have_qemu;              /* QEMU CPU note: CRs and hidden segment state */
    bool have_prstatus;
    bool prstatus64;             /* NT_PRSTATUS was the x86-64 layout */
    uint16_t prstatus_cs;        /* CS selector from NT_PRSTATUS */
    uint32_t cs_flags, ss_flags; /* QEMU's descriptor-high-word form */
    VIRTUAL_PROCESSOR_ARCH forced_arch;
    PAGING_MODE forced_paging;
};

struct wm_dump {
    int fd;
    uint64_t file_size;
    const char *format;
    int e_machine;               /* ELF machine of the dump, 0 if none */

    /* File-backed memory, sorted by gpa, non-overlapping. */
    struct wm_seg *segs;
    size_t nsegs;

    /* Or page-at-a-time memory: fills 4096 bytes of page pfn, or fails. */
    HRESULT (*read_page)(struct wm_dump *d, uint64_t pfn, void *page);
    void (*free_priv)(struct wm_dump *d);
    void *priv;

    /* Filled by wm_dump_finish from segs (or by the back-end itself). */
    GPA_MEMORY_CHUNK *chunks;
    size_t nchunks;
    uint64_t *chunk_raw;         /* raw saved-memory offset of each chunk */
    uint64_t raw_size;

    struct wm_vp *vps;
    uint32_t nvps;

    uint64_t cache_limit;
};

/* ---- back-ends: each returns S_OK having filled d, or an error HRESULT.
 * d->fd and d->file_size are set; the back-end owns nothing else on failure. */
HRESULT wm_dump_open_elf(struct wm_dump *d);
HRESULT wm_dump_open_kdump(struct wm_dump *d);   /* standard or flattened */
HRESULT wm_dump_open_lime(struct wm_dump *d);
HRESULT wm_dump_open_raw(struct wm_dump *d);     /* one chunk from GPA 0 */
HRESULT wm_dump_open_raw_layout(struct wm_dump *d, int layout_fd);

/* Format sniffing from the first bytes of a file. */
bool wm_dump_is_elf(const uint8_t *b, size_t n);
bool wm_dump_is_kdump(const uint8_t *b, size_t n);
bool wm_dump_is_lime(const uint8_t *b, size_t n);

/* Sorts d->segs, trims overlaps (the earlier segment wins, so aliases and
 * hostile overlaps both resolve), drops empty ones, checks every segment lies
 * inside the file, and builds chunks. S_OK or WM_HR_BAD_FORMAT. */
HRESULT wm_dump_finish_segs(struct wm_dump *d);
/* Builds d->chunk_raw/raw_size from d->chunks (which must be sorted, disjoint). */
HRESULT wm_dump_finish_chunks(struct wm_dump *d);

/* pread that retries until done; false on error or early EOF. */
bool wm_pread_full(int fd, void *buf, size_t len, uint64_t off);

/* ---- core/dump_cpu.c: vCPU state from ELF notes ---- */
/* Walks a buffer of ELF64 notes (4-byte aligned): CORE/NT_PRSTATUS and
 * QEMU/0 notes fill d->vps, numbered in note order per kind. */
HRESULT wm_dump_notes(struct wm_dump *d, const uint8_t *buf, size_t len);
/* Paging mode the VP's registers imply (not counting a forced one). */
HRESULT wm_vp_paging(const struct wm_dump *d, uint32_t vp, PAGING_MODE *mode);

/* ---- core/savedstate.c: reads used by the walker ---- */
/* Reads guest-physical bytes within one chunk; *got may be short. */
HRESULT wm_dump_read_gpa(struct wm_dump *d, uint64_t gpa, void *buf, size_t len, size_t *got);

/* ---- core/guest_paging.c ---- */
HRESULT wm_guest_va_to_pa(struct wm_dump *d, uint32_t vp, uint64_t va, uint64_t *pa, uint64_t *unmapped);

#endif
