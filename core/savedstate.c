/*
 * core/savedstate.c — the VM saved-state dump API: handles, loading (format
 * from content), chunks, and reads. The formats live in core/dump_*.c, the
 * vCPU state in core/dump_cpu.c, the page walker in core/guest_paging.c.
 *
 * Handles are checked against a list of live ones, and every call holds the
 * list's read lock while it uses a dump, so ReleaseSavedStateFiles (write
 * lock) cannot free a dump under a concurrent reader and a made-up handle
 * gets E_HANDLE instead of a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"
#include "dump.h"

struct wm_handle {
    struct wm_handle *next;
    struct wm_dump d;
};

static pthread_rwlock_t handles_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct wm_handle *handles;

/* Returns the dump with the read lock held, or NULL (lock not held). */
static struct wm_dump *dump_get(VM_SAVED_STATE_DUMP_HANDLE h)
{
    pthread_rwlock_rdlock(&handles_lock);
    for (struct wm_handle *p = handles; p; p = p->next)
        if (p == h)
            return &p->d;
    pthread_rwlock_unlock(&handles_lock);
    return NULL;
}

static void dump_put(void)
{
    pthread_rwlock_unlock(&handles_lock);
}

bool wm_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n, len -= (size_t)n, off += (uint64_t)n;
    }
    return true;
}

static HRESULT hr_from_errno(int e)
{
    switch (e) {
    case ENOENT:  return HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND);
    case ENOTDIR: return HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND);
    case EACCES:
    case EPERM:   return E_ACCESSDENIED;
    case ENOMEM:  return E_OUTOFMEMORY;
    case EISDIR:  return HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED);
    default:      return E_FAIL;
    }
}

static void dump_free(struct wm_dump *d)
{
    if (d->free_priv)
        d->free_priv(d);
    free(d->segs);
    free(d->chunks);
    free(d->chunk_raw);
    free(d->vps);
    if (d->fd >= 0)
        close(d->fd);
}

/* ---- chunks ---- */

static int seg_cmp(const void *a, const void *b)
{
    const struct wm_seg *x = a, *y = b;
    if (x->gpa != y->gpa)
        return x->gpa < y->gpa ? -1 : 1;
    return x->len > y->len ? -1 : x->len < y->len;   /* longer first: it wins the trim */
}

HRESULT wm_dump_finish_segs(struct wm_dump *d)
{
    for (size_t i = 0; i < d->nsegs; i++) {
        struct wm_seg *s = &d->segs[i];
        if (s->gpa + s->len < s->gpa || s->off + s->len < s->off || s->off + s->len > d->file_size)
            return WM_HR_BAD_FORMAT;
    }
    qsort(d->segs, d->nsegs, sizeof *d->segs, seg_cmp);
    size_t n = 0;
    uint64_t end = 0;
    for (size_t i = 0; i < d->nsegs; i++) {
        struct wm_seg s = d->segs[i];
        if (n && s.gpa < end) {
            /* An alias (paging=true dumps) stores the same PA at the same
             * offset; any other overlap is two claims on one address. */
            const struct wm_seg *p = &d->segs[n - 1];
            if (s.off - s.gpa != p->off - p->gpa)
                return WM_HR_BAD_FORMAT;
            uint64_t cut = end - s.gpa;
            if (cut >= s.len)
                continue;
            s.gpa += cut, s.off += cut, s.len -= cut;
        }
        if (!s.len)
            continue;
        d->segs[n++] = s;
        end = s.gpa + s.len;
    }
    d->nsegs = n;
    if (!n)
        return VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND;

    GPA_MEMORY_CHUNK *c = calloc(n, sizeof *c);
    if (!c)
        return E_OUTOFMEMORY;
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t first = d->segs[i].gpa / WM_DUMP_PAGE;
        uint64_t last = (d->segs[i].gpa + d->segs[i].len - 1) / WM_DUMP_PAGE;
        if (nc && first <= c[nc - 1].GuestPhysicalStartPageIndex + c[nc - 1].PageCount) {
            uint64_t cend = c[nc - 1].GuestPhysicalStartPageIndex + c[nc - 1].PageCount;
            if (last + 1 > cend)
                c[nc - 1].PageCount += last + 1 - cend;
        } else {
            c[nc].GuestPhysicalStartPageIndex = first;
            c[nc].PageCount = last - first + 1;
            nc++;
        }
    }
    d->chunks = c;
    d->nchunks = nc;
    return wm_dump_finish_chunks(d);
}

