/*
 * cli/maps_live.c — `winmem maps PID` of a program running under the shim
 * in native or check mode: the regions the shim's model knows (exact
 * AllocationBase, AllocationProtect, reserved vs committed, guard pages),
 * laid over the kernel's view of the rest (cli/maps.c).
 *
 * The model is the copy the shim publishes in a memfd (shim/snapshot.c,
 * include/winmem/snapshot.h), found through /proc/PID/fd — the ptrace read
 * access /proc/PID/maps already needs — and read without any lock of the
 * target's: a copy is kept only when the sequence counter was the same even
 * value before and after it. A program that changes its memory without
 * pause for a whole second gets the kernel's view, and the header says why.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "winmem/memory.h"
#include "winmem/snapshot.h"
#include "maps.h"
#include "winview.h"
#include "table.h"

/* The descriptor in pid that is the shim's memfd, opened here; -1 if none. */
static int open_snapshot(pid_t pid)
{
    char dir[64], link[384], target[128];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int fd = -1;
    for (struct dirent *e; fd < 0 && (e = readdir(d));) {
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        if (!strncmp(target, "/memfd:" WMS_NAME " ", strlen("/memfd:" WMS_NAME " ")))
            fd = open(link, O_RDONLY | O_CLOEXEC);
    }
    closedir(d);
    return fd;
}

static int by_base(const void *a, const void *b)
{
    const struct wms_slot *x = a, *y = b;
    return x->base < y->base ? -1 : x->base > y->base;
}

/* A slot the overlay can trust: page-aligned, inside user space, runs
 * that start at its first page and rise inside it, and no overlap with the
 * one before (a torn or hostile memfd must not make regions up). */
static bool sane(const struct wms_slot *s, uint64_t prev_end)
{
    uint64_t pages = s->size >> 12;
    if ((s->base | s->size) & 0xfff || s->base < prev_end || s->base + s->size < s->base ||
        s->base + s->size > 0x800000000000ull || s->nruns > WMS_RUNS || (!s->nruns && !(s->flags & WMS_TRUNCATED)))
        return false;
    for (uint32_t i = 0; i < s->nruns; i++)
        if ((i == 0 ? (s->runs[0] >> 12) != 0 : (s->runs[i] >> 12) <= (s->runs[i - 1] >> 12)) || (s->runs[i] >> 12) >= pages)
            return false;
    return true;
}

static void keep_sane(wm_model *m)
{
    size_t w = 0;
    uint64_t end = 0;
    for (size_t i = 0; i < m->n; i++)
        if (sane(&m->a[i], end)) {
            end = m->a[i].base + m->a[i].size;
            m->a[w++] = m->a[i];
        } else {
            m->dropped++;
        }
    m->n = w;
}

/* One consistent copy of the slots in use, or false when none could be
 * taken within the second. */
static bool copy_slots(const struct wms_header *h, wm_model *m)
{
    const struct wms_slot *slots = (const struct wms_slot *)((const char *)h + h->header_size);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        uint64_t s1 = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
        uint32_t used = __atomic_load_n(&h->used, __ATOMIC_RELAXED);
        if (!(s1 & 1) && used <= h->nslots) {
            m->n = 0;
            m->incomplete = (__atomic_load_n(&h->flags, __ATOMIC_RELAXED) & WMS_INCOMPLETE) != 0;
            bool room = TABLE_GROW(m->a, m->cap, used, 64);
            for (uint32_t i = 0; room && i < used; i++) {
                struct wms_slot s;
                memcpy(&s, &slots[i], sizeof s);
                if (s.size)
                    m->a[m->n++] = s;
            }
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (!room)
                return false;
            if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) == s1)
                return true;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > 1000000000L)
            return false;
        sched_yield();
    }
}

int wm_model_read(pid_t pid, wm_model *m, char *why, size_t why_size)
{
    memset(m, 0, sizeof *m);
    int fd = open_snapshot(pid);
    if (fd < 0) {
        snprintf(why, why_size, "no winmem shim model in this process (it runs without the shim, or in trace mode)");
        return 0;
    }
    struct stat st;
    int rc = -1;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size >= sizeof(struct wms_header))
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    const struct wms_header *h = p;
    if (p == MAP_FAILED) {
        snprintf(why, why_size, "the shim's model could not be read");
    } else if (h->magic != WMS_MAGIC || h->version != WMS_VERSION || h->header_size != sizeof *h ||
               h->slot_size != sizeof(struct wms_slot) ||
               h->nslots > ((uint64_t)st.st_size - sizeof *h) / sizeof(struct wms_slot) || h->page_shift != 12) {
        snprintf(why, why_size, "the shim's model is of another winmem version (format %u)", h->version);
    } else if (!copy_slots(h, m)) {
        snprintf(why, why_size, "the shim's model changed without pause for a second");
    } else {
        qsort(m->a, m->n, sizeof *m->a, by_base);
        keep_sane(m);
        rc = 1;
    }
    if (p != MAP_FAILED)
        munmap(p, (size_t)st.st_size);
    return rc;
}

