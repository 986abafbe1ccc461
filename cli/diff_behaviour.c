/*
 * cli/diff_behaviour.c — a trace's calls grouped into behaviours for
 * `winmem diff` (the default model, see diff.h).
 *
 * A behaviour is (call site, API, request): the site is the stack with each
 * frame named by module and function (offsets inside a function dropped, so
 * a rebuilt program keeps its sites; module+offset where no symbol is
 * known); the request is what the caller asked for — protection, allocation
 * or free type, query class, and whether the address it names lies in an
 * allocation the trace saw made, in an image, or elsewhere. Sizes are not
 * part of the key: they are summed per behaviour, since a heap that grows
 * by timing asks for different sizes every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "winmem/memory.h"
#include "calls.h"
#include "diff.h"
#include "maps.h"

/* ---- sites ---- */

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static uint64_t name_hash(const char *name)
{
    return fnv(name, strlen(name), 14695981039346656037ULL);
}

static uint64_t site_hash_of(const void *ctx, size_t i)
{
    return name_hash(((const diff_sites *)ctx)->name[i]);
}

static uint32_t site_intern(diff_sites *d, const char *name)
{
    if (!hindex_room(&d->index, d->n, site_hash_of, d))
        return UINT32_MAX;
    size_t j = hindex_start(&d->index, name_hash(name));
    for (; d->index.slot[j]; j = hindex_next(&d->index, j))
        if (!strcmp(d->name[d->index.slot[j] - 1], name))
            return d->index.slot[j] - 1;
    if (!TABLE_GROW(d->name, d->cap, d->n + 1, 256) || !(d->name[d->n] = strdup(name)))
        return UINT32_MAX;
    d->index.slot[j] = (uint32_t)d->n + 1;
    return (uint32_t)d->n++;
}

void diff_sites_free(diff_sites *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->name[i]);
    free(d->name);
    hindex_free(&d->index);
}

const char *diff_site_name(const opts *o, uint32_t site)
{
    return site < o->sites->n ? o->sites->name[site] : "";
}

/* A frame is trusted when it lies in a module the trace knows, past that
 * module's headers (a "return address" at kernel32.dll+0x0 is a value the
 * unwinder read from the wrong slot). Frame #0 is where the call was made. */
static bool frame_known(tr_trace *t, const struct wmt_frame *f)
{
    const tr_module *m = tr_module_by_id(t, f->module);
    return m && (m->rec->kind != WMT_MOD_PE || f->addr >= 0x1000);
}

int diff_good_frames(tr_trace *t, const struct wmt_stack *st)
{
    int n = 0;
    while (n < st->nframes && (n == 0 || frame_known(t, &tr_frames(st)[n])))
        n++;
    return n;
}

static uint32_t site_of_stack(side *s, const opts *o, uint32_t id)
{
    if (!s->scap) {
        size_t cap = 1024;
        while (cap < s->t.nstacks * 2)
            cap *= 2;
        s->stk_id = calloc(cap, sizeof *s->stk_id);
        s->stk_site = calloc(cap, sizeof *s->stk_site);
        if (!s->stk_id || !s->stk_site)
            return UINT32_MAX;
        s->scap = cap;
    }
    size_t j = (id * 2654435761u) & (s->scap - 1);
    for (size_t probes = 0; s->stk_id[j] && probes < s->scap; probes++, j = (j + 1) & (s->scap - 1))
        if (s->stk_id[j] == id)
            return s->stk_site[j];
    char buf[4096], name[512];
    size_t len = 0;
    buf[0] = 0;
    const struct wmt_stack *st = id ? tr_stack(&s->t, id) : NULL;
    int n = st ? diff_good_frames(&s->t, st) : 0;
    for (int i = 0; i < n; i++) {
        const struct wmt_frame *f = &tr_frames(st)[i];
        if (!frame_known(&s->t, f))
            snprintf(name, sizeof name, "?");
        else
            tr_frame_name(&s->t, f, name, sizeof name);
        char *bang = strchr(name, '!'), *plus = bang ? strstr(bang, "+0x") : NULL;
        if (plus)
            *plus = 0;   /* the function, not the offset in it */
        int w = snprintf(buf + len, sizeof buf - len, "%s%s", i ? ";" : "", name);
        if (w < 0 || (size_t)w >= sizeof buf - len)
            break;
        len += (size_t)w;
    }
    uint32_t site = site_intern(o->sites, buf);
    if (site != UINT32_MAX && !s->stk_id[j]) {
        s->stk_id[j] = id ? id : UINT32_MAX;   /* id 0 (no stack) cached too */
        s->stk_site[j] = site;
    }
    return site;
}