HRESULT wm_dump_finish_chunks(struct wm_dump *d)
{
    if (!d->nchunks)
        return VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND;
    d->chunk_raw = calloc(d->nchunks, sizeof *d->chunk_raw);
    if (!d->chunk_raw)
        return E_OUTOFMEMORY;
    uint64_t raw = 0;
    for (size_t i = 0; i < d->nchunks; i++) {
        d->chunk_raw[i] = raw;
        raw += d->chunks[i].PageCount * WM_DUMP_PAGE;
    }
    d->raw_size = raw;
    return S_OK;
}

/* Index of the chunk holding gpa, or -1. */
static ssize_t chunk_of(const struct wm_dump *d, uint64_t gpa)
{
    uint64_t pfn = gpa / WM_DUMP_PAGE;
    size_t lo = 0, hi = d->nchunks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const GPA_MEMORY_CHUNK *c = &d->chunks[mid];
        if (pfn < c->GuestPhysicalStartPageIndex)
            hi = mid;
        else if (pfn - c->GuestPhysicalStartPageIndex >= c->PageCount)
            lo = mid + 1;
        else
            return (ssize_t)mid;
    }
    return -1;
}

/* Index of the segment holding gpa, or -1. */
static ssize_t seg_of(const struct wm_dump *d, uint64_t gpa)
{
    size_t lo = 0, hi = d->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct wm_seg *s = &d->segs[mid];
        if (gpa < s->gpa)
            hi = mid;
        else if (gpa - s->gpa >= s->len)
            lo = mid + 1;
        else
            return (ssize_t)mid;
    }
    return -1;
}

HRESULT wm_dump_read_gpa(struct wm_dump *d, uint64_t gpa, void *buf, size_t len, size_t *got)
{
    *got = 0;
    ssize_t ci = chunk_of(d, gpa);
    if (ci < 0)
        return VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND;
    const GPA_MEMORY_CHUNK *c = &d->chunks[ci];
    uint64_t cend = (c->GuestPhysicalStartPageIndex + c->PageCount) * WM_DUMP_PAGE;
    if (cend && len > cend - gpa)
        len = cend - gpa;
    uint8_t *out = buf;
    size_t done = 0;
    if (!len)
        return S_OK;
    if (d->read_page) {
        uint8_t page[WM_DUMP_PAGE];
        while (done < len) {
            uint64_t a = gpa + done, in = a % WM_DUMP_PAGE;
            size_t n = WM_DUMP_PAGE - in;
            if (n > len - done)
                n = len - done;
            bool whole = in == 0 && n == WM_DUMP_PAGE;
            HRESULT hr = d->read_page(d, a / WM_DUMP_PAGE, whole ? out + done : page);
            if (FAILED(hr)) {
                *got = done;
                return done ? S_OK : hr;
            }
            if (!whole)
                memcpy(out + done, page + in, n);
            done += n;
        }
    } else {
        while (done < len) {
            ssize_t si = seg_of(d, gpa + done);
            if (si < 0)
                break;                      /* a partial page at a segment edge */
            const struct wm_seg *s = &d->segs[si];
            uint64_t in = gpa + done - s->gpa;
            size_t n = len - done;
            if (n > s->len - in)
                n = s->len - in;
            if (!wm_pread_full(d->fd, out + done, n, s->off + in)) {
                *got = done;
                return done ? S_OK : WM_HR_INVALID_DATA;
            }
            done += n;
        }
        if (!done)
            return VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND;
    }
    *got = done;
    return S_OK;
}

/* ---- loading ---- */

