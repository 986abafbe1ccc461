/* cli/args.c — see args.h. */
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "calls.h"
#include "json.h"
#include "maps.h"
#include "winmem/memory.h"

typedef struct bitname { uint32_t bit; const char *name; } bitname;

static const char *flags(uint32_t v, const bitname *t, size_t n, char *buf, size_t len)
{
    size_t w = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && w < len; i++)
        if ((v & t[i].bit) == t[i].bit && t[i].bit) {
            w += (size_t)snprintf(buf + w, len - w, "%s%s", w ? "|" : "", t[i].name);
            v &= ~t[i].bit;
        }
    if ((v || !w) && w < len)
        snprintf(buf + w, len - w, "%s0x%x", w ? "|" : "", v);
    return buf;
}

const char *args_mem_flags(uint32_t v, char *buf, size_t len)
{
    static const bitname t[] = {
        { 0x1000, "MEM_COMMIT" }, { 0x2000, "MEM_RESERVE" }, { 0x4000, "MEM_DECOMMIT" }, { 0x8000, "MEM_RELEASE" },
        { 0x80000, "MEM_RESET" }, { 0x100000, "MEM_TOP_DOWN" }, { 0x200000, "MEM_WRITE_WATCH" },
        { 0x400000, "MEM_PHYSICAL" }, { 0x1000000, "MEM_RESET_UNDO" }, { 0x20000000, "MEM_LARGE_PAGES" },
        { 0x80000000, "MEM_4MB_PAGES" }, { 0x40000, "MEM_RESERVE_PLACEHOLDER" }, { 0x1, "MEM_COALESCE_PLACEHOLDERS" },
        { 0x2, "MEM_PRESERVE_PLACEHOLDER" },
    };
    return flags(v, t, sizeof t / sizeof *t, buf, len);
}

const char *args_protect(uint32_t v, char *buf, size_t len)
{
    static const bitname t[] = {
        { 0x01, "PAGE_NOACCESS" }, { 0x02, "PAGE_READONLY" }, { 0x04, "PAGE_READWRITE" }, { 0x08, "PAGE_WRITECOPY" },
        { 0x10, "PAGE_EXECUTE" }, { 0x20, "PAGE_EXECUTE_READ" }, { 0x40, "PAGE_EXECUTE_READWRITE" },
        { 0x80, "PAGE_EXECUTE_WRITECOPY" }, { 0x100, "PAGE_GUARD" }, { 0x200, "PAGE_NOCACHE" },
        { 0x400, "PAGE_WRITECOMBINE" }, { 0x40000000, "PAGE_TARGETS_INVALID" },
    };
    if (v == 0) {
        snprintf(buf, len, "0");
        return buf;
    }
    return flags(v, t, sizeof t / sizeof *t, buf, len);
}

const char *args_info_class(uint32_t v, char *buf, size_t len)
{
    static const char *const names[] = {
        "MemoryBasicInformation", "MemoryWorkingSetInformation", "MemoryMappedFilenameInformation",
        "MemoryRegionInformation", "MemoryWorkingSetExInformation", "MemorySharedCommitInformation",
        "MemoryImageInformation", "MemoryRegionInformationEx", "MemoryPrivilegedBasicInformation",
        "MemoryEnclaveImageInformation", "MemoryBasicInformationCapped", "MemoryPhysicalContiguityInformation",
    };
    if (v < sizeof names / sizeof *names)
        snprintf(buf, len, "%s", names[v]);
    else if (v == 1000 || v == 1001)
        snprintf(buf, len, "%s", v == 1000 ? "MemoryWineUnixFuncs" : "MemoryWineUnixWow64Funcs");
    else
        snprintf(buf, len, "class#%u", v);
    return buf;
}

