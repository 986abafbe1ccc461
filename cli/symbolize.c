/*
 * cli/symbolize.c — per-module sorted symbol tables; see symbolize.h.
 */
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/pe.h"
#include "files.h"
#include "symbolize.h"
#include "table.h"

typedef struct sym_ent {
    uint64_t start, size;
    uint32_t name;      /* offset into the table's string arena */
    uint8_t strength;   /* to keep the best of several names at one address */
} sym_ent;

struct sym_table {
    struct sym_table *next;   /* cache list */
    char *key;                /* build id in hex, or "path:" + path */
    sym_ent *ents;
    size_t n, cap;
    char *strs;
    size_t strs_len, strs_cap;
    uint64_t min_vaddr;
    uint64_t image_base;      /* PE: the optional header's ImageBase */
    char error[160];
    char *fkey;               /* the file loaded: kind, device, inode (NULL: none) */
    uint8_t fbid[32];         /* ELF: the file's own build id, fbid_len bytes */
    size_t fbid_len;
    /* ELF: kept open for source lines, asked only for the few frames shown */
    Dwfl *dwfl;
    Dwfl_Module *mod;
    GElf_Addr bias;
};

/* Module files loaded per cache (per trace). A real process maps a few
 * hundred; a crafted trace can name the same file under 100,000 build ids
 * or spellings, and each load of a libc costs ~25 ms and its memory. */
#define SYM_MAX_FILES 512

struct sym_cache {
    sym_table *tables;
    size_t ntables;
};

sym_cache *sym_cache_new(void)
{
    /* Debug info must never come over the network: libdwfl would ask a
     * debuginfod server for every module without a local debug file. */
    unsetenv("DEBUGINFOD_URLS");
    return calloc(1, sizeof(sym_cache));
}

void sym_cache_free(sym_cache *c)
{
    if (!c)
        return;
    for (sym_table *t = c->tables, *nx; t; t = nx) {
        nx = t->next;
        if (t->dwfl)
            dwfl_end(t->dwfl);
        free(t->key);
        free(t->fkey);
        free(t->ents);
        free(t->strs);
        free(t);
    }
    free(c);
}

static void add_sym(sym_table *t, uint64_t start, uint64_t size, const char *name, int strength)
{
    if (!name || !*name)
        return;
    /* "__libc_start_main@@GLIBC_2.34": the version is noise in a stack */
    const char *at = strchr(name, '@');
    size_t len = (at && at != name ? (size_t)(at - name) : strlen(name)) + 1;
    if (t->strs_len + len > t->strs_cap) {
        size_t cap = t->strs_cap ? t->strs_cap * 2 : 4096;
        while (cap < t->strs_len + len)
            cap *= 2;
        char *s = realloc(t->strs, cap);
        if (!s)
            return;
        t->strs = s, t->strs_cap = cap;
    }
    if (!TABLE_GROW(t->ents, t->cap, t->n + 1, 256))
        return;
    memcpy(t->strs + t->strs_len, name, len - 1);
    t->strs[t->strs_len + len - 1] = 0;
    t->ents[t->n++] = (sym_ent){ start, size, (uint32_t)t->strs_len, (uint8_t)strength };
    t->strs_len += len;
}

static int ent_cmp(const void *a, const void *b)
{
    const sym_ent *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    /* Best first among equal addresses: sized, then stronger binding. */
    if ((x->size != 0) != (y->size != 0))
        return x->size ? -1 : 1;
    return (int)y->strength - (int)x->strength;
}

/* Sorts and keeps one entry per address, so lookup is one binary search. */
static void finish(sym_table *t)
{
    if (t->n == 0)
        return;
    qsort(t->ents, t->n, sizeof *t->ents, ent_cmp);
    size_t w = 1;
    for (size_t r = 1; r < t->n; r++)
        if (t->ents[r].start != t->ents[w - 1].start)
            t->ents[w++] = t->ents[r];
    t->n = w;
}

/* ---- ELF, through libdwfl ---- */

static int strength_of(const GElf_Sym *s)
{
    switch (GELF_ST_BIND(s->st_info)) {
    case STB_GLOBAL: return 3;
    case STB_WEAK:   return 2;
    default:         return 1;
    }
}