static HRESULT load_fds(int fd, int layout_fd, bool raw, struct wm_dump *d)
{
    struct stat st;
    memset(d, 0, sizeof *d);
    d->fd = fd;
    if (fstat(fd, &st) < 0)
        return hr_from_errno(errno);
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED);
    d->file_size = (uint64_t)st.st_size;
    if (raw)
        return layout_fd >= 0 ? wm_dump_open_raw_layout(d, layout_fd) : wm_dump_open_raw(d);

    uint8_t head[64] = { 0 };
    size_t n = d->file_size < sizeof head ? (size_t)d->file_size : sizeof head;
    if (!n || !wm_pread_full(fd, head, n, 0))
        return WM_HR_BAD_FORMAT;
    if (wm_dump_is_elf(head, n))
        return wm_dump_open_elf(d);
    if (wm_dump_is_kdump(head, n))
        return wm_dump_open_kdump(d);
    if (wm_dump_is_lime(head, n))
        return wm_dump_open_lime(d);
    return WM_HR_BAD_FORMAT;   /* raw images need LoadSavedStateFiles: no magic to check */
}

static HRESULT load_paths(const char *path, const char *layout, bool raw, VM_SAVED_STATE_DUMP_HANDLE *out)
{
    if (!out)
        return E_POINTER;
    *out = NULL;
    if (!path)
        return E_POINTER;
    struct wm_handle *h = calloc(1, sizeof *h);
    if (!h)
        return E_OUTOFMEMORY;
    h->d.fd = -1;
    /* O_NONBLOCK: a FIFO named as a dump must be refused by load_fds'
     * fstat, not block this open forever (no effect on files and disks). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        HRESULT hr = hr_from_errno(errno);
        free(h);
        return hr;
    }
    int lfd = -1;
    if (layout && *layout) {
        lfd = open(layout, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (lfd < 0) {
            HRESULT hr = hr_from_errno(errno);
            close(fd);
            free(h);
            return hr;
        }
    }
    HRESULT hr = load_fds(fd, lfd, raw, &h->d);
    if (lfd >= 0)
        close(lfd);
    if (FAILED(hr)) {
        dump_free(&h->d);
        free(h);
        return hr;
    }
    for (uint32_t i = 0; i < h->d.nvps; i++) {
        h->d.vps[i].forced_arch = Arch_Unknown;
        h->d.vps[i].forced_paging = Paging_Invalid;
    }
    pthread_rwlock_wrlock(&handles_lock);
    h->next = handles;
    handles = h;
    pthread_rwlock_unlock(&handles_lock);
    *out = h;
    return S_OK;
}

/* UTF-16 (with surrogate pairs) → UTF-8; NULL on bad input or no memory. */
static char *utf16_to_utf8(LPCWSTR w)
{
    size_t n = 0;
    while (w[n])
        n++;
    char *s = malloc(n * 3 + 1), *p = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = w[i];
        if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && w[i + 1] >= 0xDC00 && w[i + 1] < 0xE000)
            c = 0x10000 + ((c - 0xD800) << 10) + (w[++i] - 0xDC00);
        else if (c >= 0xD800 && c < 0xE000) {
            free(s);
            return NULL;
        }
        if (c < 0x80)
            *p++ = (char)c;
        else if (c < 0x800)
            *p++ = (char)(0xC0 | c >> 6), *p++ = (char)(0x80 | (c & 0x3F));
        else if (c < 0x10000)
            *p++ = (char)(0xE0 | c >> 12), *p++ = (char)(0x80 | ((c >> 6) & 0x3F)), *p++ = (char)(0x80 | (c & 0x3F));
        else
            *p++ = (char)(0xF0 | c >> 18), *p++ = (char)(0x80 | ((c >> 12) & 0x3F)),
            *p++ = (char)(0x80 | ((c >> 6) & 0x3F)), *p++ = (char)(0x80 | (c & 0x3F));
    }
    *p = 0;
    return s;
}

WM_EXPORT HRESULT WINAPI winmem_LoadSavedStateFileUtf8(const char *Path, VM_SAVED_STATE_DUMP_HANDLE *h)
{
    return load_paths(Path, NULL, false, h);
}

WM_EXPORT HRESULT WINAPI winmem_LoadSavedStateFilesUtf8(const char *ImagePath, const char *LayoutPath,
                                                        VM_SAVED_STATE_DUMP_HANDLE *h)
{
    return load_paths(ImagePath, LayoutPath, true, h);
}

WM_EXPORT HRESULT WINAPI LoadSavedStateFile(LPCWSTR VmrsFile, VM_SAVED_STATE_DUMP_HANDLE *h)
{
    if (!VmrsFile || !h)
        return E_POINTER;
    char *p = utf16_to_utf8(VmrsFile);
    if (!p)
        return E_INVALIDARG;
    HRESULT hr = load_paths(p, NULL, false, h);
    free(p);
    return hr;
}

