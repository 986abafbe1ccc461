/*
 * cli/report_sites.c — call sites: which function of the program asked, and
 * under which name it asked.
 *
 * A site is the first frame (innermost) in the program's own code: frames
 * in Wine's DLLs (anything Wine maps from system32), ntdll, the C runtime
 * (DLLs and the start-up code mingw links into every .exe), libc and the
 * shim are folded away. Stacks are merged by that frame's function, so
 * `main+0xf6` and `main+0x141` are one site. A stack with no own frame
 * belongs to Wine or the runtime on its own and is named by its outermost
 * frame (e.g. ntdll.dll!LdrInitializeThunk).
 *
 * The name the program called is read from the same stack: the outermost
 * frame inside the system DLLs whose function is a known Win32 entry point
 * (kernelbase!VirtualAlloc, kernelbase!MapViewOfFile, ntdll!RtlAllocateHeap
 * = HeapAlloc growth...). With none, the Nt call itself is what was called.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "calls.h"
#include "report_stats.h"
#include "srcline.h"

/* Start-up and runtime code the toolchain links into the program itself. */
static const char *const crt_funcs[] = {
    "__tmainCRTStartup", "mainCRTStartup", "WinMainCRTStartup", "wWinMainCRTStartup", "_pei386_runtime_relocator",
    "__main", "__do_global_ctors", "_start", "__libc_start_main", "__libc_start_call_main", "pre_c_init", "pre_cpp_init",
    "__dyn_tls_init", "__mingw_TLScallback", "DllMainCRTStartup", "_CRT_INIT",
};

/* Win32 entry points (exported by kernelbase/kernel32, or ntdll's heap
 * functions under their kernel32 names) a program calls for memory. */
static const struct { const char *func, *w32; } win32[] = {
    { "VirtualAlloc", 0 }, { "VirtualAllocEx", 0 }, { "VirtualAlloc2", 0 }, { "VirtualAllocExNuma", 0 },
    { "VirtualAllocFromApp", 0 }, { "VirtualFree", 0 }, { "VirtualFreeEx", 0 }, { "VirtualProtect", 0 },
    { "VirtualProtectEx", 0 }, { "VirtualQuery", 0 }, { "VirtualQueryEx", 0 }, { "VirtualLock", 0 },
    { "VirtualUnlock", 0 }, { "MapViewOfFile", 0 }, { "MapViewOfFileEx", 0 }, { "MapViewOfFile3", 0 },
    { "MapViewOfFileFromApp", 0 }, { "MapViewOfFileExNuma", 0 }, { "UnmapViewOfFile", 0 },
    { "UnmapViewOfFileEx", 0 }, { "UnmapViewOfFile2", 0 }, { "ReadProcessMemory", 0 },
    { "WriteProcessMemory", 0 }, { "FlushInstructionCache", 0 }, { "FlushViewOfFile", 0 },
    { "QueryVirtualMemoryInformation", 0 }, { "K32QueryWorkingSetEx", "QueryWorkingSetEx" },
    { "LoadLibraryA", 0 }, { "LoadLibraryW", 0 }, { "LoadLibraryExA", 0 }, { "LoadLibraryExW", 0 },
    { "FreeLibrary", 0 }, { "CreateThread", 0 }, { "CreateRemoteThreadEx", "CreateThread" },
    { "HeapCreate", 0 }, { "HeapDestroy", 0 }, { "HeapAlloc", 0 }, { "HeapReAlloc", 0 }, { "HeapFree", 0 },
    { "LocalAlloc", 0 }, { "LocalReAlloc", 0 }, { "GlobalAlloc", 0 }, { "GlobalReAlloc", 0 },
    { "RtlAllocateHeap", "HeapAlloc growth" }, { "RtlReAllocateHeap", "HeapReAlloc growth" },
    { "RtlCreateHeap", "HeapCreate" }, { "RtlDestroyHeap", "HeapDestroy" }, { "RtlFreeHeap", "HeapFree" },
    { "AllocateUserPhysicalPages", 0 }, { "MapUserPhysicalPages", 0 }, { "FreeUserPhysicalPages", 0 },
};

static bool in_list(const char *s, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(s, v[i]))
            return true;
    return false;
}

/* Is this module Wine's, the system's or the runtime's (not the program's)?
 * The program's own image is its own even when it is one of Wine's
 * (`wine notepad`: the report is about notepad.exe). */
