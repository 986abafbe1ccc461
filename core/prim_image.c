/*
 * core/prim_image.c — which loaded ELF image covers an address (prim.h,
 * wm_image_find).
 *
 * This process: the dynamic loader knows, and glibc 2.35+ answers lock-free
 * with _dl_find_object; the vDSO from its auxv entry. Another process: its
 * loader's list is not readable cheaply, so the file behind a VMA is opened
 * by path, checked to be the same (dev, inode) the kernel reports, and its
 * PT_LOAD headers give the image span; spans are cached by (dev, inode).
 * A span is confirmed only if the VMA at its computed base maps the same file
 * at the first segment's offset, so a plain mmap of an ELF file as data is
 * not mistaken for a loaded image. Images no ELF loader knows (PE images
 * Wine maps) are registered by whoever learns of them (wm_image_register).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "common/pe.h"
#include "prim_linux.h"

#define PG(x)    ((x) & ~4095ULL)
#define PGUP(x)  (((x) + 4095ULL) & ~4095ULL)

static void copy_path(char *dst, size_t size, const char *src)
{
    if (dst && size)
        snprintf(dst, size, "%s", src);
}

/* A fork child has only the forking thread: a lock another thread held at
 * the fork would never be released, so the child starts with fresh ones. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t reg_lock = PTHREAD_RWLOCK_INITIALIZER;

static void image_fork_child(void)
{
    pthread_mutex_init(&cache_lock, NULL);
    pthread_rwlock_init(&reg_lock, NULL);
}

__attribute__((constructor)) static void image_init(void)
{
    pthread_atfork(NULL, NULL, image_fork_child);
}

/* ---- this process ---- */

static uint64_t vdso_start, vdso_end;
static pthread_once_t vdso_once = PTHREAD_ONCE_INIT;

static void vdso_init(void)
{
    const ElfW(Ehdr) *eh = (const void *)getauxval(AT_SYSINFO_EHDR);
    if (!eh)
        return;
    const ElfW(Phdr) *ph = (const void *)((const char *)eh + eh->e_phoff);
    uint64_t hi = 0;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr + ph[i].p_memsz > hi)
            hi = ph[i].p_vaddr + ph[i].p_memsz;
    vdso_start = (uint64_t)(uintptr_t)eh;
    vdso_end = vdso_start + PGUP(hi);
}

/* ---- images registered by others (PE images under Wine) ---- */

enum { MAXREG = 512 };
typedef struct reg_image {
    uint64_t start, end;
    char path[240];
} reg_image;
static reg_image regs[MAXREG];
static int nregs;   /* read without the lock first: 0 is the common case */

bool wm_image_register(uint64_t start, uint64_t end, const char *path)
{
    bool ok = true;
    pthread_rwlock_wrlock(&reg_lock);
    int i = 0;
    while (i < nregs && regs[i].start != start)
        i++;
    if (i == nregs) {
        if (nregs == MAXREG)
            ok = false;
        else
            __atomic_store_n(&nregs, nregs + 1, __ATOMIC_RELEASE);
    }
    if (ok) {
        regs[i].start = start;
        regs[i].end = end;
        copy_path(regs[i].path, sizeof regs[i].path, path ? path : "");
    }
    pthread_rwlock_unlock(&reg_lock);
    return ok;
}

void wm_image_unregister(uint64_t start)
{
    pthread_rwlock_wrlock(&reg_lock);
    for (int i = 0; i < nregs; i++)
        if (regs[i].start == start) {
            regs[i] = regs[nregs - 1];
            __atomic_store_n(&nregs, nregs - 1, __ATOMIC_RELEASE);
            break;
        }
    pthread_rwlock_unlock(&reg_lock);
}

static int registered_image(uint64_t addr, uint64_t *start, uint64_t *end, char *path, size_t path_size)
{
    int r = -ENOENT;
    if (!__atomic_load_n(&nregs, __ATOMIC_RELAXED))
        return r;
    pthread_rwlock_rdlock(&reg_lock);
    for (int i = 0; i < nregs; i++)
        if (addr >= regs[i].start && addr < regs[i].end) {
            *start = regs[i].start;
            *end = regs[i].end;
            copy_path(path, path_size, regs[i].path);
            r = 0;
            break;
        }
    pthread_rwlock_unlock(&reg_lock);
    return r;
}