/* ---- keys ---- */

/* Which argument slots hold the address, protection, type and class, and
 * which slot or output holds the bytes an allocating call got. */
typedef struct slots { int8_t addr, prot, type, cls, size_arg, size_out; } slots;

/* A table, one line per API (its many cases are not branching logic). */
static slots api_slots(unsigned api)
{
    slots z = { -1, -1, -1, -1, -1, -1 };
    switch (api) {
    case WMT_API_NtQueryVirtualMemory: case WMT_API_ZwQueryVirtualMemory:
    case WMT_API_QueryVirtualMemoryInformation:
        z.addr = 1, z.cls = 2; break;
    case WMT_API_NtAllocateVirtualMemory: z.addr = 1, z.type = 4, z.prot = 5, z.size_out = 1; break;
    case WMT_API_NtAllocateVirtualMemoryEx: z.addr = 1, z.type = 3, z.prot = 4, z.size_out = 1; break;
    case WMT_API_NtFreeVirtualMemory: z.addr = 1, z.type = 3; break;
    case WMT_API_NtProtectVirtualMemory: z.addr = 1, z.prot = 3; break;
    case WMT_API_NtMapViewOfSection: z.addr = 2, z.type = 8, z.prot = 9, z.size_out = 1; break;
    case WMT_API_NtMapViewOfSectionEx: z.addr = 2, z.type = 5, z.prot = 6, z.size_out = 1; break;
    case WMT_API_NtUnmapViewOfSection: case WMT_API_NtUnmapViewOfSectionEx:
    case WMT_API_NtReadVirtualMemory: case WMT_API_NtWriteVirtualMemory:
    case WMT_API_NtLockVirtualMemory: case WMT_API_NtUnlockVirtualMemory:
    case WMT_API_NtFlushVirtualMemory: case WMT_API_VirtualQueryEx:
        z.addr = 1; break;
    case WMT_API_VirtualQuery: case WMT_API_VirtualLock: case WMT_API_VirtualUnlock:
    case WMT_API_MapUserPhysicalPages: case WMT_API_munmap:
        z.addr = 0; break;
    case WMT_API_VirtualAlloc: z.addr = 0, z.type = 2, z.prot = 3, z.size_arg = 1; break;
    case WMT_API_VirtualAllocEx: z.addr = 1, z.type = 3, z.prot = 4, z.size_arg = 2; break;
    case WMT_API_VirtualFree: z.addr = 0, z.type = 2; break;
    case WMT_API_VirtualFreeEx: z.addr = 1, z.type = 3; break;
    case WMT_API_VirtualProtect: z.addr = 0, z.prot = 2; break;
    case WMT_API_VirtualProtectEx: z.addr = 1, z.prot = 3; break;
    case WMT_API_mmap: z.addr = 0, z.prot = 2, z.type = 3, z.size_arg = 1; break;
    case WMT_API_mprotect: z.addr = 0, z.prot = 2; break;
    case WMT_API_mremap: z.addr = 0, z.type = 3, z.size_arg = 2; break;
    case WMT_API_madvise: z.addr = 0, z.type = 2; break;
    }
    return z;
}

static uint8_t addr_class(side *s, uint64_t a)
{
    if (!a)
        return AC_NONE;
    if (diff_alloc_at(s, a))
        return AC_OWN;
    for (size_t i = 0; i < s->t.nmods; i++)
        if (a >= s->t.mods[i].rec->start && a < s->t.mods[i].rec->end)
            return AC_IMAGE;
    return AC_OTHER;
}

