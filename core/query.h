/*
 * core/query.h — the address-space model behind every query API
 * (query_model.c), shared by query.c and anything else in core/ that needs
 * "what is at X" in Windows terms (the shim's check mode, the CLI's map).
 */
#ifndef WINMEM_CORE_QUERY_H
#define WINMEM_CORE_QUERY_H
#include "internal.h"

/* MEMORY_REGION_INFORMATION.RegionType bits. */
enum {
    WM_RT_PRIVATE         = 1 << 0,
    WM_RT_MAPPED_DATAFILE = 1 << 1,
    WM_RT_MAPPED_IMAGE    = 1 << 2,
    WM_RT_MAPPED_PAGEFILE = 1 << 3,
    WM_RT_MAPPED_PHYSICAL = 1 << 4,
};

typedef struct wm_query {
    uint64_t base, size;           /* MEMORY_BASIC_INFORMATION's region */
    uint64_t alloc_base;           /* 0 when free */
    uint64_t alloc_size, commit_size;   /* only when asked for the whole allocation */
    uint32_t alloc_protect, state, protect, type;
    uint32_t region_type;          /* WM_RT_* */
    bool from_registry;            /* exact: winmem allocated it */
} wm_query;

/* Memory this process's registry does not hold may still be known to
 * someone else: in a Wine process the shim's model (shim/model.c) learns
 * Wine's allocations. The oracle is asked first about every page of this
 * process that is about to be described, with no lock held. It returns
 *   WM_ORACLE_NONE      nothing known: the registry, then the kernel answer;
 *   WM_ORACLE_REGISTRY  the registry now holds the page: it answers;
 *   WM_ORACLE_ANSWERED  *q is the whole answer (free memory, or memory that
 *                       is not the program's) — base, size, state, protect,
 *                       type, alloc_base/alloc_protect, region_type, and with
 *                       whole also alloc_size/commit_size.
 * Pre of the oracle: page aligned, q zeroed. */
enum { WM_ORACLE_NONE = 0, WM_ORACLE_REGISTRY = 1, WM_ORACLE_ANSWERED = 2 };
struct wm_region;
/* With WM_ORACLE_REGISTRY the oracle also fills *r with the registry's
 * entry for the page, which then answers (a second lookup could find it
 * gone: another thread's call may change the registry at any time). */
typedef int (*wm_query_oracle_fn)(uint64_t page, bool whole, wm_query *q, struct wm_region *r);
void wm_query_set_oracle(wm_query_oracle_fn fn);

/* Describes the page containing addr of sp. self: sp is this process (the
 * registry applies). whole: also fill alloc_size and commit_size (costs a walk
 * of the allocation's VMAs). Pre: addr <= wm_user_max(), q != NULL.
 * Returns STATUS_SUCCESS (free memory included: state MEM_FREE),
 * STATUS_PROCESS_IS_TERMINATING (the process exited) or STATUS_ACCESS_DENIED. */
NTSTATUS wm_query_describe(wm_space *sp, bool self, uint64_t addr, bool whole, wm_query *q);

/* MEMORY_WORKING_SET_EX_BLOCK.Flags of the page containing addr (0: not
 * valid). Pre: flags != NULL. */
NTSTATUS wm_query_ws_page(wm_space *sp, bool self, uint64_t addr, uint64_t *flags);

/* The Linux path of the file mapped at addr (images included, " (deleted)"
 * removed). Returns 0, -ENOENT when no file backs addr (free, anonymous),
 * -ENXIO for a view of a pagefile-backed section (a view, but of no file),
 * or -errno. Pre: path holds size >= 2 bytes. */
int wm_query_filename(wm_space *sp, bool self, uint64_t addr, char *path, size_t size);

/* The query APIs read and write the caller's buffers through the kernel
 * (process_vm_readv/writev, ~0.3 µs each) so a bad pointer is an error, not
 * a crash. A caller that already turns such a fault into the error itself
 * may have them copied directly: the shim in a Wine process, whose queries
 * run inside Wine's system call, where Wine ends a faulting call with
 * STATUS_ACCESS_VIOLATION. Process-wide. */
void wm_query_set_direct_io(bool on);

/* Wine backs a pagefile section (CreateFileMapping without a file) with a
 * temporary file of its own ("tmpmap-..."): that is no file to Windows. */
bool wm_wine_tmpmap(const char *path);

#endif
