/*
 * core/registry.h — what winmem itself allocated in this process: every
 * VirtualAlloc reservation with its per-page state and protection. This is
 * how winmem answers exactly where Linux alone cannot (reserved vs committed,
 * AllocationProtect, PAGE_GUARD, PAGE_NOCACHE, allocation boundaries).
 * Owned by core/alloc.c (and core/guard.c for the one-shot guard); read by
 * core/query.c and core/awe.c. Implemented in core/registry.c.
 *
 * Every function is thread-safe. None touches the memory it describes, so a
 * caller may hold no lock while it does.
 */
#ifndef WINMEM_CORE_REGISTRY_H
#define WINMEM_CORE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extra kinds of allocation (wm_region.kind). */
enum {
    WM_KIND_PLAIN    = 0,
    WM_KIND_PHYSICAL = 1,   /* MEM_RESERVE | MEM_PHYSICAL: an AWE window */
    /* Foreign entries: allocations someone else made (Wine), which the
     * shim's model records. winmem's own entries always win over them. */
    WM_KIND_FED      = 2,   /* recorded from the calls that made it */
    WM_KIND_LEARNED  = 3,   /* read off Wine's bookkeeping (its query) */
};
#define WM_KIND_IS_FOREIGN(k) ((k) >= WM_KIND_FED)

/* The Windows view of the run of pages that starts at a queried address. */
typedef struct wm_region {
    uint64_t base;            /* the address rounded down to a page */
    uint64_t size;            /* run of pages with equal state and protect,
                                 never past the allocation's end */
    uint64_t alloc_base;      /* 64 KiB aligned */
    uint64_t alloc_size;      /* the whole reservation */
    uint64_t commit_size;     /* committed bytes in the whole reservation */
    uint32_t alloc_protect;   /* PAGE_* given at reservation, incl. GUARD/NOCACHE */
    uint32_t state;           /* MEM_COMMIT or MEM_RESERVE */
    uint32_t protect;         /* PAGE_* now (with PAGE_GUARD while armed); 0 if reserved */
    uint32_t type;            /* MEM_PRIVATE, MEM_MAPPED or MEM_IMAGE */
    uint32_t rtype;           /* MEMORY_REGION_INFORMATION.RegionType bits; 0: derive from type */
    uint32_t kind;            /* WM_KIND_* */
} wm_region;

/* An allocation someone else made (Wine, in the shim's native mode), as
 * wm_registry_replace records it. */
typedef struct wm_alloc_desc {
    uint64_t base, size;      /* page aligned */
    uint32_t alloc_protect;
    uint32_t type;            /* MEM_PRIVATE, MEM_MAPPED, MEM_IMAGE */
    uint32_t rtype;           /* RegionType bits, 0: derive from type */
    uint32_t kind;            /* WM_KIND_* */
} wm_alloc_desc;

/* Pages [addr, addr+size) of such an allocation: MEM_COMMIT with protect, or
 * MEM_RESERVE (protect ignored). */
typedef struct wm_page_run {
    uint64_t addr, size;
    uint32_t state, protect;
} wm_page_run;

/* If addr lies in a winmem allocation, fills *out and returns true.
 * Pre: out != NULL. Target cost: < 100 ns, no system call. */
bool wm_registry_query(uint64_t addr, wm_region *out);

/* Adds a reservation [base, base+size) with every page MEM_RESERVE.
 * Foreign entries it overlaps are dropped (winmem's own allocation is the
 * truth there). Pre: base 64 KiB aligned, size page aligned, no overlap with
 * another of winmem's own entries.
 * Returns false only when out of memory. */
bool wm_registry_add(uint64_t base, uint64_t size, uint32_t alloc_protect, uint32_t kind);

/* Removes the reservation that starts at base. Returns false if none does. */
bool wm_registry_remove(uint64_t base);

/* Sets state and protection of pages [addr, addr+size) inside one
 * reservation (state MEM_COMMIT with protect, or MEM_RESERVE with protect 0).
 * protect: a PAGE_* base with GUARD/NOCACHE/WRITECOMBINE (bits above 0x7ff
 * are not kept). Returns false if the range is not inside a single
 * reservation, or (nothing changed then) when out of memory. */
bool wm_registry_set_pages(uint64_t addr, uint64_t size, uint32_t state, uint32_t protect);

/* Removes every foreign reservation overlapping [addr, addr+size) (winmem's
 * own stay); returns how many. Always advances the generation, even when
 * nothing was there: the range changed, and a picture of it someone took
 * before (wm_registry_replace's gen) must not be recorded. */
size_t wm_registry_remove_range(uint64_t addr, uint64_t size);

/* Records a whole allocation at once, replacing whatever overlapped it:
 * every page MEM_RESERVE, then runs[0..n) applied in order (runs outside the
 * allocation are ignored). d->kind must be foreign; winmem's own entries
 * are never replaced (false then). gen: 0, or a wm_registry_generation() value read
 * before the caller looked at the allocation — if anything changed the
 * registry since, nothing is recorded (the caller's picture may be stale).
 * Returns true when recorded. Never allocates with malloc. */
bool wm_registry_replace(const wm_alloc_desc *d, const wm_page_run *runs, size_t n, uint64_t gen);

/* A counter that every change to the registry increases. */
uint64_t wm_registry_generation(void);

/* Clears PAGE_GUARD on the page containing addr if it is armed there, and
 * reports the protection that remains in *protect. Async-signal-safe: called
 * from the SIGSEGV handler. Returns true if a guard was cleared. */
bool wm_registry_disarm_guard(uint64_t addr, uint32_t *protect);

/* Publishes a copy of the registry that another process can read without
 * a lock (winmem/snapshot.h): area is a shared mapping of bytes (a memfd
 * the shim made), kept up to date from now on by every change, under the
 * write lock. area NULL stops. Returns false when area is too small. */
bool wm_registry_publish(void *area, uint64_t bytes);

/* In a fork child: stops writing the parent's copy (the mapping is
 * shared). Takes no lock: the child has one thread. */
void wm_registry_unpublish_in_child(void);

/* fork(): core/alloc.c's pthread_atfork handlers hold the registry across
 * the fork so the child never inherits a lock another thread held. The
 * child's unlock re-initialises the lock (its owner thread is gone). */
void wm_registry_fork_lock(void);
void wm_registry_fork_unlock(bool in_child);

#endif
