/*
 * shim/wine_ids.c — the system-call ids Wine gave each Nt function, read
 * from the PE ntdll.dll that Windows code calls.
 *
 * Why from the file: every ntdll.dll export that is a system call is a stub
 * `mov %rcx,%r10; mov $id,%eax; ...` (4c 8b d1 b8 <id32>), and the id is the
 * index the dispatcher uses into ntdll.so's array. So the ids say exactly
 * which array slot Windows code reaches for each call, and how long the
 * array is — where a search for a run of code pointers can start early
 * (Wine 10.0: 16 foreign entries before the real array). The DLL is not
 * mapped yet when ntdll.so is dlopen()ed, so it is read from disk, next to
 * ntdll.so: <wine>/x86_64-unix/ntdll.so ↔ <wine>/x86_64-windows/ntdll.dll.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common/pe.h"
#include "shim.h"

struct pe_file { const uint8_t *p; size_t n; wm_pe pe; };

static bool in_file(const struct pe_file *f, uint64_t off, uint64_t len)
{
    return off <= f->n && len <= f->n - off;
}

static uint32_t u32(const uint8_t *p) { return wm_le32(p); }
static uint16_t u16(const uint8_t *p) { return (uint16_t)wm_le16(p); }

/* File offset of an RVA through the section table; (uint64_t)-1 if none. */
static uint64_t rva_off(const struct pe_file *f, uint32_t rva)
{
    for (int i = 0; f->pe.sections && i < f->pe.nsections; i++) {
        const uint8_t *s = f->pe.sections + 40 * i;
        uint32_t va = u32(s + 12), vsz = u32(s + 8), raw = u32(s + 16), ptr = u32(s + 20);
        uint32_t sz = vsz > raw ? raw : vsz;
        if (rva >= va && rva - va < sz)
            return (uint64_t)ptr + (rva - va);
    }
    return (uint64_t)-1;
}

/* The id of the stub at an RVA, or -1 when it is not a system-call stub. */
static int stub_id(const struct pe_file *f, uint32_t rva)
{
    static const uint8_t head[4] = { 0x4c, 0x8b, 0xd1, 0xb8 };
    uint64_t off = rva_off(f, rva);
    if (off == (uint64_t)-1 || !in_file(f, off, 8) || memcmp(f->p + off, head, 4))
        return -1;
    uint32_t id = u32(f->p + off + 4);
    return id < 0x1000 ? (int)id : -1;   /* table 0 (ntdll) only */
}

static int scan(struct pe_file *f, const char *const names[], int n, int ids[])
{
    const uint8_t *p = f->p;
    uint32_t exp_rva, exp_size;
    if (!wm_pe_read(p, f->n, &f->pe) || f->pe.magic != WM_PE32PLUS ||
        !wm_pe_dir(&f->pe, WM_PE_DIR_EXPORT, &exp_rva, &exp_size))
        return -1;
    uint64_t e = rva_off(f, exp_rva);
    if (e == (uint64_t)-1 || !in_file(f, e, 40))
        return -1;
    uint32_t nnames = u32(p + e + 24);
    uint64_t funcs = rva_off(f, u32(p + e + 28)), nm = rva_off(f, u32(p + e + 32)),
             ords = rva_off(f, u32(p + e + 36));
    uint32_t nfuncs = u32(p + e + 20);
    if (funcs == (uint64_t)-1 || nm == (uint64_t)-1 || ords == (uint64_t)-1 ||
        !in_file(f, funcs, 4ULL * nfuncs) || !in_file(f, nm, 4ULL * nnames) || !in_file(f, ords, 2ULL * nnames))
        return -1;
    for (int i = 0; i < n; i++)
        ids[i] = -1;
    int top = -1;
    for (uint32_t k = 0; k < nnames; k++) {
        uint16_t ord = u16(p + ords + 2 * k);
        if (ord >= nfuncs)
            continue;
        int id = stub_id(f, u32(p + funcs + 4ULL * ord));
        if (id < 0)
            continue;
        top = id > top ? id : top;
        uint64_t so = rva_off(f, u32(p + nm + 4ULL * k));
        if (so == (uint64_t)-1)
            continue;
        for (int i = 0; i < n; i++) {
            size_t len = strlen(names[i]);
            if (in_file(f, so, len + 1) && !memcmp(p + so, names[i], len + 1))
                ids[i] = id;
        }
    }
    return top + 1;
}

int wm_wine_syscall_ids(const char *so_path, const char *const names[], int n, int ids[])
{
    char path[512];
    const char *slash = strrchr(so_path, '/');
    size_t dir = slash ? (size_t)(slash - so_path) : 0;
    /* <wine>/x86_64-unix → <wine>/x86_64-windows */
    static const char unix_dir[] = "x86_64-unix", win[] = "x86_64-windows/ntdll.dll";
    size_t ul = sizeof unix_dir - 1;
    if (dir < ul || memcmp(so_path + dir - ul, unix_dir, ul) || dir - ul + sizeof win > sizeof path)
        return -1;
    memcpy(path, so_path, dir - ul);
    memcpy(path + dir - ul, win, sizeof win);
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    int r = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < (64 << 20)) {
        void *m = (void *)syscall(SYS_mmap, NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            struct pe_file f = { m, (size_t)st.st_size, { 0 } };
            r = scan(&f, names, n, ids);
            syscall(SYS_munmap, m, (size_t)st.st_size);
        }
    }
    syscall(SYS_close, fd);
    return r;
}
