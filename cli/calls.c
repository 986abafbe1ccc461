/* cli/calls.c — see calls.h. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "winmem/memory.h"
#include "calls.h"

#define S(n) { (uint32_t)(n), #n },
static const struct { uint32_t v; const char *n; } statuses[] = {
    S(STATUS_SUCCESS) S(STATUS_WAS_LOCKED) S(STATUS_GUARD_PAGE_VIOLATION) S(STATUS_PARTIAL_COPY)
    S(STATUS_NOT_IMPLEMENTED) S(STATUS_INVALID_INFO_CLASS) S(STATUS_INFO_LENGTH_MISMATCH)
    S(STATUS_ACCESS_VIOLATION) S(STATUS_INVALID_HANDLE) S(STATUS_INVALID_PARAMETER)
    S(STATUS_NO_MEMORY) S(STATUS_CONFLICTING_ADDRESSES) S(STATUS_UNABLE_TO_FREE_VM)
    S(STATUS_ALREADY_COMMITTED) S(STATUS_ACCESS_DENIED) S(STATUS_BUFFER_TOO_SMALL)
    S(STATUS_NOT_LOCKED) S(STATUS_NOT_COMMITTED) S(STATUS_INVALID_PAGE_PROTECTION)
    S(STATUS_PRIVILEGE_NOT_HELD) S(STATUS_INSUFFICIENT_RESOURCES) S(STATUS_FREE_VM_NOT_AT_BASE)
    S(STATUS_MEMORY_NOT_ALLOCATED) S(STATUS_WORKING_SET_QUOTA) S(STATUS_NOT_SUPPORTED)
    S(STATUS_PROCESS_IS_TERMINATING) S(STATUS_COMMITMENT_LIMIT) S(STATUS_INVALID_ADDRESS)
    S(STATUS_DLL_NOT_FOUND)
};
static const struct { uint32_t v; const char *n; } errors[] = {
    S(ERROR_SUCCESS) S(ERROR_INVALID_FUNCTION) S(ERROR_FILE_NOT_FOUND) S(ERROR_PATH_NOT_FOUND)
    S(ERROR_ACCESS_DENIED) S(ERROR_INVALID_HANDLE) S(ERROR_NOT_ENOUGH_MEMORY)
    S(ERROR_BAD_FORMAT) S(ERROR_INVALID_DATA) S(ERROR_OUTOFMEMORY) S(ERROR_BAD_LENGTH)
    S(ERROR_GEN_FAILURE) S(ERROR_HANDLE_EOF) S(ERROR_NOT_SUPPORTED) S(ERROR_INVALID_PARAMETER)
    S(ERROR_CALL_NOT_IMPLEMENTED) S(ERROR_INSUFFICIENT_BUFFER) S(ERROR_NOT_LOCKED)
    S(ERROR_PARTIAL_COPY) S(ERROR_INVALID_ADDRESS) S(ERROR_NOACCESS) S(ERROR_INVALID_FLAGS)
    S(ERROR_NOT_FOUND) S(ERROR_PRIVILEGE_NOT_HELD) S(ERROR_NO_SYSTEM_RESOURCES)
    S(ERROR_WORKING_SET_QUOTA) S(ERROR_COMMITMENT_LIMIT) S(ERROR_INVALID_USER_BUFFER)
};
#undef S

const char *status_name(uint32_t st)
{
    for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++)
        if (statuses[i].v == st)
            return statuses[i].n;
    return NULL;
}

const char *win32_error_name(uint32_t e)
{
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++)
        if (errors[i].v == e)
            return errors[i].n;
    return NULL;
}

bool call_failed(const struct wmt_call *c)
{
    if (c->flags & WMT_CF_PENDING)
        return false;
    if (call_is_nt(c->api))
        return (int32_t)c->status < 0 || (int64_t)c->ret < 0;
    if (call_is_unix(c->api))
        return c->ret == UINT64_MAX;
    return c->ret == 0;
}

uint32_t call_code(const struct wmt_call *c)
{
    if (call_is_nt(c->api))
        return c->status ? c->status : (uint32_t)c->ret;
    return c->error;
}

void call_code_name(const struct wmt_call *c, char *buf, size_t len)
{
    uint32_t v = call_code(c);
    const char *n;
    if (call_is_nt(c->api))
        n = status_name(v);
    else if (call_is_unix(c->api))
        n = strerrorname_np((int)v);
    else
        n = win32_error_name(v);
    if (call_is_unix(c->api))
        snprintf(buf, len, "%s (errno %u)", n ? n : "?", v);
    else if (call_is_nt(c->api))
        snprintf(buf, len, "%s (0x%08x)", n ? n : "STATUS_?", v);
    else
        snprintf(buf, len, "%s (%u)", n ? n : "ERROR_?", v);
}

const char *call_api_name(unsigned api)
{
    static __thread char buf[16];
    const char *n = wmt_api_name(api);
    if (n)
        return n;
    snprintf(buf, sizeof buf, "api#%u", api);
    return buf;
}

int call_arg_names(unsigned api, char *buf, size_t len, const char *names[10])
{
    const char *a = wmt_api_args(api);
    int n = 0;
    if (!a || !len)
        return 0;
    snprintf(buf, len, "%s", a);
    for (char *p = buf, *save = NULL, *tok; n < 10 && (tok = strtok_r(p, ",", &save)); p = NULL)
        names[n++] = tok;
    return n;
}

static const char *const system_dlls[] = {
    "ntdll.dll", "kernelbase.dll", "kernel32.dll", "msvcrt.dll", "ucrtbase.dll", "ucrtbased.dll",
    "vcruntime140.dll", "vcruntime140_1.dll", "msvcp140.dll", "libgcc_s_seh-1.dll",
    "libstdc++-6.dll", "libwinpthread-1.dll", "user32.dll", "gdi32.dll", "win32u.dll", "advapi32.dll",
    "sechost.dll", "rpcrt4.dll", "ole32.dll", "combase.dll", "shell32.dll", "shlwapi.dll", "msvcp_win.dll",
};
static const char *const system_so_prefixes[] = {
    "ntdll.so", "libc.so", "ld-linux", "libwinmem", "libstdc++.so", "libgcc_s.so", "libpthread.so",
    "libm.so", "libdl.so", "libunwind", "win32u.so", "wine",
};
bool call_module_is_system(const char *module, bool pe)
{
    if (pe) {
        for (size_t i = 0; i < sizeof system_dlls / sizeof *system_dlls; i++)
            if (!strcasecmp(module, system_dlls[i]))
                return true;
        return !strncasecmp(module, "api-ms-win-", 11);
    }
    for (size_t i = 0; i < sizeof system_so_prefixes / sizeof *system_so_prefixes; i++)
        if (!strncmp(module, system_so_prefixes[i], strlen(system_so_prefixes[i])))
            return true;
    return false;
}
