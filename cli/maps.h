/*
 * cli/maps.h — a process's address space in Windows terms, derived from the
 * kernel's /proc/PID/maps (the CLI is another process: it has no registry of
 * what the target allocated, so it answers what VirtualQueryEx answers for
 * memory winmem did not allocate; see docs/cli.md for what Linux cannot say).
 */
#ifndef WINMEM_CLI_MAPS_H
#define WINMEM_CLI_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "prim.h"
#include "winmem/snapshot.h"

typedef struct wm_mregion {
    uint64_t base, size;          /* BaseAddress, RegionSize */
    uint64_t alloc_base;          /* AllocationBase (0 when free) */
    uint32_t alloc_protect;       /* AllocationProtect */
    uint32_t state;               /* MEM_COMMIT, MEM_RESERVE, MEM_FREE */
    uint32_t protect;             /* PAGE_*; 0 when reserved or free */
    uint32_t type;                /* MEM_IMAGE, MEM_MAPPED, MEM_PRIVATE; 0 when free */
    const char *name;             /* file or [heap]/[stack]/...; "" if none; points into the text */
    uint8_t model;                /* 1: from the shim's model (wm_maps_overlay), 0: the kernel's view */
} wm_mregion;

typedef struct wm_maps {
    char *text;                   /* wm_maps_parse: the text names point into */
    size_t text_len;
    char **blocks;                /* wm_maps_read: names are copied here */
    size_t nblocks, arena_cap;
    wm_mregion *r;
    size_t n, cap;
    uint64_t pushed_end;          /* end of the last region derived (emitted or not) */
    struct wm_derive {            /* where the incremental derivation stands */
        size_t done;
        uint64_t at;                  /* end of the last region */
        wm_vma view_first, view_last; /* the file view being walked */
        uint64_t anon_base, anon_end;
        uint32_t anon_protect;
        uint64_t img_base, img_end;   /* the image span being walked */
        const char *img_name;
    } ds;
} wm_maps;

/* Called while reading with regions [from, to) that are final, so output can
 * be written while the kernel still produces the rest of the text. With an
 * emit function, m keeps only the regions not yet emitted (memory stays
 * small at any VMA count); without one, m holds them all. */
typedef void (*wm_maps_emit)(void *ctx, const wm_maps *m, size_t from, size_t to);

/* Reads /proc/PID/maps of pid and derives regions (free gaps included).
 * Returns 0, or -errno (-EACCES: the kernel's ptrace read check refused;
 * -ENOENT/-ESRCH: no such process). */
int wm_maps_read(pid_t pid, wm_maps *m, wm_maps_emit emit, void *ctx);
/* The same regions from winmem's own API: OpenProcess + VirtualQueryEx
 * (pid 0: this process through GetCurrentProcess()). Same return values. */
int wm_maps_read_api(pid_t pid, wm_maps *m);

/* Derives regions from maps text (takes ownership of text, malloc'ed). */
int wm_maps_parse(wm_maps *m, char *text, size_t len);
void wm_maps_free(wm_maps *m);

/* The shim's model of a process (cli/maps_live.c): its allocations sorted
 * by base, each with its page runs (include/winmem/snapshot.h). */
typedef struct wm_model {
    struct wms_slot *a;
    size_t n, cap;
    size_t dropped;               /* slots that failed the sanity checks */
    bool incomplete;              /* the shim ran out of slots: some allocations missing */
} wm_model;

/* Reads the model the shim publishes in process pid. 1: read; 0: pid has
 * none; -1: there is one but it could not be read. why (0 and -1) says
 * what a user should know, for the header line. */
int wm_model_read(pid_t pid, wm_model *m, char *why, size_t why_size);
void wm_model_free(wm_model *m);

/* Replaces k's regions inside the model's allocations by the model's (one
 * region per run of like pages, marked model = 1; copy-on-write pages that
 * were written split off as PAGE_READWRITE, read from sp's pagemap when sp
 * is not NULL); elsewhere k's stay. Pre: k holds every region
 * (wm_maps_read without an emit function). 0, or -ENOMEM with k unchanged. */
int wm_maps_overlay(wm_maps *k, const wm_model *m, wm_space *sp);

const char *wm_state_name(uint32_t state);
const char *wm_type_name(uint32_t type);
const char *wm_protect_name(uint32_t protect);   /* "PAGE_READWRITE", "0" ... */
/* With the modifiers: "PAGE_READWRITE|PAGE_GUARD"; buf (64 bytes suffice)
 * is used only when there are any. */
const char *wm_protect_text(uint32_t protect, char *buf, size_t size);

#endif