static void load_elf(sym_table *t, const char *path, const uint8_t *bid, size_t bid_len)
{
    /* Only the system's debug tree: libdwfl's default also looks beside the
     * module and in its .debug/ for the .gnu_debuglink name, and opens what
     * it finds there with a plain open(), so a trace naming a file whose
     * debug link is a FIFO next to it would block the reader for ever. */
    static char *debuginfo_path = "/usr/lib/debug";
    static const Dwfl_Callbacks cb = {
        .find_elf = dwfl_build_id_find_elf,
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .section_address = dwfl_offline_section_address,
        .debuginfo_path = &debuginfo_path,
    };
    Dwfl *d = dwfl_begin(&cb);
    if (!d) {
        snprintf(t->error, sizeof t->error, "libdwfl: %s", dwfl_errmsg(-1));
        return;
    }
    /* The path comes from a trace: only a regular file is opened, and
     * libdwfl gets the descriptor (it takes it over) rather than the name. */
    struct stat st;
    int fd = file_open_regular(path, true, &st, t->error, sizeof t->error);
    if (fd < 0) {
        dwfl_end(d);
        return;
    }
    Dwfl_Module *m = dwfl_report_offline(d, path, path, fd);
    dwfl_report_end(d, NULL, NULL);
    if (!m) {
        snprintf(t->error, sizeof t->error, "%s: %s", path, dwfl_errmsg(-1));
        dwfl_end(d);
        return;
    }
    const unsigned char *fbid;
    GElf_Addr vaddr;
    int fl = dwfl_module_build_id(m, &fbid, &vaddr);
    if (fl > 0 && (size_t)fl <= sizeof t->fbid)
        memcpy(t->fbid, fbid, (size_t)fl), t->fbid_len = (size_t)fl;
    if (bid && bid_len && fl > 0 && ((size_t)fl != bid_len || memcmp(fbid, bid, bid_len))) {
        snprintf(t->error, sizeof t->error, "%s changed since the trace (other build id)", path);
        dwfl_end(d);
        return;
    }
    GElf_Addr bias = 0;
    Elf *e = dwfl_module_getelf(m, &bias);
    if (e) {
        size_t np = 0;
        uint64_t lo = UINT64_MAX;
        if (elf_getphdrnum(e, &np) == 0)
            for (size_t i = 0; i < np; i++) {
                GElf_Phdr ph;
                if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < lo)
                    lo = ph.p_vaddr;
            }
        t->min_vaddr = lo == UINT64_MAX ? 0 : lo & ~(uint64_t)0xfff;
    }
    int n = dwfl_module_getsymtab(m);
    for (int i = 1; i < n; i++) {
        GElf_Sym s;
        GElf_Addr a;
        const char *name = dwfl_module_getsym_info(m, i, &s, &a, NULL, NULL, NULL);
        int type = GELF_ST_TYPE(s.st_info);
        if (!name || s.st_shndx == SHN_UNDEF || (type != STT_FUNC && type != STT_GNU_IFUNC))
            continue;
        add_sym(t, a - bias, s.st_size, name, strength_of(&s));
    }
    if (n <= 0 && !t->error[0])
        snprintf(t->error, sizeof t->error, "%s: no symbol table", path);
    t->dwfl = d, t->mod = m, t->bias = bias;
}

/* ---- PE: export table + COFF symbols, with every read bounds-checked ---- */

typedef struct pe_file {
    const uint8_t *b;
    size_t len;
    const uint8_t *sects;
    int nsect;
} pe_file;

static const uint8_t *pe_at(const pe_file *f, uint64_t off, size_t need)
{
    return off <= f->len && need <= f->len - off ? f->b + off : NULL;
}

/* File offset of an RVA, or UINT64_MAX. */
static uint64_t pe_rva(const pe_file *f, uint32_t rva)
{
    for (int i = 0; i < f->nsect; i++) {
        const uint8_t *s = f->sects + 40 * i;
        uint32_t va = wm_le32(s + 12), vsz = wm_le32(s + 8), raw = wm_le32(s + 16), rawsz = wm_le32(s + 20);
        uint32_t span = vsz > rawsz ? vsz : rawsz;
        if (rva >= va && rva - va < span)
            return rva - va < rawsz ? (uint64_t)raw + (rva - va) : UINT64_MAX;
    }
    return UINT64_MAX;
}

static const char *pe_str(const pe_file *f, uint32_t rva)
{
    uint64_t off = pe_rva(f, rva);
    if (off >= f->len)
        return NULL;
    const char *s = (const char *)f->b + off;
    return memchr(s, 0, f->len - off) ? s : NULL;
}