static bool system_module(const tr_trace *t, const tr_sym *y)
{
    if (!y->mod)
        return true;
    if (y->mod->rec->kind == WMT_MOD_PE && *t->prog && !strcasecmp(y->module, t->prog))
        return false;
    const char *p = y->mod->path;
    if (y->mod->rec->kind == WMT_MOD_PE)
        return call_module_is_system(y->module, true) || strcasestr(p, "\\windows\\system32\\") ||
               strcasestr(p, "\\windows\\syswow64\\");
    return strstr(p, "/wine/") || call_module_is_system(y->module, false);
}

static bool crt_func(const char *f)
{
    return f && (in_list(f, crt_funcs, sizeof crt_funcs / sizeof *crt_funcs) || !strncmp(f, "__mingw", 7));
}

static const char *win32_name(const tr_sym *y)
{
    if (!y->func || !y->mod || y->mod->rec->kind != WMT_MOD_PE)
        return NULL;
    for (size_t i = 0; i < sizeof win32 / sizeof *win32; i++)
        if (!strcmp(y->func, win32[i].func))
            return win32[i].w32 ? win32[i].w32 : win32[i].func;
    return NULL;
}

static uint64_t site_hash(const char *name, const char *module)
{
    uint64_t h = 14695981039346656037ull;   /* FNV-1a */
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (const char *p = module; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static uint64_t site_hash_of(const void *ctx, size_t i)
{
    const rs_site *x = &((const report_stats *)ctx)->sites[i];
    return site_hash(x->name, x->module);
}

static int find_or_add_site(report_stats *s, const char *name, const tr_sym *y, bool own)
{
    const char *module = y->module ? y->module : "";
    if (!hindex_room(&s->site_index, s->nsites, site_hash_of, s))
        return -1;
    size_t k = hindex_start(&s->site_index, site_hash(name, module));
    for (; s->site_index.slot[k]; k = hindex_next(&s->site_index, k)) {
        const rs_site *x = &s->sites[s->site_index.slot[k] - 1];
        if (!strcmp(x->name, name) && !strcmp(x->module, module))
            return (int)s->site_index.slot[k] - 1;
    }
    if (!TABLE_GROW(s->sites, s->cap_sites, s->nsites + 1, 64))
        return -1;
    rs_site *x = &s->sites[s->nsites];
    memset(x, 0, sizeof *x);
    if (!(x->name = strdup(name)))
        return -1;
    x->module = module;
    x->mod = y->mod;
    x->file_addr = y->file_addr ? y->file_addr - 1 : 0;   /* inside the call instruction */
    x->own = own;
    s->site_index.slot[k] = (uint32_t)s->nsites + 1;
    return (int)s->nsites++;
}

/* Classifies one stack: *site_out, *w32_out. */
static int classify(tr_trace *t, report_stats *s, const struct wmt_stack *st, const char **w32)
{
    const struct wmt_frame *fr = tr_frames(st);
    int pick = -1, n = st->nframes;
    tr_sym y;
    for (int i = 0; i < n && pick < 0; i++) {
        if (!tr_frame_sym(t, &fr[i], &y))
            continue;
        if (s->all_frames ? !(i == 0 && y.func && (!strncmp(y.func, "Nt", 2) || !strncmp(y.func, "Zw", 2)) && n > 1)
                          : !system_module(t, &y) && !crt_func(y.func))
            pick = i;
    }
    *w32 = NULL;
    for (int i = (pick < 0 ? n : pick) - 1; i >= 0; i--)
        if (tr_frame_sym(t, &fr[i], &y) && (*w32 = win32_name(&y)))
            break;
    bool own = pick >= 0;
    if (!own)   /* Wine or the runtime on its own: named by the outermost frame */
        for (pick = n - 1; pick > 0 && !tr_frame_sym(t, &fr[pick], &y); pick--)
            ;
    if (pick < 0 || !tr_frame_sym(t, &fr[pick], &y))
        return -1;
    char name[512], dem[512];
    if (y.func)
        snprintf(name, sizeof name, "%s", tr_demangle(y.func, dem, sizeof dem));
    else
        snprintf(name, sizeof name, "%s+0x%llx", y.module, (unsigned long long)fr[pick].addr);
    if (s->all_frames || !own)
        own = !system_module(t, &y) && !crt_func(y.func);
    int site = find_or_add_site(s, name, &y, own);
    if (site >= 0 && !s->sites[site].example_stack)
        s->sites[site].example_stack = st->id;
    return site;
}

int rs_site_at(tr_trace *t, report_stats *s, size_t slot, const char **w32)
{
    *w32 = NULL;
    if (slot == SIZE_MAX)
        return -1;
    if (s->slot_site[slot] == -2)
        s->slot_site[slot] = classify(t, s, t->stacks[slot], &s->slot_w32[slot]);
    *w32 = s->slot_w32[slot];
    return s->slot_site[slot];
}

int rs_site_of(tr_trace *t, report_stats *s, const struct wmt_call *c, const char **w32)
{
    return rs_site_at(t, s, tr_stack_slot(t, c->stack), w32);
}

void rs_site_count(report_stats *s, int site, const struct wmt_call *c, const char *w32, bool failed)
{
    if (site < 0)
        return;
    rs_site *x = &s->sites[site];
    x->calls++;
    x->failed += failed;
    int k = 0;
    while (k < x->nnamed && !(x->named[k].api == c->api && x->named[k].w32 == w32))
        k++;
    if (k == x->nnamed && k < RS_SITE_CALLS)
        x->named[x->nnamed++] = (rs_named){ w32, c->api, 0 };
    if (k < RS_SITE_CALLS)
        x->named[k].n++;
}

/* Own sites first, by bytes committed, reserved, then calls. */
static const report_stats *sort_s;
static int site_cmp(const void *a, const void *b)
{
    const rs_site *x = &sort_s->sites[*(const int *)a], *y = &sort_s->sites[*(const int *)b];
    if (x->own != y->own)
        return x->own ? -1 : 1;
    uint64_t kx = x->committed + x->mapped, ky = y->committed + y->mapped;
    if (kx != ky)
        return kx < ky ? 1 : -1;
    if (x->reserved != y->reserved)
        return x->reserved < y->reserved ? 1 : -1;
    if (x->calls != y->calls)
        return x->calls < y->calls ? 1 : -1;
    return strcmp(x->name, y->name);
}

void rs_order_sites(report_stats *s)
{
    free(s->order);
    s->order = malloc((s->nsites ? s->nsites : 1) * sizeof *s->order);
    if (!s->order)
        return;
    for (size_t i = 0; i < s->nsites; i++)
        s->order[i] = (int)i;
    sort_s = s;
    qsort(s->order, s->nsites, sizeof *s->order, site_cmp);
}

/* The sites among the first n (not done yet) whose module file is m's,
 * resolved in one symbolizer run; falls back to libdw's line table for ELF. */
static void resolve_file(report_stats *s, size_t first, size_t n, bool *done, uint64_t *addrs, int *which, src_info *info)
{
    const tr_module *m = s->sites[s->order[first]].mod;
    uint64_t bias = m->rec->kind == WMT_MOD_PE && m->syms ? sym_table_image_base(m->syms) : 0;
    size_t k = 0;
    for (size_t j = first; j < n; j++) {
        rs_site *y = &s->sites[s->order[j]];
        if (!done[j] && y->mod && y->mod->local && !strcmp(y->mod->local, m->local) && y->file_addr) {
            addrs[k] = y->file_addr + bias;
            which[k++] = s->order[j];
            done[j] = true;
        }
    }
    if (srcline_resolve(m->local, addrs, k, info) == 0) {
        for (size_t j = 0; j < k; j++)
            srcline_format(&info[j], s->sites[which[j]].src, sizeof s->sites[which[j]].src);
        return;
    }
    for (size_t j = 0; j < k && m->rec->kind == WMT_MOD_ELF && m->syms; j++) {   /* no llvm-symbolizer */
        int line;
        const char *file = sym_table_source(m->syms, addrs[j], &line);
        rs_site *y = &s->sites[which[j]];
        if (file)
            snprintf(y->src, sizeof y->src, "%s (%s:%d)", y->name, file, line);
    }
}

/* Source lines of the sites shown: one symbolizer run per module file. */
void report_sources(tr_trace *t, report_stats *s, size_t n)
{
    (void)t;
    if (n > s->nsites)
        n = s->nsites;
    uint64_t *addrs = malloc((n ? n : 1) * sizeof *addrs);
    int *which = malloc((n ? n : 1) * sizeof *which);
    src_info *info = malloc((n ? n : 1) * sizeof *info);
    bool *done = calloc(n ? n : 1, 1);
    for (size_t i = 0; addrs && which && info && done && i < n; i++) {
        rs_site *x = &s->sites[s->order[i]];
        if (!done[i] && x->mod && x->mod->local && x->file_addr)
            resolve_file(s, i, n, done, addrs, which, info);
    }
    free(addrs);
    free(which);
    free(info);
    free(done);
}