void wm_model_free(wm_model *m)
{
    free(m->a);
    memset(m, 0, sizeof *m);
}

/* ---- the overlay ---- */

/* The kernel's name for address a (a view's file, an image's path). */
static const char *name_at(const wm_maps *k, uint64_t a)
{
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->r[mid].base + k->r[mid].size <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < k->n && k->r[lo].base <= a ? k->r[lo].name : "";
}

static bool push(wm_mregion **v, size_t *n, size_t *cap, wm_mregion r)
{
    if (!TABLE_GROW(*v, *cap, *n + 1, 1024))
        return false;
    (*v)[(*n)++] = r;
    return true;
}

/* Region r, split where its copy-on-write pages were written (pagemap of
 * sp): those read PAGE_READWRITE on Windows, as the program's own query
 * says. Without pagemap, r whole. */
static bool push_cow(wm_space *sp, wm_mregion r, wm_mregion **v, size_t *n, size_t *cap)
{
    uint32_t base = r.protect & 0xff;
    if (!sp || r.state != MEM_COMMIT || (base != PAGE_WRITECOPY && base != PAGE_EXECUTE_WRITECOPY))
        return push(v, n, cap, r);
    uint64_t pm[512], end = r.base + r.size, a = r.base;
    wm_mregion piece = r;
    piece.size = 0;
    bool piece_copied = false;
    while (a < end) {
        size_t np = (size_t)((end - a) >> 12) < 512 ? (size_t)((end - a) >> 12) : 512;
        if (wm_pagemap_read(sp, a, np, pm) != 0)
            return push(v, n, cap, r);
        for (size_t i = 0; i < np; i++, a += 4096) {
            bool c = wm_view_page_copied(pm[i]);
            if (piece.size && c != piece_copied) {
                if (!push(v, n, cap, piece))
                    return false;
                piece.base = a, piece.size = 0;
            }
            piece_copied = c;
            piece.protect = c ? wm_view_copied_protect(r.protect) : r.protect;
            piece.size += 4096;
        }
    }
    return push(v, n, cap, piece);
}

/* The model's regions of one allocation: a region per run. */
static bool model_regions(const wm_maps *k, const struct wms_slot *s, wm_space *sp, wm_mregion **v, size_t *n,
                          size_t *cap)
{
    for (uint32_t i = 0; i < s->nruns; i++) {
        uint64_t a = s->base + ((s->runs[i] >> 12) << 12);
        uint64_t e = i + 1 < s->nruns ? s->base + ((s->runs[i + 1] >> 12) << 12) : s->base + s->size;
        uint32_t info = (uint32_t)(s->runs[i] & 0xfff);
        bool committed = info & WMS_RUN_COMMIT;
        wm_mregion r = { a, e - a, s->base, s->alloc_protect, committed ? MEM_COMMIT : MEM_RESERVE,
                         committed ? info & 0x7ff : 0, s->type, name_at(k, a), 1 };
        if (!(s->type == MEM_PRIVATE ? push(v, n, cap, r) : push_cow(sp, r, v, n, cap)))
            return false;
    }
    return true;
}

int wm_maps_overlay(wm_maps *k, const wm_model *m, wm_space *sp)
{
    wm_mregion *v = NULL;
    size_t n = 0, cap = 0, ai = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < k->n; i++) {
        const wm_mregion *kr = &k->r[i];
        uint64_t cur = kr->base, end = kr->base + kr->size;
        while (ok && cur < end) {
            while (ai < m->n && (m->a[ai].base + m->a[ai].size <= cur || (m->a[ai].flags & WMS_TRUNCATED)))
                ai++;
            const struct wms_slot *s = ai < m->n ? &m->a[ai] : NULL;
            if (s && s->base <= cur) {        /* the model's allocation: all of it, once */
                if (s->base == cur || (i == 0 && cur == kr->base))
                    ok = model_regions(k, s, sp, &v, &n, &cap);
                cur = s->base + s->size < end ? s->base + s->size : end;
                if (cur == s->base + s->size)
                    ai++;
                continue;
            }
            uint64_t stop = s && s->base < end ? s->base : end;
            wm_mregion piece = *kr;
            piece.base = cur, piece.size = stop - cur;
            ok = push(&v, &n, &cap, piece);
            cur = stop;
        }
    }
    if (!ok) {
        free(v);
        return -ENOMEM;
    }
    free(k->r);
    k->r = v, k->n = n, k->cap = cap;
    return 0;
}