static bool key_eq(const bkey *a, const bkey *b)
{
    return a->site == b->site && a->api == b->api && a->aclass == b->aclass && a->remote == b->remote &&
           a->prot == b->prot && a->type == b->type && a->cls == b->cls;
}

static uint64_t key_hash(const bkey *k)
{
    uint64_t h = 14695981039346656037ULL;
    uint64_t v[4] = { k->site | (uint64_t)k->api << 32 | (uint64_t)k->aclass << 48 | (uint64_t)k->remote << 56,
                      k->prot, k->type, k->cls };
    for (int i = 0; i < 4; i++)
        h = (h ^ v[i]) * 1099511628211ULL, h ^= h >> 29;
    return h;
}

static uint64_t beh_hash_of(const void *ctx, size_t i)
{
    return key_hash(&((const side *)ctx)->beh[i].k);
}

static uint32_t beh_find(side *s, const bkey *k)
{
    if (!hindex_room(&s->bindex, s->nbeh, beh_hash_of, s))
        return UINT32_MAX;
    size_t j = hindex_start(&s->bindex, key_hash(k));
    for (; s->bindex.slot[j]; j = hindex_next(&s->bindex, j))
        if (key_eq(&s->beh[s->bindex.slot[j] - 1].k, k))
            return s->bindex.slot[j] - 1;
    if (!TABLE_GROW(s->beh, s->behcap, s->nbeh + 1, 256))
        return UINT32_MAX;
    memset(&s->beh[s->nbeh], 0, sizeof *s->beh);
    s->beh[s->nbeh].k = *k;
    s->bindex.slot[j] = (uint32_t)s->nbeh + 1;
    return (uint32_t)s->nbeh++;
}

static bool ignored(const opts *o, const char *a, const char *b)
{
    for (int i = 0; i < o->n_ignore_field; i++)
        if (!strcasecmp(o->ignore_field[i], a) || (b && !strcasecmp(o->ignore_field[i], b)))
            return true;
    return false;
}

uint32_t beh_add(side *s, const struct wmt_call *c, const opts *o)
{
    slots z = api_slots(c->api);
    if (o->n_ignore_field) {   /* --ignore-field: that part of the request is not compared */
        if (ignored(o, "protect", "prot"))
            z.prot = -1;
        if (ignored(o, "type", "flags"))
            z.type = -1;
        if (ignored(o, "class", NULL))
            z.cls = -1;
        if (ignored(o, "address", "base"))
            z.addr = -1;
    }
    bkey k;
    memset(&k, 0, sizeof k);
    k.site = site_of_stack(s, o, c->stack);
    k.api = c->api;
    k.remote = (c->flags & WMT_CF_REMOTE) != 0;
    if (z.addr >= 0)
        k.aclass = o->strict ? (uint8_t)(c->arg[z.addr] != 0) : addr_class(s, c->arg[z.addr]);
    if (z.prot >= 0)
        k.prot = (uint32_t)c->arg[z.prot];
    if (z.type >= 0)
        k.type = (uint32_t)c->arg[z.type];
    if (z.cls >= 0)
        k.cls = (uint32_t)c->arg[z.cls];
    if (k.site == UINT32_MAX)
        return UINT32_MAX;
    uint32_t i = beh_find(s, &k);
    if (i == UINT32_MAX)
        return i;
    beh *b = &s->beh[i];
    b->n++;
    if (!b->first)
        b->first = c;
    if (c->flags & WMT_CF_PENDING)
        return i;
    if (call_failed(c)) {
        uint32_t code = call_code(c);
        int f = 0;
        while (f < b->nfail && b->fail_code[f] != code)
            f++;
        if (f == b->nfail && f < BEH_FAILS)
            b->fail_code[b->nfail++] = code;
        if (f < BEH_FAILS)
            b->fail_n[f]++;
    } else if (z.size_out >= 0) {
        b->bytes += c->out[z.size_out];
    } else if (z.size_arg >= 0) {
        b->bytes += c->arg[z.size_arg];
    }
    return i;
}

void beh_finish(side *s)
{
    for (size_t i = 0; i < s->nal; i++)
        if (s->al[i].beh < s->nbeh) {
            s->beh[s->al[i].beh].live_n++;
            s->beh[s->al[i].beh].live_bytes += s->al[i].size;
        }
}