static int self_image(uint64_t addr, uint64_t *start, uint64_t *end, char *path, size_t path_size)
{
    struct dl_find_object r;
    if (_dl_find_object((void *)(uintptr_t)addr, &r) == 0) {
        *start = PG((uint64_t)(uintptr_t)r.dlfo_map_start);
        *end = PGUP((uint64_t)(uintptr_t)r.dlfo_map_end);
        if (path && path_size) {
            const char *n = r.dlfo_link_map ? r.dlfo_link_map->l_name : "";
            if (n && n[0])
                copy_path(path, path_size, n);
            else {   /* the main program has an empty l_name */
                ssize_t k = readlink("/proc/self/exe", path, path_size - 1);
                path[k > 0 ? k : 0] = 0;
            }
        }
        return 0;
    }
    pthread_once(&vdso_once, vdso_init);
    if (addr >= vdso_start && addr < vdso_end) {
        *start = vdso_start;
        *end = vdso_end;
        copy_path(path, path_size, "[vdso]");
        return 0;
    }
    return registered_image(addr, start, end, path, path_size);
}

/* ---- other processes: ELF headers of the mapped file ---- */

enum { MAXSEG = 12, NCACHE = 64 };

typedef struct elf_span {
    uint64_t dev, inode;
    bool used, is_image;
    uint64_t pe_size;  /* SizeOfImage when the file is a PE image, else 0 */
    int nseg;
    uint64_t off[MAXSEG], vaddr[MAXSEG], filesz[MAXSEG];
    uint64_t lo, hi;   /* page-rounded span of all PT_LOADs, link-time addresses */
} elf_span;

static elf_span cache[NCACHE];
static unsigned cache_next;

/* SizeOfImage of a PE file (the headers Wine maps at an image's base), or 0. */
static uint64_t pe_size_of(int fd)
{
    uint8_t h[1024];
    wm_pe pe;
    ssize_t n = pread(fd, h, sizeof h, 0);
    return n > 0 && wm_pe_read(h, (size_t)n, &pe) ? pe.size_of_image : 0;
}

static void read_elf(const char *path, uint64_t dev, uint64_t inode, elf_span *e)
{
    memset(e, 0, sizeof *e);
    e->used = true;
    e->dev = dev;
    e->inode = inode;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    /* The path may name another file now (replaced, other mount namespace). */
    if (fstat(fd, &st) != 0 || st.st_dev != dev || st.st_ino != inode) {
        close(fd);
        return;
    }
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    size_t n;
    if (elf && elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &n) == 0) {
        e->lo = UINT64_MAX;
        for (size_t i = 0; i < n && e->nseg < MAXSEG; i++) {
            GElf_Phdr ph;
            if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
                continue;
            e->off[e->nseg] = ph.p_offset;
            e->vaddr[e->nseg] = ph.p_vaddr;
            e->filesz[e->nseg] = ph.p_filesz;
            e->nseg++;
            if (PG(ph.p_vaddr) < e->lo)
                e->lo = PG(ph.p_vaddr);
            if (PGUP(ph.p_vaddr + ph.p_memsz) > e->hi)
                e->hi = PGUP(ph.p_vaddr + ph.p_memsz);
        }
        e->is_image = e->nseg > 0;
    }
    if (elf)
        elf_end(elf);
    if (!e->is_image)
        e->pe_size = pe_size_of(fd);
    close(fd);
}

/* Copies the cached span of (dev, inode), reading the file on a miss. */
static void get_span(const char *path, uint64_t dev, uint64_t inode, elf_span *out)
{
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < NCACHE; i++)
        if (cache[i].used && cache[i].dev == dev && cache[i].inode == inode) {
            *out = cache[i];
            pthread_mutex_unlock(&cache_lock);
            return;
        }
    pthread_mutex_unlock(&cache_lock);
    read_elf(path, dev, inode, out);   /* file I/O outside the lock */
    pthread_mutex_lock(&cache_lock);
    cache[cache_next++ % NCACHE] = *out;
    pthread_mutex_unlock(&cache_lock);
}

uint64_t wm_image_file_span(const char *path, const wm_vma *v)
{
    elf_span e;
    get_span(path, makedev(v->dev_major, v->dev_minor), v->inode, &e);
    return e.is_image ? e.hi - e.lo : PGUP(e.pe_size);
}

/* true when the image of e loaded at base spans addr: the VMA at base maps
 * the same file at the first segment's offset (not a data mapping of it). */