static void value_json(FILE *f, const char *name, unsigned api, uint64_t v)
{
    char b[160];
    bool unixl = call_is_unix(api);
    if (!strcmp(name, "type") || (!unixl && !strcmp(name, "flags") && api != WMT_API_NtUnmapViewOfSectionEx))
        json_str(f, args_mem_flags((uint32_t)v, b, sizeof b));
    else if (!unixl && (!strcmp(name, "protect") || !strcmp(name, "old") || !strcmp(name, "AllocationProtect") ||
                        !strcmp(name, "Protect")))
        json_str(f, args_protect((uint32_t)v, b, sizeof b));
    else if (!strcmp(name, "State"))
        json_str(f, wm_state_name((uint32_t)v));
    else if (!strcmp(name, "Type"))
        json_str(f, wm_type_name((uint32_t)v));
    else if (!strcmp(name, "class"))
        json_str(f, args_info_class((uint32_t)v, b, sizeof b));
    else if (!strcmp(name, "process") && v == UINT64_MAX)
        json_str(f, "self");
    else
        json_hex(f, v);
}

/* Names of out[] by API (trace.h), n of them from out[from]. */
static int out_names(const struct wmt_call *c, const char *const **names, int *from)
{
    static const char *const mbi[] = { "BaseAddress", "AllocationBase", "AllocationProtect", "RegionSize", "State", "Protect", "Type", "ReturnLength" };
    static const char *const region[] = { "AllocationBase", "AllocationProtect", "RegionType", "RegionSize", "CommitSize" };
    static const char *const wsx[] = { "VirtualAddress", "VirtualAttributes", "Entries" };
    static const char *const bs[] = { "base", "size", "old" }, *const old[] = { "old" }, *const done[] = { "done" };
    *from = 0;
    unsigned cls = c->api == WMT_API_NtQueryVirtualMemory || c->api == WMT_API_ZwQueryVirtualMemory ? (unsigned)c->arg[2]
                 : c->api == WMT_API_QueryVirtualMemoryInformation ? 3
                 : c->api == WMT_API_QueryWorkingSetEx || c->api == WMT_API_K32QueryWorkingSetEx ? 4
                 : c->api == WMT_API_VirtualQuery || c->api == WMT_API_VirtualQueryEx ? 0 : 99;
    switch (c->api) {
    case WMT_API_NtAllocateVirtualMemory: case WMT_API_NtAllocateVirtualMemoryEx: case WMT_API_NtFreeVirtualMemory:
    case WMT_API_NtLockVirtualMemory: case WMT_API_NtUnlockVirtualMemory: case WMT_API_NtFlushVirtualMemory:
    case WMT_API_NtMapViewOfSection: case WMT_API_NtMapViewOfSectionEx:
        return *names = bs, 2;
    case WMT_API_NtProtectVirtualMemory:
        return *names = bs, 3;
    case WMT_API_VirtualProtect: case WMT_API_VirtualProtectEx:
        return *names = old, *from = 2, 1;
    case WMT_API_NtReadVirtualMemory: case WMT_API_NtWriteVirtualMemory:
        return *names = done, 1;
    }
    if (cls == 0)
        return *names = mbi, 8;
    if (cls == 3)
        return *names = region, 5;
    if (cls == 4)
        return *names = wsx, 3;
    return 0;
}

void args_call_json(FILE *f, const struct wmt_call *c)
{
    char buf[256];
    const char *names[10];
    int n = call_arg_names(c->api, buf, sizeof buf, names);
    fprintf(f, "\"api\":\"%s\",\"ret\":\"0x%llx\"", call_api_name(c->api), (unsigned long long)c->ret);
    if (call_is_nt(c->api)) {
        const char *sn = status_name(c->status);
        fprintf(f, ",\"status\":\"%s\",\"status_code\":\"0x%08x\"", sn ? sn : "", c->status);
    } else {
        fprintf(f, ",\"error\":%u", c->error);
    }
    fprintf(f, ",\"failed\":%s,\"pending\":%s", call_failed(c) ? "true" : "false",
            c->flags & WMT_CF_PENDING ? "true" : "false");
    /* nested: argument names ("type", "size"...) must not collide with ours */
    fprintf(f, ",\"args\":{");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\"%s\":", i ? "," : "", names[i]);
        value_json(f, names[i], c->api, c->arg[i]);
    }
    fprintf(f, "},\"out\":{");
    const char *const *on;
    int from, no = call_failed(c) || (c->flags & WMT_CF_PENDING) ? 0 : out_names(c, &on, &from);
    for (int i = 0; i < no; i++) {
        fprintf(f, "%s\"%s\":", i ? "," : "", on[i]);
        value_json(f, on[i], c->api, c->out[from + i]);
    }
    fputc('}', f);
}
