/*
 * PAGE_GUARD as a one-shot alarm, the way Wine does it: an armed guard page
 * is PROT_NONE in the kernel and flagged in the registry; the first access
 * faults, this SIGSEGV handler clears the flag, gives the page its remaining
 * protection back, counts one STATUS_GUARD_PAGE_VIOLATION and returns, so the
 * access runs again and succeeds. That is what a Windows program sees when its
 * exception handler answers EXCEPTION_CONTINUE_EXECUTION, and what stack
 * probing relies on (touch the guard, the guard moves, carry on). Linux has
 * no SEH, so the exception is made visible through winmem_GuardPageHits and
 * winmem_SetGuardPageCallback instead (docs/allocation.md).
 *
 * Any other fault goes to the handler that was installed before this one,
 * exactly as if winmem were not there; with none, the default action kills
 * the process as it would have. The handler is installed on first use of
 * PAGE_GUARD, never when wm_guard_forbid_handler was called first.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include "internal.h"
#include "registry.h"

enum { NONE, INSTALLED, FORBIDDEN };
static _Atomic int state = NONE;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction prev;
static uint64_t page_size;   /* set before any guard can be armed */

__attribute__((constructor)) static void guard_init(void)
{
    page_size = wm_page_size();
}

/* initial-exec: reading it in the handler must not allocate. */
static __thread uint64_t thread_hits __attribute__((tls_model("initial-exec")));
static _Atomic(WINMEM_GUARD_CALLBACK) callback;
static _Atomic(void *) callback_ctx;

/* Default action for a fault that is not ours; returns only for an ignored
 * signal that was sent, not raised by a fault. */
static void die_by_default(int sig, const siginfo_t *si)
{
    if (prev.sa_handler == SIG_IGN && si->si_code <= 0)
        return;
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    /* A fault repeats when the instruction runs again and then kills; a sent
     * signal must be sent again. It stays blocked until this handler returns. */
    if (si->si_code <= 0)
        raise(sig);
}

static void chain(int sig, siginfo_t *si, void *uc)
{
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction)
            prev.sa_sigaction(sig, si, uc);
        else
            die_by_default(sig, si);
    } else if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
        die_by_default(sig, si);
    } else {
        prev.sa_handler(sig);
    }
}

bool wm_guard_disarm_page(uint64_t addr)
{
    wm_region r;
    uint32_t left;
    if (!wm_registry_query(addr, &r) || r.state != MEM_COMMIT || !(r.protect & PAGE_GUARD))
        return false;
    /* Kernel first: if the registry then cannot record the change, the
     * page is armed again, rather than recorded open while still PROT_NONE
     * (which would fault forever). */
    void *page = (void *)(addr & ~(page_size - 1));
    if (mprotect(page, page_size, wm_prot_to_unix(r.protect & ~(uint32_t)PAGE_GUARD)) != 0)
        return false;
    if (wm_registry_disarm_guard(addr, &left))
        return true;
    mprotect(page, page_size, PROT_NONE);
    return false;
}

/* true when the page's recorded protection allows the faulting access: the
 * guard was cleared by another thread (or VirtualProtect) between the fault
 * and this handler taking the lock, so the access only needs to run again. */
static bool access_allowed_now(uint64_t addr, const void *uc)
{
    wm_region r;
    if (!wm_registry_query(addr, &r) || r.state != MEM_COMMIT || (r.protect & PAGE_GUARD))
        return false;
    int p = wm_prot_to_unix(r.protect);
#if defined(__x86_64__)
    /* x86 page-fault error code: bit 1 write, bit 4 instruction fetch. */
    greg_t err = ((const ucontext_t *)uc)->uc_mcontext.gregs[REG_ERR];
    if (err & 2)
        return p & PROT_WRITE;
    if (err & 16)
        return p & PROT_EXEC;
    return p & (PROT_READ | PROT_EXEC);
#else
    return p == (PROT_READ | PROT_WRITE | PROT_EXEC);
#endif
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    if (si->si_code == SEGV_ACCERR && wm_alloc_lock_in_handler()) {
        uint64_t a = (uint64_t)si->si_addr;
        bool hit = wm_guard_disarm_page(a);
        bool retry = hit || access_allowed_now(a, uc);
        wm_alloc_unlock();
        if (hit) {
            thread_hits++;
            WINMEM_GUARD_CALLBACK cb = atomic_load(&callback);
            if (cb)
                cb((PVOID)a, atomic_load(&callback_ctx));
        }
        if (retry) {
            errno = saved_errno;
            return;
        }
    }
    errno = saved_errno;
    chain(sig, si, uc);
}

/* A thread that arms guards may later fault on one with its stack nearly
 * used up (a guard below a stack it manages itself); the handler then needs
 * a stack of its own. Threads that already have one keep it. */
static pthread_key_t altstack_key;
static __thread bool altstack_checked __attribute__((tls_model("initial-exec")));
#define ALTSTACK_SIZE (64 * 1024)

static void free_altstack(void *mem)
{
    stack_t off = { .ss_flags = SS_DISABLE };
    sigaltstack(&off, NULL);
    munmap(mem, ALTSTACK_SIZE);
}

static void ensure_altstack(void)
{
    stack_t cur;
    if (altstack_checked)
        return;
    altstack_checked = true;
    if (sigaltstack(NULL, &cur) != 0 || !(cur.ss_flags & SS_DISABLE))
        return;
    void *mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return;
    stack_t ss = { .ss_sp = mem, .ss_size = ALTSTACK_SIZE };
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mem, ALTSTACK_SIZE);
        return;
    }
    pthread_setspecific(altstack_key, mem);
}

bool wm_guard_enable(void)
{
    int s = atomic_load(&state);
    if (s == NONE) {
        pthread_mutex_lock(&install_lock);
        if (atomic_load(&state) == NONE) {
            struct sigaction sa = { .sa_sigaction = on_segv,
                                    .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART };
            sigemptyset(&sa.sa_mask);
            pthread_key_create(&altstack_key, free_altstack);
            /* prev must be complete before the handler can run. */
            sigaction(SIGSEGV, NULL, &prev);
            if (sigaction(SIGSEGV, &sa, NULL) == 0)
                atomic_store(&state, INSTALLED);
        }
        pthread_mutex_unlock(&install_lock);
        s = atomic_load(&state);
    }
    if (s != INSTALLED)
        return false;
    ensure_altstack();
    return true;
}

void wm_guard_forbid_handler(void)
{
    pthread_mutex_lock(&install_lock);
    if (atomic_load(&state) == NONE)
        atomic_store(&state, FORBIDDEN);
    pthread_mutex_unlock(&install_lock);
}

WM_EXPORT ULONG64 WINMEM_API winmem_GuardPageHits(void)
{
    return thread_hits;
}

WM_EXPORT void WINMEM_API winmem_SetGuardPageCallback(WINMEM_GUARD_CALLBACK Callback, PVOID Context)
{
    atomic_store(&callback, NULL);
    atomic_store(&callback_ctx, Context);
    atomic_store(&callback, Callback);
}