WM_EXPORT HRESULT WINAPI LoadSavedStateFiles(LPCWSTR BinFile, LPCWSTR VsvFile, VM_SAVED_STATE_DUMP_HANDLE *h)
{
    if (!BinFile || !h)
        return E_POINTER;
    char *b = utf16_to_utf8(BinFile), *v = VsvFile ? utf16_to_utf8(VsvFile) : NULL;
    HRESULT hr = (!b || (VsvFile && !v)) ? E_INVALIDARG : load_paths(b, v, true, h);
    free(b);
    free(v);
    return hr;
}

WM_EXPORT HRESULT WINAPI ReleaseSavedStateFiles(VM_SAVED_STATE_DUMP_HANDLE h)
{
    pthread_rwlock_wrlock(&handles_lock);
    struct wm_handle **pp = &handles;
    while (*pp && *pp != h)
        pp = &(*pp)->next;
    struct wm_handle *found = *pp;
    if (found)
        *pp = found->next;
    pthread_rwlock_unlock(&handles_lock);
    if (!found)
        return E_HANDLE;
    dump_free(&found->d);
    free(found);
    return S_OK;
}

WM_EXPORT HRESULT WINAPI winmem_GetSavedStateFormat(VM_SAVED_STATE_DUMP_HANDLE h, const char **Format)
{
    struct wm_dump *d = dump_get(h);
    if (!d)
        return E_HANDLE;
    HRESULT hr = Format ? (*Format = d->format, S_OK) : E_POINTER;
    dump_put();
    return hr;
}

/* ---- memory ---- */

WM_EXPORT HRESULT WINAPI GetGuestPhysicalMemoryChunks(VM_SAVED_STATE_DUMP_HANDLE h, UINT64 *PageSize,
                                                      GPA_MEMORY_CHUNK *Chunks, UINT64 *Count)
{
    struct wm_dump *d = dump_get(h);
    if (!d)
        return E_HANDLE;
    HRESULT hr;
    if (!PageSize || !Count)
        hr = E_POINTER;
    else if (!Chunks || *Count < d->nchunks) {
        *Count = d->nchunks;
        hr = E_OUTOFMEMORY;
    } else {
        memcpy(Chunks, d->chunks, d->nchunks * sizeof *Chunks);
        *Count = d->nchunks;
        *PageSize = WM_DUMP_PAGE;
        hr = S_OK;
    }
    dump_put();
    return hr;
}

WM_EXPORT HRESULT WINAPI GetGuestRawSavedMemorySize(VM_SAVED_STATE_DUMP_HANDLE h, UINT64 *Size)
{
    struct wm_dump *d = dump_get(h);
    if (!d)
        return E_HANDLE;
    HRESULT hr = Size ? (*Size = d->raw_size, S_OK) : E_POINTER;
    dump_put();
    return hr;
}

WM_EXPORT HRESULT WINAPI GuestPhysicalAddressToRawSavedMemoryOffset(VM_SAVED_STATE_DUMP_HANDLE h,
                                                                    GUEST_PHYSICAL_ADDRESS Pa, UINT64 *RawOffset)
{
    struct wm_dump *d = dump_get(h);
    if (!d)
        return E_HANDLE;
    HRESULT hr = E_POINTER;
    if (RawOffset) {
        ssize_t ci = chunk_of(d, Pa);
        if (ci < 0)
            hr = VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND;
        else {
            *RawOffset = d->chunk_raw[ci] + (Pa - d->chunks[ci].GuestPhysicalStartPageIndex * WM_DUMP_PAGE);
            hr = S_OK;
        }
    }
    dump_put();
    return hr;
}

WM_EXPORT HRESULT WINAPI ReadGuestPhysicalAddress(VM_SAVED_STATE_DUMP_HANDLE h, GUEST_PHYSICAL_ADDRESS Pa,
                                                  LPVOID Buffer, UINT32 Size, UINT32 *BytesRead)
{
    if (BytesRead)
        *BytesRead = 0;
    struct wm_dump *d = dump_get(h);
    if (!d)
        return E_HANDLE;
    HRESULT hr;
    size_t got = 0;
    if (!Buffer && Size)
        hr = E_POINTER;
    else
        hr = wm_dump_read_gpa(d, Pa, Buffer, Size, &got);
    dump_put();
    if (BytesRead)
        *BytesRead = (UINT32)got;
    return hr;
}

