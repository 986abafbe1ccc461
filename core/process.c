/*
 * core/process.c — process handles and system facts: GetCurrentProcess,
 * GetCurrentProcessId, OpenProcess, GetProcessId, CloseHandle,
 * GetSystemInfo, and the handle → address-space resolution every *Ex API
 * uses (internal.h).
 *
 * A handle is a slot in a table holding an open wm_space. The value carries
 * the slot's generation, so a closed-and-reused slot does not answer for a
 * stale handle. Resolution takes a reference under the table lock, so a
 * CloseHandle racing a query only drops the table's reference and the space
 * lives until the query's wm_space_put.
 */
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include "internal.h"

#define PSEUDO_PROCESS ((HANDLE)(intptr_t)-1)
enum { NSLOTS = 4096 };

typedef struct slot {
    wm_space *sp;      /* NULL when free */
    uint16_t gen;
} slot;

static slot slots[NSLOTS];
static unsigned slot_hint;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

/* A fork child has only the forking thread: a table lock another thread
 * held at the fork would never be released. */
static void process_fork_child(void)
{
    pthread_mutex_init(&table_lock, NULL);
}

__attribute__((constructor)) static void process_init(void)
{
    pthread_atfork(NULL, NULL, process_fork_child);
}

/* Windows handle values are multiples of 4; ours put the slot in bits 2..13
 * and its generation in bits 16..31. Generation 0 is never used, so no
 * handle value is below 0x10000 and NULL is never valid. */
static HANDLE encode(unsigned i, uint16_t gen)
{
    return (HANDLE)(uintptr_t)(((uintptr_t)gen << 16) | ((uintptr_t)i << 2));
}

static slot *decode(HANDLE h)
{
    uintptr_t v = (uintptr_t)h;
    if (v & 3 || v >> 32 || !(v >> 16))
        return NULL;
    unsigned i = (v >> 2) & 0x3fff;
    if (i >= NSLOTS || !slots[i].sp || slots[i].gen != (uint16_t)(v >> 16))
        return NULL;
    return &slots[i];
}

wm_space *wm_handle_get(HANDLE h, NTSTATUS *status)
{
    if (h == PSEUDO_PROCESS)
        return wm_space_self();
    pthread_mutex_lock(&table_lock);
    slot *s = decode(h);
    wm_space *sp = s ? s->sp : NULL;
    if (sp)
        wm_space_ref(sp);
    pthread_mutex_unlock(&table_lock);
    if (!sp && status)
        *status = STATUS_INVALID_HANDLE;
    return sp;
}

void wm_space_put(wm_space *sp)
{
    if (sp)
        wm_space_unref(sp);
}

bool wm_handle_is_self(HANDLE h)
{
    if (h == PSEUDO_PROCESS)
        return true;
    wm_space *sp = wm_handle_get(h, NULL);
    bool self = sp && wm_space_is_self(sp);
    wm_space_put(sp);
    return self;
}

WM_EXPORT HANDLE WINMEM_API GetCurrentProcess(void)
{
    return PSEUDO_PROCESS;
}

WM_EXPORT DWORD WINMEM_API GetCurrentProcessId(void)
{
    return (DWORD)wm_self_pid();
}

WM_EXPORT HANDLE WINMEM_API OpenProcess(DWORD access, BOOL inherit, DWORD pid)
{
    /* Access rights are not checked here: Linux decides at open time with the
     * ptrace read check, which is the only access winmem's handles use. */
    if (pid == 0 || pid > (DWORD)INT32_MAX) {
        wm_set_last_error(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    wm_space *sp;
    int r = wm_space_open((pid_t)pid, &sp);
    if (r < 0) {
        wm_set_last_error(r == -EACCES || r == -EPERM ? ERROR_ACCESS_DENIED
                          : r == -ENOENT || r == -ESRCH ? ERROR_INVALID_PARAMETER
                          : r == -EMFILE || r == -ENFILE || r == -ENOMEM ? ERROR_NO_SYSTEM_RESOURCES
                          : ERROR_ACCESS_DENIED);
        return NULL;
    }
    pthread_mutex_lock(&table_lock);
    for (unsigned n = 0; n < NSLOTS - 1; n++) {
        unsigned i = 1 + (slot_hint + n) % (NSLOTS - 1);   /* slot 0 unused */
        if (!slots[i].sp) {
            slots[i].sp = sp;
            if (++slots[i].gen == 0)
                slots[i].gen = 1;
            slot_hint = i;
            HANDLE h = encode(i, slots[i].gen);
            pthread_mutex_unlock(&table_lock);
            return h;
        }
    }
    pthread_mutex_unlock(&table_lock);
    wm_space_unref(sp);
    wm_set_last_error(ERROR_NO_SYSTEM_RESOURCES);
    return NULL;
}

WM_EXPORT DWORD WINMEM_API GetProcessId(HANDLE h)
{
    NTSTATUS st;
    wm_space *sp = wm_handle_get(h, &st);
    if (!sp) {
        wm_fail_status(st);
        return 0;
    }
    DWORD pid = (DWORD)wm_space_pid(sp);
    wm_space_put(sp);
    return pid;
}

WM_EXPORT BOOL WINMEM_API CloseHandle(HANDLE h)
{
    if (h == PSEUDO_PROCESS)   /* closing a pseudo-handle is a no-op on Windows */
        return TRUE;
    pthread_mutex_lock(&table_lock);
    slot *s = decode(h);
    wm_space *sp = s ? s->sp : NULL;
    if (s)
        s->sp = NULL;
    pthread_mutex_unlock(&table_lock);
    if (!sp) {
        wm_set_last_error(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    wm_space_unref(sp);   /* queries in flight hold their own reference */
    return TRUE;
}

WM_EXPORT void WINMEM_API GetSystemInfo(LPSYSTEM_INFO out)
{
    SYSTEM_INFO si = { 0 };
    unsigned a = 0, b = 0, c = 0, d = 0;
    unsigned n = wm_cpu_count();
    si.wProcessorArchitecture = PROCESSOR_ARCHITECTURE_AMD64;
    si.dwPageSize = (DWORD)wm_page_size();
    si.lpMinimumApplicationAddress = (LPVOID)(uintptr_t)wm_user_min();
    si.lpMaximumApplicationAddress = (LPVOID)(uintptr_t)wm_user_max();
    si.dwActiveProcessorMask = n >= 64 ? ~(DWORD_PTR)0 : ((DWORD_PTR)1 << n) - 1;
    si.dwNumberOfProcessors = (DWORD)n;
    si.dwProcessorType = PROCESSOR_AMD_X8664;
    si.dwAllocationGranularity = (DWORD)WM_ALLOC_GRANULARITY;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        /* Windows reports the display family and model/stepping. */
        unsigned fam = (a >> 8) & 0xf, model = (a >> 4) & 0xf, step = a & 0xf;
        if (fam == 0xf)
            fam += (a >> 20) & 0xff;
        if (fam == 0x6 || fam >= 0xf)
            model |= ((a >> 16) & 0xf) << 4;
        si.wProcessorLevel = (WORD)fam;
        si.wProcessorRevision = (WORD)(model << 8 | step);
    }
    /* Windows would fault on a bad pointer; winmem declines to crash. */
    if (!wm_self_write(out, &si, sizeof si))
        wm_set_last_error(ERROR_NOACCESS);
}
