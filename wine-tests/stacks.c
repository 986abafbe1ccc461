/*
 * wine-tests/stacks.c — what VirtualQuery says about a thread's stack.
 *
 * Windows (64-bit) reserves the whole stack as one allocation at the
 * deallocation base and commits it from the top down:
 *   [DeallocationStack ...)  MEM_RESERVE, Protect 0, AllocationProtect PAGE_READWRITE
 *   then 1-3 guard pages     MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD
 *   [StackLimit, StackBase)  MEM_COMMIT, PAGE_READWRITE, one region
 * and every part reports AllocationBase = DeallocationStack.
 *
 * The test thread is a Windows thread (CreateThread) in pe/winelib and a
 * pthread natively, where glibc maps the stack read-write in one piece with
 * a PROT_NONE guard below it; there the three addresses come from
 * pthread_getattr_np (limit = lowest usable byte, deallocation base = start
 * of the guard).
 */
#include "wt.h"

#ifdef WT_NATIVE
#include <pthread.h>
#endif

struct stack_info {
    char *base;        /* highest address + 1 */
    char *limit;       /* lowest committed address */
    char *dealloc;     /* the allocation's base */
};

static void get_stack_info(struct stack_info *si)
{
#ifdef WT_NATIVE
    pthread_attr_t attr;
    void *addr;
    size_t size, guard;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_getguardsize(&attr, &guard);
    pthread_attr_destroy(&attr);
    si->base = (char *)addr + size;
    si->limit = addr;
    si->dealloc = (char *)addr - guard;
#else
    NT_TIB *tib = (NT_TIB *)NtCurrentTeb();
    si->base = tib->StackBase;
    si->limit = tib->StackLimit;
    /* TEB.DeallocationStack: at 0x1478 on 64-bit (mingw's TEB hides it). */
    si->dealloc = *(char **)((char *)NtCurrentTeb() + 0x1478);
#endif
}

static void check_stack(void)
{
    struct stack_info si;
    MEMORY_BASIC_INFORMATION mbi;
    volatile char local = 1;

    get_stack_info(&si);

    wt_section("local");
    ok(VirtualQuery((const void *)&local, &mbi, sizeof(mbi)) == sizeof(mbi), "VirtualQuery failed, error %u\n",
       (unsigned)GetLastError());
    ok(mbi.State == MEM_COMMIT, "local: State %#x, expected MEM_COMMIT (0x1000)\n", (unsigned)mbi.State);
    ok(mbi.Protect == PAGE_READWRITE, "local: Protect %#x, expected PAGE_READWRITE (0x4)\n", (unsigned)mbi.Protect);
    ok(mbi.Type == MEM_PRIVATE, "local: Type %#x, expected MEM_PRIVATE (0x20000)\n", (unsigned)mbi.Type);

    wt_section("allocation_base");
    ok(mbi.AllocationBase == si.dealloc, "local: AllocationBase %p, expected the deallocation base %p\n",
       mbi.AllocationBase, si.dealloc);
    ok(mbi.AllocationProtect == PAGE_READWRITE, "local: AllocationProtect %#x, expected PAGE_READWRITE (0x4)\n",
       (unsigned)mbi.AllocationProtect);

    wt_section("committed");
    ok(VirtualQuery(si.limit, &mbi, sizeof(mbi)) == sizeof(mbi), "VirtualQuery failed, error %u\n",
       (unsigned)GetLastError());
    ok(mbi.State == MEM_COMMIT, "limit: State %#x, expected MEM_COMMIT (0x1000)\n", (unsigned)mbi.State);
    ok(mbi.Protect == PAGE_READWRITE, "limit: Protect %#x, expected PAGE_READWRITE (0x4)\n", (unsigned)mbi.Protect);
    ok(mbi.RegionSize == (SIZE_T)(si.base - si.limit), "limit: RegionSize %#llx, expected base - limit = %#llx\n",
       (unsigned long long)mbi.RegionSize, (unsigned long long)(si.base - si.limit));

    wt_section("guard");
    ok(VirtualQuery(si.limit - 0x1000, &mbi, sizeof(mbi)) == sizeof(mbi), "VirtualQuery failed, error %u\n",
       (unsigned)GetLastError());
    ok(mbi.State == MEM_COMMIT, "below limit: State %#x, expected MEM_COMMIT (0x1000)\n", (unsigned)mbi.State);
    ok(mbi.Protect == (PAGE_READWRITE | PAGE_GUARD),
       "below limit: Protect %#x, expected PAGE_READWRITE | PAGE_GUARD (0x104)\n", (unsigned)mbi.Protect);
    ok(mbi.RegionSize >= 0x1000 && mbi.RegionSize <= 0x3000,
       "guard RegionSize %#llx, expected 1 to 3 pages (0x1000-0x3000)\n", (unsigned long long)mbi.RegionSize);

    wt_section("reserved");
    ok(VirtualQuery(si.dealloc, &mbi, sizeof(mbi)) == sizeof(mbi), "VirtualQuery failed, error %u\n",
       (unsigned)GetLastError());
    ok(mbi.AllocationBase == si.dealloc, "bottom: AllocationBase %p, expected %p\n", mbi.AllocationBase, si.dealloc);
    ok(mbi.State == MEM_RESERVE, "bottom: State %#x, expected MEM_RESERVE (0x2000)\n", (unsigned)mbi.State);
    ok(mbi.Protect == 0, "bottom: Protect %#x, expected 0\n", (unsigned)mbi.Protect);
    ok(mbi.AllocationProtect == PAGE_READWRITE, "bottom: AllocationProtect %#x, expected PAGE_READWRITE (0x4)\n",
       (unsigned)mbi.AllocationProtect);
}

#ifdef WT_NATIVE
static void *thread_main(void *arg) { check_stack(); return arg; }
#else
static DWORD WINAPI thread_main(void *arg) { check_stack(); return 0; }
#endif

START_TEST(stacks)
{
    /* A new thread, so the layout is the system's default, not the loader's.
     * Its sections run while this thread waits; the harness is not
     * thread-safe, so this thread checks nothing until the join. */
#ifdef WT_NATIVE
    pthread_t t;
    int created = pthread_create(&t, NULL, thread_main, NULL) == 0;
    if (created)
        pthread_join(t, NULL);
    wt_section("thread");
    ok(created, "pthread_create failed\n");
#else
    HANDLE t = CreateThread(NULL, 0, thread_main, NULL, 0, NULL);
    DWORD err = GetLastError();
    if (t) {
        WaitForSingleObject(t, INFINITE);
        CloseHandle(t);
    }
    wt_section("thread");
    ok(t != NULL, "CreateThread failed, error %u\n", (unsigned)err);
#endif
}
