/*
 * core/prim.h — every fact winmem takes from Linux, behind one narrow
 * interface. Nothing else in core/ opens /proc, calls the PROCMAP_QUERY
 * ioctl, reads pagemap or ELF headers: the API families (query.c, alloc.c,
 * awe.c, ...) ask these functions and translate the answers into Windows
 * terms. Implemented in core/prim_linux.c (spaces, VMAs, pagemap, copies),
 * core/prim_image.c (images) and core/prim_sys.c (system facts).
 *
 * Addresses are uint64_t so one interface serves this process and others.
 * Functions return 0 on success or a negative errno; they never set errno
 * for the caller to read and never print. Preconditions are written above
 * each function; everywhere, a wm_space *sp must come from wm_space_self()
 * or be a wm_space_open space the caller still holds a reference to, and
 * output pointers must be valid.
 */
#ifndef WINMEM_CORE_PRIM_H
#define WINMEM_CORE_PRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* An address space winmem can read: a process's /proc/PID/maps and pagemap,
 * opened once. The descriptors are bound to that process's memory when
 * opened (the kernel checks ptrace read access then), so a space behaves like
 * a Windows process handle: safe against pid reuse, -ESRCH once it exits. */
typedef struct wm_space wm_space;

/* Opens pid's address space. Pre: pid > 0. Returns 0 and *out, or -EACCES
 * (ptrace read check refused), -ESRCH/-ENOENT (no such process). */
int wm_space_open(pid_t pid, wm_space **out);

/* Pre: sp came from wm_space_open and no other thread still uses it. */
void wm_space_close(wm_space *sp);

/* Reference counting for spaces shared between threads (process handles):
 * wm_space_open returns a space holding one reference; wm_space_unref of the
 * last one closes it. Both are no-ops on wm_space_self().
 * Pre: the caller holds a reference to sp (unref gives it up). */
void wm_space_ref(wm_space *sp);
void wm_space_unref(wm_space *sp);

/* This process's space; never NULL, never closed. Reopened transparently in a
 * fork child (an inherited maps fd would describe the parent). */
wm_space *wm_space_self(void);

/* The process sp describes; whether that is this process (a space opened on
 * getpid() counts). */
pid_t wm_space_pid(const wm_space *sp);
bool wm_space_is_self(const wm_space *sp);

/* Test hook: force the /proc/PID/maps text parser instead of PROCMAP_QUERY
 * (what kernels older than 6.11 get). Pre: called before any query. */
void wm_prim_force_text_maps(bool on);
/* true when PROCMAP_QUERY is in use for sp. */
bool wm_space_has_procmap_query(const wm_space *sp);

enum {
    WM_VMA_READ   = 1,
    WM_VMA_WRITE  = 2,
    WM_VMA_EXEC   = 4,
    WM_VMA_SHARED = 8,   /* MAP_SHARED */
};

/* One kernel VMA. A file-backed VMA has inode != 0 (shared anonymous memory
 * and memfds count as file-backed, device 0:1, as the kernel says). */
typedef struct wm_vma {
    uint64_t start, end;      /* [start, end), page aligned */
    uint64_t offset;          /* file offset of start */
    uint64_t inode;
    uint32_t dev_major, dev_minor;
    uint32_t flags;           /* WM_VMA_* */
    uint32_t page_size;       /* 4096; larger only for hugetlb (not THP) */
} wm_vma;

/* The VMA containing addr, or else the first one above it.
 * Pre: out != NULL; name NULL, or name_size >= 1.
 * name (optional, may be NULL): receives the path or "[heap]", "[stack]",
 * "[vdso]"..., "" for anonymous; truncated to name_size-1 bytes.
 * Returns 0, -ENOENT when no VMA is at or above addr (free to the end of the
 * user range: not an error), or another -errno (-ESRCH: the process is gone).
 * Cost: one ioctl (~0.4 µs) with PROCMAP_QUERY. */
int wm_vma_find(wm_space *sp, uint64_t addr, wm_vma *out, char *name, size_t name_size);

/* Pagemap bits, as the kernel defines them. */
#define WM_PM_PRESENT    (1ULL << 63)
#define WM_PM_SWAPPED    (1ULL << 62)
#define WM_PM_FILE_SHARED (1ULL << 61)  /* file page or shared anonymous */
#define WM_PM_GUARD      (1ULL << 58)
#define WM_PM_EXCLUSIVE  (1ULL << 56)   /* mapped exactly once */

/* Reads the pagemap entries of npages pages from page-aligned addr into out.
 * Pre: addr page aligned, out holds npages entries. A hole reads as 0.
 * -EACCES when pagemap could not be opened for sp (a process that dropped
 * privileges may read its own maps but not its own pagemap). */