static void pe_exports(sym_table *t, const pe_file *f, uint32_t dir_rva, uint32_t dir_size)
{
    const uint8_t *d = pe_at(f, pe_rva(f, dir_rva), 40);
    if (!d)
        return;
    uint32_t nfunc = wm_le32(d + 20), nname = wm_le32(d + 24);
    uint64_t funcs = pe_rva(f, wm_le32(d + 28)), names = pe_rva(f, wm_le32(d + 32)), ords = pe_rva(f, wm_le32(d + 36));
    if (!pe_at(f, funcs, (size_t)nfunc * 4) || !pe_at(f, names, (size_t)nname * 4) ||
        !pe_at(f, ords, (size_t)nname * 2))
        return;
    for (uint32_t i = 0; i < nname; i++) {
        uint32_t ord = wm_le16(f->b + ords + 2 * i);
        if (ord >= nfunc)
            continue;
        uint32_t rva = wm_le32(f->b + funcs + 4 * ord);
        if (rva >= dir_rva && rva - dir_rva < dir_size)
            continue;   /* a forwarder ("NTDLL.RtlFoo"), not code here */
        add_sym(t, rva, 0, pe_str(f, wm_le32(f->b + names + 4 * i)), 2);
    }
}

/* mingw's -g builds keep a COFF symbol table with every function, static
 * ones included: the "debug information" a PE frame can be named from. */
static void pe_coff_symbols(sym_table *t, const pe_file *f, uint32_t symoff, uint32_t nsyms)
{
    const uint8_t *syms = pe_at(f, symoff, (size_t)nsyms * 18);
    if (!syms || nsyms == 0)
        return;
    const uint8_t *strtab = pe_at(f, (uint64_t)symoff + (uint64_t)nsyms * 18, 4);
    uint32_t strsz = strtab ? wm_le32(strtab) : 0;
    if (strtab && !pe_at(f, (uint64_t)symoff + (uint64_t)nsyms * 18, strsz))
        strsz = 0;
    for (uint32_t i = 0; i < nsyms; i++) {
        const uint8_t *s = syms + 18 * i;
        int sect = (int16_t)wm_le16(s + 12), type = wm_le16(s + 14), cls = s[16], naux = s[17];
        if ((type >> 4) == 2 && (cls == 2 || cls == 3) && sect > 0 && sect <= f->nsect) {
            char shortname[9];
            const char *name = shortname;
            if (wm_le32(s) == 0) {
                uint32_t o = wm_le32(s + 4);
                name = (strsz && o < strsz && memchr(strtab + o, 0, strsz - o)) ? (const char *)strtab + o : NULL;
            } else {
                memcpy(shortname, s, 8);
                shortname[8] = 0;
            }
            uint32_t va = wm_le32(f->sects + 40 * (sect - 1) + 12);
            add_sym(t, (uint64_t)va + wm_le32(s + 8), 0, name, cls == 2 ? 3 : 1);
        }
        i += naux;
    }
}

static void load_pe(sym_table *t, const char *path)
{
    struct stat st;
    int fd = file_open_regular(path, true, &st, t->error, sizeof t->error);   /* named by a trace */
    if (fd < 0)
        return;
    if (st.st_size < 64) {
        snprintf(t->error, sizeof t->error, "%s: too short for PE", path);
        close(fd);
        return;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(t->error, sizeof t->error, "%s: %s", path, strerror(errno));
        return;
    }
    pe_file f = { map, (size_t)st.st_size, NULL, 0 };
    wm_pe pe;
    uint32_t rva, size;
    if (!wm_pe_read(f.b, f.len, &pe)) {
        snprintf(t->error, sizeof t->error, "%s: not a PE file", path);
        goto out;
    }
    if (!pe.sections) {
        snprintf(t->error, sizeof t->error, "%s: damaged PE headers", path);
        goto out;
    }
    f.sects = pe.sections;
    f.nsect = pe.nsections;
    t->image_base = pe.image_base;
    if (wm_pe_dir(&pe, WM_PE_DIR_EXPORT, &rva, &size))
        pe_exports(t, &f, rva, size);
    pe_coff_symbols(t, &f, pe.symoff, pe.nsyms);
    if (t->n == 0)
        snprintf(t->error, sizeof t->error, "%s: no exports or symbols", path);
out:
    munmap(map, (size_t)st.st_size);
}

/* ---- cache ---- */

static char *make_key(enum sym_kind kind, const char *path, const uint8_t *bid, size_t bid_len)
{
    if (bid && bid_len) {
        char *k = malloc(bid_len * 2 + 4);
        if (!k)
            return NULL;
        char *p = k + sprintf(k, "%c:", kind == SYM_PE ? 'P' : 'E');
        for (size_t i = 0; i < bid_len; i++)
            p += sprintf(p, "%02x", bid[i]);
        return k;
    }
    size_t n = strlen(path) + 3;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%c:%s", kind == SYM_PE ? 'p' : 'e', path);
    return k;
}