/* ---- names ---- */

static void type_name(uint32_t t, unsigned api, char *buf, size_t len)
{
    static const struct { uint32_t v; const char *n; } f[] = {
        { MEM_COMMIT, "MEM_COMMIT" }, { MEM_RESERVE, "MEM_RESERVE" }, { MEM_RELEASE, "MEM_RELEASE" },
        { MEM_RESET, "MEM_RESET" }, { MEM_TOP_DOWN, "MEM_TOP_DOWN" }, { MEM_WRITE_WATCH, "MEM_WRITE_WATCH" },
        { MEM_PHYSICAL, "MEM_PHYSICAL" }, { MEM_LARGE_PAGES, "MEM_LARGE_PAGES" },
    };
    if (call_is_unix(api)) {
        snprintf(buf, len, "0x%x", t);
        return;
    }
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (t & f[i].v) {
            n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "|" : "", f[i].n);
            t &= ~f[i].v;
        }
    if (t & MEM_DECOMMIT) {   /* shares its bit with MEM_REPLACE_PLACEHOLDER */
        bool freeing = api == WMT_API_NtFreeVirtualMemory || api == WMT_API_VirtualFree || api == WMT_API_VirtualFreeEx;
        n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "|" : "",
                              freeing ? "MEM_DECOMMIT" : "MEM_REPLACE_PLACEHOLDER");
        t &= ~MEM_DECOMMIT;
    }
    if (t || !n)
        snprintf(buf + n, n < len ? len - n : 0, "%s0x%x", n ? "|" : "", t);
}

void beh_request(const bkey *k, char *buf, size_t len)
{
    static const char *const ac[] = { "none", "own", "image", "other" };
    slots z = api_slots(k->api);
    size_t n = 0;
    char v[160];
    buf[0] = 0;
#define ADD(...) do { int w_ = snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__); if (w_ > 0) n += (size_t)w_; } while (0)
    if (z.prot >= 0) {
        const char *pn = call_is_unix(k->api) ? NULL : wm_protect_name(k->prot);
        if (pn && *pn && strcmp(pn, "0"))
            ADD("protect=%s", pn);
        else
            ADD("protect=0x%x", k->prot);
    }
    if (z.type >= 0) {
        type_name(k->type, k->api, v, sizeof v);
        ADD("%stype=%s", n ? " " : "", v);
    }
    if (z.cls >= 0)
        ADD("%sclass=%u", n ? " " : "", k->cls);
    if (z.addr >= 0)
        ADD("%saddress=%s", n ? " " : "", ac[k->aclass & 3]);
    if (k->remote)
        ADD("%sprocess=other", n ? " " : "");
#undef ADD
    if (n >= len && len)
        buf[len - 1] = 0;
}

/* A normalized frame ("msvcrt.dll!malloc", "libc.so.6+0x1a30") in a module
 * that is not the program's: the same rule the report names sites by. */
static bool system_module(const char *f)
{
    char mod[256];
    size_t l = strcspn(f, "!+;");
    if (l >= sizeof mod)
        return false;
    memcpy(mod, f, l);
    mod[l] = 0;
    size_t n = strlen(mod);
    bool pe = n > 4 && (!strcasecmp(mod + n - 4, ".dll") || !strcasecmp(mod + n - 4, ".exe") ||
                        !strcasecmp(mod + n - 4, ".drv") || !strcasecmp(mod + n - 4, ".sys"));
    return call_module_is_system(mod, pe);
}

void beh_site_short(const opts *o, uint32_t site, char *buf, size_t len)
{
    const char *p = diff_site_name(o, site);
    snprintf(buf, len, "(no stack)");
    const char *first = NULL;
    while (*p) {
        const char *e = strchr(p, ';');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (!first)
            first = p;
        if (!system_module(p)) {
            snprintf(buf, len, "%.*s", (int)l, p);
            return;
        }
        p += l + (e ? 1 : 0);
    }
    if (first) {
        const char *e = strchr(first, ';');
        snprintf(buf, len, "%.*s", (int)(e ? e - first : (long)strlen(first)), first);
    }
}
