/*
 * winmem/snapshot.h — the live model snapshot: what the shim's model of a
 * Windows program's address space knows (every allocation the program made
 * or queried through the Wine door in native or check mode, with its pages'
 * state and protection), published by the shim in a memfd named
 * WMS_NAME and read by `winmem maps PID` through /proc/PID/fd. The shim
 * writes it under the registry's own lock as the model changes; readers
 * take no lock: a sequence counter (odd while a change is being written)
 * tells them to read again.
 *
 * Layout: a wms_header, then nslots wms_slot records (the memfd is sparse:
 * slots never used cost nothing). Integers are the writer's (little-endian
 * x86-64); a reader checks magic, version and the two sizes before anything.
 */
#ifndef WINMEM_SNAPSHOT_H
#define WINMEM_SNAPSHOT_H

#include <stdint.h>

#define WMS_NAME "winmem-model"
#define WMS_MAGIC 0x4c444f4d4d4e4957ull     /* "WINMMODL" */
#define WMS_VERSION 1
#define WMS_RUNS 56                         /* a slot holds this many page runs */
#define WMS_SLOTS 32768

enum {
    WMS_INCOMPLETE = 1,       /* header.flags: an allocation had no free slot */
    WMS_TRUNCATED  = 1,       /* slot.flags: more runs than WMS_RUNS; runs unknown */
};

struct wms_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;     /* sizeof(struct wms_header) */
    uint32_t slot_size;       /* sizeof(struct wms_slot) */
    uint32_t nslots;
    uint64_t seq;             /* odd while a writer changes slots */
    uint32_t used;            /* slots [0, used) may be in use */
    uint32_t flags;           /* WMS_INCOMPLETE */
    uint32_t pid;             /* the process the model describes */
    uint32_t page_shift;      /* runs count pages of 1 << page_shift bytes */
    uint64_t reserved[4];
};

/* One allocation (size 0: the slot is free). A run is
 * (first page from base) << 12 | info: info 0 for reserved pages,
 * 0x800 | PAGE_* (GUARD/NOCACHE/WRITECOMBINE included) for committed ones;
 * a run lasts to the next run's first page or to the allocation's end. */
struct wms_slot {
    uint64_t base, size;      /* AllocationBase; the whole reservation */
    uint32_t alloc_protect;   /* AllocationProtect */
    uint32_t type;            /* MEM_PRIVATE, MEM_MAPPED, MEM_IMAGE */
    uint32_t kind;            /* how the model knows it: 2 from the calls, 3 from Wine's query */
    uint32_t nruns;
    uint32_t flags;           /* WMS_TRUNCATED */
    uint32_t pad;
    uint64_t runs[WMS_RUNS];
};

#define WMS_RUN_COMMIT 0x800u

#endif