WM_EXPORT HRESULT WINAPI ReadGuestRawSavedMemory(VM_SAVED_STATE_DUMP_HANDLE h, UINT64 RawOffset,
                                                 LPVOID Buffer, UINT32 Size, UINT32 *BytesRead)
{
    if (BytesRead)
        *BytesRead = 0;
    struct wm_dump *d = dump_get(h);
    if (!d)
        return E_HANDLE;
    HRESULT hr = S_OK;
    size_t done = 0;
    if (!Buffer && Size)
        hr = E_POINTER;
    else if (RawOffset >= d->raw_size)
        hr = VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND;
    else {
        /* The chunk holding RawOffset: the last with chunk_raw <= RawOffset. */
        size_t lo = 0, hi = d->nchunks;
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (d->chunk_raw[mid] <= RawOffset)
                lo = mid;
            else
                hi = mid;
        }
        uint64_t off = RawOffset;
        for (size_t ci = lo; ci < d->nchunks && done < Size; ci++) {
            uint64_t gpa = d->chunks[ci].GuestPhysicalStartPageIndex * WM_DUMP_PAGE + (off - d->chunk_raw[ci]);
            uint64_t room = d->chunks[ci].PageCount * WM_DUMP_PAGE - (off - d->chunk_raw[ci]);
            size_t want = Size - done < room ? Size - done : (size_t)room, got = 0;
            hr = wm_dump_read_gpa(d, gpa, (uint8_t *)Buffer + done, want, &got);
            done += got, off += got;
            if (FAILED(hr) || got < want)
                break;
        }
        if (done)
            hr = S_OK;
    }
    dump_put();
    if (BytesRead)
        *BytesRead = (UINT32)done;
    return hr;
}

WM_EXPORT HRESULT WINAPI SetMemoryBlockCacheLimit(VM_SAVED_STATE_DUMP_HANDLE h, UINT64 Limit)
{
    struct wm_dump *d = dump_get(h);
    if (!d)
        return E_HANDLE;
    __atomic_store_n(&d->cache_limit, Limit, __ATOMIC_RELAXED);
    dump_put();
    return S_OK;
}

WM_EXPORT HRESULT WINAPI GetMemoryBlockCacheLimit(VM_SAVED_STATE_DUMP_HANDLE h, UINT64 *Limit)
{
    struct wm_dump *d = dump_get(h);
    if (!d)
        return E_HANDLE;
    HRESULT hr = Limit ? (*Limit = __atomic_load_n(&d->cache_limit, __ATOMIC_RELAXED), S_OK) : E_POINTER;
    dump_put();
    return hr;
}

/* ---- virtual processors ---- */

/* The dump and VP for a per-VP call, or an error with the lock released. */
static HRESULT vp_get(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 vp, struct wm_dump **d)
{
    *d = dump_get(h);
    if (!*d)
        return E_HANDLE;
    if (vp >= (*d)->nvps) {
        dump_put();
        return E_INVALIDARG;
    }
    return S_OK;
}

WM_EXPORT HRESULT WINAPI GetVpCount(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 *VpCount)
{
    struct wm_dump *d = dump_get(h);
    if (!d)
        return E_HANDLE;
    HRESULT hr = VpCount ? (*VpCount = d->nvps, S_OK) : E_POINTER;
    dump_put();
    return hr;
}

WM_EXPORT HRESULT WINAPI GetArchitecture(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 VpId, VIRTUAL_PROCESSOR_ARCH *Arch)
{
    struct wm_dump *d;
    HRESULT hr = vp_get(h, VpId, &d);
    if (FAILED(hr))
        return hr;
    const struct wm_vp *v = &d->vps[VpId];
    if (!Arch)
        hr = E_POINTER;
    else if (__atomic_load_n(&v->forced_arch, __ATOMIC_RELAXED) != Arch_Unknown)
        *Arch = __atomic_load_n(&v->forced_arch, __ATOMIC_RELAXED);
    else if (v->have_qemu)
        *Arch = (v->cs_flags & (1u << 21)) ? Arch_x64 : Arch_x86;
    else
        *Arch = v->prstatus64 ? Arch_x64 : Arch_x86;
    dump_put();
    return hr;
}