static bool image_at(wm_space *sp, const wm_vma *v, const elf_span *e, uint64_t base, uint64_t addr)
{
    wm_vma b;
    return addr >= base && addr < base + (e->hi - e->lo) &&
           wm_vma_find(sp, base, &b, NULL, 0) == 0 && b.start == base &&
           b.inode == v->inode && b.offset == PG(e->off[0]);
}

/* The image that file VMA v (of file path) belongs to, if addr is in it.
 * The base follows from the segment v maps; or, for the no-access holes
 * between segments, from ld.so's first mapping of the whole span at the
 * first segment's offset, whose offsets the holes keep. */
static int image_of(wm_space *sp, const wm_vma *v, const char *path, uint64_t addr,
                    uint64_t *start, uint64_t *end)
{
    elf_span e;
    get_span(path, makedev(v->dev_major, v->dev_minor), v->inode, &e);
    if (!e.is_image)
        return -ENOENT;
    uint64_t first_off = PG(e.off[0]);
    for (int i = 0; i <= e.nseg; i++) {
        uint64_t base;
        if (i < e.nseg) {
            uint64_t o = PG(e.off[i]);
            if (v->offset < o || v->offset >= PGUP(e.off[i] + e.filesz[i]))
                continue;
            base = v->start - (v->offset - o) - PG(e.vaddr[i]) + e.lo;
        } else if (v->offset >= first_off && !(v->flags & (WM_VMA_READ | WM_VMA_WRITE | WM_VMA_EXEC))) {
            base = v->start - (v->offset - first_off);
        } else {
            continue;
        }
        if (image_at(sp, v, &e, base, addr)) {
            *start = base;
            *end = base + (e.hi - e.lo);
            return 0;
        }
    }
    return -ENOENT;
}

/* A PE image Wine mapped in another process: its header page is the file
 * mapped at offset 0 at the image base, its sections file-backed or
 * anonymous VMAs right after it. Walk back over contiguous VMAs to the
 * nearest offset-0 file mapping; it is the image if that file is a PE whose
 * SizeOfImage reaches addr. Bounded: sections are few. */
static void strip_deleted(char *s);
static int pe_image(wm_space *sp, uint64_t addr, uint64_t *start, uint64_t *end, char *path, size_t path_size)
{
    char name[4096 + 32];
    wm_vma v;
    uint64_t a = addr;
    for (int n = 0; n < 24; n++) {
        if (wm_vma_find(sp, a, &v, name, sizeof name) != 0 || v.start > a)
            return -ENOENT;   /* a gap: images are contiguous */
        if (v.inode && v.offset == 0 && name[0] == '/') {
            strip_deleted(name);
            elf_span e;
            get_span(name, makedev(v.dev_major, v.dev_minor), v.inode, &e);
            if (!e.pe_size || addr >= v.start + e.pe_size)
                return -ENOENT;
            *start = v.start;
            *end = v.start + PGUP(e.pe_size);
            copy_path(path, path_size, name);
            return 0;
        }
        if (v.start == 0)
            return -ENOENT;
        a = v.start - 1;
    }
    return -ENOENT;
}

static void strip_deleted(char *s)
{
    size_t n = strlen(s), k = strlen(" (deleted)");
    if (n > k && strcmp(s + n - k, " (deleted)") == 0)
        s[n - k] = 0;
}

int wm_image_find(wm_space *sp, uint64_t addr, uint64_t *start, uint64_t *end,
                  char *path, size_t path_size)
{
    if (wm_space_is_self(sp))
        return self_image(addr, start, end, path, path_size);
    char name[4096 + 32];
    wm_vma v;
    int r = wm_vma_find(sp, addr, &v, name, sizeof name);
    if (r < 0)
        return r;
    if (v.start > addr)
        return -ENOENT;
    if (strcmp(name, "[vdso]") == 0) {
        *start = v.start;
        *end = v.end;
        copy_path(path, path_size, name);
        return 0;
    }
    if (v.inode == 0 && name[0] == 0 && v.start > 0) {
        /* An anonymous VMA right after an image's last file page is its .bss
         * tail: ask the file VMA before it. */
        wm_vma p;
        if (wm_vma_find(sp, v.start - 1, &p, name, sizeof name) != 0 || p.end != v.start)
            return -ENOENT;
        v = p;
    }
    r = -ENOENT;
    if (v.inode != 0 && name[0] == '/') {
        strip_deleted(name);
        r = image_of(sp, &v, name, addr, start, end);
        if (r == 0)
            copy_path(path, path_size, name);
    }
    if (r != 0 && sp->maybe_pe)
        r = pe_image(sp, addr, start, end, path, path_size);
    return r;
}
