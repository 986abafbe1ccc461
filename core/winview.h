/*
 * core/winview.h — the Windows view of Linux facts: every rule that turns a
 * kernel VMA into MEMORY_BASIC_INFORMATION fields, in one place.
 *
 * Two users apply them: core/query_model.c (VirtualQuery: one address at a
 * time, adding pagemap, the loader and winmem's registry) and cli/maps.c
 * (`winmem maps`: the whole /proc/PID/maps text in one streamed pass). The
 * rules are those of docs/query.md; tests/test_winview.c holds both users to
 * them on the same input. Linux facts themselves (reading files, /proc) stay
 * behind prim.h.
 */
#ifndef WINMEM_CORE_WINVIEW_H
#define WINMEM_CORE_WINVIEW_H

#include <stdbool.h>
#include <stdint.h>
#include "winmem/memory.h"
#include "prim.h"

/* ---- the user range ---- */

/* The first address past the user range Windows code sees
 * (lpMaximumApplicationAddress + 1). Nothing at or above it is described:
 * free space ends there, and a region never reaches past it. */
static inline uint64_t wm_view_user_end(void) { return wm_user_max() + 1; }

/* end, clipped to the user range. */
static inline uint64_t wm_view_clip(uint64_t end)
{
    uint64_t top = wm_view_user_end();
    return end < top ? end : top;
}

/* ---- /proc/PID/maps text ---- */

/* Parses one maps line "start-end perms offset maj:min inode   name" in
 * [line, end) into *v (page_size 4096: the text does not say) and *name.
 * Writes a NUL at *end, which becomes the name's terminator.
 * Pre: line <= end, *end writable. Returns false on a malformed line. */
bool wm_maps_line(char *line, char *end, wm_vma *v, const char **name);

/* ---- protection and copy-on-write ---- */

/* WM_VMA_* access → PAGE_*. A private writable file mapping is WRITECOPY
 * until its page is copied; callers that know that pass cow = true. */
static inline uint32_t wm_prot_from_vma(uint32_t vma_flags, bool cow)
{
    bool r = vma_flags & WM_VMA_READ, w = vma_flags & WM_VMA_WRITE, x = vma_flags & WM_VMA_EXEC;
    if (x)
        return w ? (cow ? PAGE_EXECUTE_WRITECOPY : PAGE_EXECUTE_READWRITE)
                 : (r ? PAGE_EXECUTE_READ : PAGE_EXECUTE);
    if (w)
        return cow ? PAGE_WRITECOPY : PAGE_READWRITE;
    return r ? PAGE_READONLY : PAGE_NOACCESS;
}

/* A private writable file mapping: its pages are WRITECOPY until written. */
static inline bool wm_view_cow_capable(const wm_vma *v)
{
    return !(v->flags & WM_VMA_SHARED) && v->inode && (v->flags & WM_VMA_WRITE);
}

/* A copy-on-write page that was written (its pagemap entry pm): private
 * now, present or swapped out. */
static inline bool wm_view_page_copied(uint64_t pm)
{
    return ((pm & WM_PM_PRESENT) && !(pm & WM_PM_FILE_SHARED)) || (pm & WM_PM_SWAPPED);
}

/* What Windows reports for a copy-on-write protection once the page was
 * written: PAGE_READWRITE (PAGE_EXECUTE_READWRITE); other protections as
 * they are. */
static inline uint32_t wm_view_copied_protect(uint32_t p)
{
    uint32_t base = p & 0xff;
    return base == PAGE_WRITECOPY ? (p & ~0xffu) | PAGE_READWRITE
         : base == PAGE_EXECUTE_WRITECOPY ? (p & ~0xffu) | PAGE_EXECUTE_READWRITE : p;
}

/* shmem's internal mount (device 0:1) backs shared anonymous memory, memfd
 * and SysV shm: Windows would call these pagefile-backed sections. */
static inline bool wm_view_pagefile_backed(const wm_vma *v)
{
    return v->inode && v->dev_major == 0 && v->dev_minor == 1;
}

/* ---- State, Protect, Type ---- */

typedef struct wm_view_attr {
    uint32_t state, protect, type;
} wm_view_attr;

/* The Windows attributes of VMA v. image: v lies in a loaded image's span.
 * copied: pagemap shows the page was copied (false when unknown).
 *  State:   MEM_RESERVE for private no-access memory that is anonymous or
 *           inside an image (how Wine, the .NET PAL and ld.so reserve);
 *           else MEM_COMMIT.
 *  Protect: from r/w/x, WRITECOPY while a private file page is not copied;
 *           0 when reserved.
 *  Type:    image → MEM_IMAGE; other file-backed (shared anonymous and memfd
 *           included: the kernel backs them with a file) → MEM_MAPPED;
 *           else MEM_PRIVATE. */
wm_view_attr wm_view_of(const wm_vma *v, bool image, bool copied);

/* AllocationProtect. Images: PAGE_EXECUTE_WRITECOPY. A view: the protection
 * of its first VMA (first). Anonymous memory: its own protection a, or
 * PAGE_NOACCESS when reserved. */
uint32_t wm_view_alloc_protect(const wm_vma *first, const wm_view_attr *a, bool image);

/* ---- allocations: which VMAs belong together ---- */

/* true when next continues the view prev belongs to: adjacent, the same
 * file, consecutive offsets (a view split by mprotect is still one view). */
bool wm_view_same_view(const wm_vma *prev, const wm_vma *next);

/* The text walk's guess for anonymous memory (docs/cli.md): Windows
 * allocations start on 64 KiB boundaries, so an anonymous VMA that starts
 * where the previous one ended, off such a boundary, continues that
 * allocation (a Wine VirtualAlloc whose pages were committed piecewise, a
 * thread stack with its guard). VirtualQuery does not guess: for one address
 * it gives each foreign VMA its own base. */
static inline bool wm_view_continues_anon(uint64_t prev_end, const wm_vma *next)
{
    return next->start == prev_end && (next->start & 0xffff);
}

/* ---- images ---- */

/* The span of the image VMA v starts, or 0 when it starts none: a PE or ELF
 * file mapped at offset 0 spans what its headers say
 * (wm_image_file_span: SizeOfImage, or the PT_LOAD extent with the .bss);
 * [vdso] spans its own VMA. name is the VMA's maps name. */
uint64_t wm_view_image_start(const wm_vma *v, const char *name);

#endif