WM_EXPORT HRESULT WINAPI ForceArchitecture(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 VpId, VIRTUAL_PROCESSOR_ARCH Arch)
{
    struct wm_dump *d;
    HRESULT hr = vp_get(h, VpId, &d);
    if (FAILED(hr))
        return hr;
    if (Arch == Arch_x86 || Arch == Arch_x64)
        __atomic_store_n(&d->vps[VpId].forced_arch, Arch, __ATOMIC_RELAXED);   /* readers hold no write lock */
    else
        hr = E_INVALIDARG;
    dump_put();
    return hr;
}

WM_EXPORT HRESULT WINAPI GetRegisterValue(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 VpId, DWORD RegisterId,
                                          VIRTUAL_PROCESSOR_REGISTER *Value)
{
    struct wm_dump *d;
    HRESULT hr = vp_get(h, VpId, &d);
    if (FAILED(hr))
        return hr;
    const struct wm_vp *v = &d->vps[VpId];
    if (!Value)
        hr = E_POINTER;
    else if (RegisterId >= X64_RegisterMax)
        hr = E_INVALIDARG;
    else if (!v->have[RegisterId])
        hr = WM_HR_NOT_SUPPORTED;
    else
        *Value = v->reg[RegisterId];
    dump_put();
    return hr;
}

WM_EXPORT HRESULT WINAPI GetPagingMode(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 VpId, PAGING_MODE *Mode)
{
    struct wm_dump *d;
    HRESULT hr = vp_get(h, VpId, &d);
    if (FAILED(hr))
        return hr;
    if (!Mode)
        hr = E_POINTER;
    else if (__atomic_load_n(&d->vps[VpId].forced_paging, __ATOMIC_RELAXED) != Paging_Invalid)
        *Mode = __atomic_load_n(&d->vps[VpId].forced_paging, __ATOMIC_RELAXED);
    else
        hr = wm_vp_paging(d, VpId, Mode);
    dump_put();
    return hr;
}

WM_EXPORT HRESULT WINAPI ForcePagingMode(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 VpId, PAGING_MODE Mode)
{
    struct wm_dump *d;
    HRESULT hr = vp_get(h, VpId, &d);
    if (FAILED(hr))
        return hr;
    if (Mode >= Paging_NonPaged && Mode <= Paging_Long)
        __atomic_store_n(&d->vps[VpId].forced_paging, Mode, __ATOMIC_RELAXED);
    else
        hr = E_INVALIDARG;
    dump_put();
    return hr;
}

WM_EXPORT HRESULT WINAPI InKernelSpace(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 VpId, BOOL *InKernel)
{
    struct wm_dump *d;
    HRESULT hr = vp_get(h, VpId, &d);
    if (FAILED(hr))
        return hr;
    const struct wm_vp *v = &d->vps[VpId];
    if (!InKernel)
        hr = E_POINTER;
    else if (v->have_qemu)
        *InKernel = ((v->ss_flags >> 13) & 3) == 0;   /* CPL = SS.DPL */
    else if (v->have_prstatus)
        *InKernel = (v->prstatus_cs & 3) == 0;
    else
        hr = VM_SAVED_STATE_DUMP_E_INVALID_VP_STATE;
    dump_put();
    return hr;
}

WM_EXPORT HRESULT WINAPI GuestVirtualAddressToPhysicalAddress(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 VpId,
                                                              const GUEST_VIRTUAL_ADDRESS Va,
                                                              GUEST_PHYSICAL_ADDRESS *Pa,
                                                              GUEST_VIRTUAL_ADDRESS *Unmapped)
{
    struct wm_dump *d;
    HRESULT hr = vp_get(h, VpId, &d);
    if (FAILED(hr))
        return hr;
    if (!Pa)
        hr = E_POINTER;
    else {
        uint64_t pa = 0, un = 0;
        hr = wm_guest_va_to_pa(d, VpId, Va, &pa, &un);
        if (SUCCEEDED(hr))
            *Pa = pa;
        if (Unmapped)
            *Unmapped = hr == VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED ? un : 0;
    }
    dump_put();
    return hr;
}