static sym_table *find(sym_cache *c, const char *key)
{
    for (sym_table *t = c->tables; t; t = t->next)
        if (!strcmp(t->key, key))
            return t;
    return NULL;
}

/* The file a path names, as "kind@device:inode", or false: two spellings
 * of one path (or two build ids a trace claims for it) load it once. */
static bool file_key(enum sym_kind kind, const char *path, char *out, size_t len)
{
    char real[PATH_MAX];
    struct stat st;
    if (!path || !*path || !realpath(path, real) || stat(real, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    snprintf(out, len, "%c@%llx:%llx", kind == SYM_PE ? 'p' : 'e', (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    return true;
}

static sym_table *find_file(sym_cache *c, const char *fkey, const uint8_t *bid, size_t bid_len)
{
    for (sym_table *t = c->tables; t; t = t->next)
        if (t->fkey && !strcmp(t->fkey, fkey) &&
            (!bid_len || !t->fbid_len || (bid_len == t->fbid_len && !memcmp(bid, t->fbid, bid_len))))
            return t;
    return NULL;
}

static sym_table *insert(sym_cache *c, char *key)
{
    sym_table *t = calloc(1, sizeof *t);
    if (!t) {
        free(key);
        return NULL;
    }
    t->key = key;
    t->next = c->tables;
    c->tables = t;
    return t;
}

sym_table *sym_table_get(sym_cache *c, enum sym_kind kind, const char *path,
                         const uint8_t *build_id, size_t build_id_len)
{
    static sym_table empty = { .error = "out of memory" };
    char *key = make_key(kind, path ? path : "", build_id, build_id_len);
    if (!key)
        return &empty;
    static sym_table too_many = { .error = "more than 512 module files in one trace: the rest are not named" };
    sym_table *t = find(c, key);
    if (t) {
        free(key);
        return t;
    }
    char fkey[64];
    bool known = file_key(kind, path, fkey, sizeof fkey);
    if (known && (t = find_file(c, fkey, build_id, build_id_len))) {
        free(key);
        return t;
    }
    if (c->ntables >= SYM_MAX_FILES) {
        free(key);
        return &too_many;
    }
    if (!(t = insert(c, key)))
        return &empty;
    c->ntables++;
    t->fkey = known ? strdup(fkey) : NULL;
    if (!path || !*path)
        snprintf(t->error, sizeof t->error, "module without a file name");
    else if (kind == SYM_PE)
        load_pe(t, path);
    else
        load_elf(t, path, build_id, build_id_len);
    finish(t);
    return t;
}

sym_table *sym_table_from_ranges(sym_cache *c, const char *key, const sym_range *r, size_t n)
{
    char *k = strdup(key);
    sym_table *t = k ? insert(c, k) : NULL;
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++)
        add_sym(t, r[i].start, r[i].size, r[i].name, 3);
    finish(t);
    return t;
}

const char *sym_table_lookup(const sym_table *t, uint64_t addr, uint64_t *offset)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {   /* first entry with start > addr */
        size_t mid = lo + (hi - lo) / 2;
        if (t->ents[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const sym_ent *e = &t->ents[lo - 1];
    if (e->size && addr - e->start >= e->size)
        return NULL;   /* in a gap between functions: better no name than a wrong one */
    if (offset)
        *offset = addr - e->start;
    return t->strs + e->name;
}

const char *sym_table_source(const sym_table *t, uint64_t addr, int *line)
{
    if (!t->mod)
        return NULL;
    /* The first line lookup in a module reads its .debug_line (tens of ms
     * for libc): fine for the frames a report shows, never per call. */
    Dwfl_Line *l = dwfl_module_getsrc(t->mod, addr + t->bias);
    int ln = 0;
    const char *file = l ? dwfl_lineinfo(l, NULL, &ln, NULL, NULL, NULL) : NULL;
    if (!file || ln <= 0)
        return NULL;
    *line = ln;
    const char *b = strrchr(file, '/');
    return b ? b + 1 : file;
}

uint64_t sym_table_min_vaddr(const sym_table *t) { return t->min_vaddr; }
uint64_t sym_table_image_base(const sym_table *t) { return t->image_base; }
size_t sym_table_count(const sym_table *t) { return t->n; }
const char *sym_table_error(const sym_table *t) { return t->error[0] ? t->error : NULL; }