int wm_pagemap_read(wm_space *sp, uint64_t addr, size_t npages, uint64_t *out);

/* true when the page at addr is part of a huge page (transparent or
 * hugetlb), from the PAGEMAP_SCAN ioctl (Linux 6.7+; false without it).
 * Pre: addr page aligned. */
bool wm_pagemap_huge(wm_space *sp, uint64_t addr);

/* The loaded ELF image whose span contains addr (its PT_LOAD span, including
 * the anonymous .bss tail; [vdso] counts). Pre: start, end != NULL; path
 * NULL or path_size >= 1. For this process from the dynamic
 * loader; for another from the ELF headers of the file it mapped.
 * Returns 0 with [*start,*end) and path (optional), or -ENOENT. */
int wm_image_find(wm_space *sp, uint64_t addr, uint64_t *start, uint64_t *end,
                  char *path, size_t path_size);

/* The span an image file occupies once loaded, from its own headers: a PE's
 * SizeOfImage (headers at the base, sections after them, copied or not), an
 * ELF's lowest to highest PT_LOAD end (the anonymous .bss included); page
 * rounded. 0 when the file is neither, cannot be read, or is no longer the
 * file v maps (its dev and inode differ: replaced, another mount namespace).
 * Pre: v is a file VMA (inode != 0) and path the name the kernel gave it.
 * Cached by (dev, inode): each file is read once. */
uint64_t wm_image_file_span(const char *path, const wm_vma *v);

/* Images the dynamic loader does not know — the PE images Wine maps — for
 * this process: whoever learns of one (the shim, from Wine's own
 * NtQueryVirtualMemory) registers its span, and wm_image_find then reports
 * it like an ELF image (MEM_IMAGE, one AllocationBase, the file name).
 * Pre: start < end, both page aligned; path may be NULL. Registering a start
 * again replaces that entry. Returns false when the table (512) is full. */
bool wm_image_register(uint64_t start, uint64_t end, const char *path);
/* Forgets the registered image starting at start (unmapped); no-op when
 * none starts there. */
void wm_image_unregister(uint64_t start);

/* Reads len bytes at addr of sp's memory (process_vm_readv for others, a
 * fault-safe copy for self). Pre: buf holds len bytes. Returns bytes read
 * (may be short) or -errno. */
ssize_t wm_space_read(wm_space *sp, uint64_t addr, void *buf, size_t len);

/* ---- system facts (prim_sys.c); no preconditions, callable any time ---- */

/* Page size (4096 here) and the user address range Windows code sees:
 * [wm_user_min(), wm_user_max()] inclusive, as GetSystemInfo reports. */
size_t wm_page_size(void);
uint64_t wm_user_min(void);
uint64_t wm_user_max(void);
/* The end of the user half (0x7ffffffff000): no page of this process lies
 * at or above it, so no range reaching past it can be the caller's. */
uint64_t wm_task_size(void);

/* Online processors, at least 1. */
unsigned wm_cpu_count(void);

/* What AWE's lock budget weighs, in bytes: RAM the kernel can hand out
 * without swapping (MemAvailable; UINT64_MAX when unknown), what this process
 * has locked (VmLck; 0 when unknown), and its RLIMIT_MEMLOCK (UINT64_MAX when
 * unlimited or unknown). Plain system calls, no allocation. */
uint64_t wm_mem_available(void);
uint64_t wm_self_locked(void);
uint64_t wm_memlock_limit(void);
/* true when this process may lock any amount (CAP_IPC_LOCK in effect). */
bool wm_can_lock_any(void);

/* true when [addr, addr+len) of this process can be read without faulting
 * (used to report ERROR_NOACCESS instead of crashing on a bad buffer).
 * Any addr and len: that is what they test. */
bool wm_self_readable(const void *addr, size_t len);
/* Writes back the bytes already there: use only on buffers handed over to be
 * written (output parameters). */
bool wm_self_writable(void *addr, size_t len);

/* Fault-safe copies within this process: false (nothing or part copied) when
 * the source is unreadable / the destination unwritable. A buffer on the
 * calling thread's stack is copied directly; others cost one system call.
 * A range that wraps past 2^64 or reaches above the user half (WM_TASK_SIZE)
 * is refused before any copy, whichever path. Where a sandbox refuses
 * process_vm_readv/writev (ENOSYS, EPERM), they copy plainly: a bad pointer
 * then faults as it would without winmem.
 * Pre: the winmem side (dst of a read, src of a write) holds len bytes; the
 * caller's side may be any pointer. */
bool wm_self_read(void *dst, const void *src, size_t len);
bool wm_self_write(void *dst, const void *src, size_t len);

/* getpid(), cached (refreshed in a fork child): getpid is a real syscall.
 * No preconditions (set by a constructor before main). */
pid_t wm_self_pid(void);

#endif
