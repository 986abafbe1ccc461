/* Process handles and system facts against real processes: OpenProcess of a
 * live, a missing, an exited and another user's process; handles that stay
 * bound; CloseHandle racing queries; GetSystemInfo. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "internal.h"

static pid_t spawn_sleeper(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    return pid;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void test_pseudo_handle_and_ids(void)
{
    CU_ASSERT_EQUAL(GetCurrentProcess(), (HANDLE)(intptr_t)-1);
    CU_ASSERT_EQUAL(GetCurrentProcessId(), (DWORD)getpid());
    CU_ASSERT_EQUAL(GetProcessId(GetCurrentProcess()), (DWORD)getpid());
    CU_ASSERT_TRUE(CloseHandle(GetCurrentProcess()));   /* a no-op, as on Windows */
    CU_ASSERT_TRUE(wm_handle_is_self(GetCurrentProcess()));
    pid_t pid = fork();
    if (pid == 0)   /* the cached pid follows a fork */
        _exit(GetCurrentProcessId() == (DWORD)getpid() ? 0 : 1);
    int st;
    waitpid(pid, &st, 0);
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
}

static void test_open_close(void)
{
    pid_t pid = spawn_sleeper();
    HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)pid);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_EQUAL((uintptr_t)h & 3, 0);
    CU_ASSERT_EQUAL(GetProcessId(h), (DWORD)pid);
    CU_ASSERT_FALSE(wm_handle_is_self(h));
    HANDLE me = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, GetCurrentProcessId());
    CU_ASSERT_PTR_NOT_NULL(me);
    CU_ASSERT_TRUE(wm_handle_is_self(me));
    CU_ASSERT_TRUE(CloseHandle(me));
    CU_ASSERT_TRUE(CloseHandle(h));
    SetLastError(0);
    CU_ASSERT_FALSE(CloseHandle(h));   /* twice */
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_HANDLE);
    CU_ASSERT_EQUAL(GetProcessId(h), 0);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_HANDLE);
    CU_ASSERT_FALSE(CloseHandle(NULL));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_HANDLE);
    CU_ASSERT_FALSE(CloseHandle((HANDLE)0x1235));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_HANDLE);
    /* A reused slot does not answer for the stale handle. */
    HANDLE h2 = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)pid);
    CU_ASSERT_PTR_NOT_NULL(h2);
    CU_ASSERT_NOT_EQUAL(h2, h);
    CU_ASSERT_EQUAL(GetProcessId(h), 0);
    CU_ASSERT_TRUE(CloseHandle(h2));
    reap(pid);
}

/* Opens its own thread id as if it were a process id: 1 if refused with
 * ERROR_INVALID_PARAMETER. */
static void *open_own_tid(void *arg)
{
    HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)gettid());
    *(int *)arg = !h && GetLastError() == ERROR_INVALID_PARAMETER;
    if (h)
        CloseHandle(h);
    return NULL;
}

static void test_open_missing_and_exited(void)
{
    SetLastError(0);
    CU_ASSERT_PTR_NULL(OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, 0));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    pid_t gone = spawn_sleeper();
    reap(gone);   /* a pid nobody has (until reused, which takes a wrap-around) */
    CU_ASSERT_PTR_NULL(OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)gone));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    /* A thread id is not a process id, though /proc has a directory for it. */
    pthread_t t;
    int refused = 0;
    pthread_create(&t, NULL, open_own_tid, &refused);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(refused, 1);

    /* Opened while alive, queried after it exited: bound to the dead process,
     * never to whoever gets the pid next. */
    pid_t pid = spawn_sleeper();
    HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)pid);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    MEMORY_BASIC_INFORMATION m;
    CU_ASSERT_EQUAL(VirtualQueryEx(h, (void *)0x10000, &m, sizeof m), sizeof m);
    kill(pid, SIGKILL);
    usleep(50 * 1000);   /* a zombie now: not reaped yet */
    CU_ASSERT_EQUAL(VirtualQueryEx(h, (void *)0x10000, &m, sizeof m), 0);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_ACCESS_DENIED);
    HANDLE z = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)pid);   /* zombie: opens */
    CU_ASSERT_PTR_NOT_NULL(z);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(z, NULL, MemoryBasicInformation, &m, sizeof m, NULL),
                    STATUS_PROCESS_IS_TERMINATING);
    CloseHandle(z);
    waitpid(pid, NULL, 0);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(h, NULL, MemoryBasicInformation, &m, sizeof m, NULL),
                    STATUS_PROCESS_IS_TERMINATING);
    CU_ASSERT_EQUAL(GetProcessId(h), (DWORD)pid);
    CU_ASSERT_TRUE(CloseHandle(h));
}

/* A handle stays bound to the process it opened even when its pid is reused:
 * as root, ns_last_pid makes the next fork take the dead child's pid. Other
 * processes on the machine may take it first; then the test tries again. */
static void test_pid_reuse(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_pid_reuse: needs root to steer pid allocation; not run\n");
        return;
    }
    for (int attempt = 0; attempt < 20; attempt++) {
        pid_t a = spawn_sleeper();
        HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        reap(a);
        FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
        if (!f) {
            CloseHandle(h);
            CU_FAIL("cannot write ns_last_pid (not root?)");
            return;
        }
        fprintf(f, "%d", (int)a - 1);
        fclose(f);
        pid_t b = spawn_sleeper();
        if (b == a) {
            MEMORY_BASIC_INFORMATION m;
            CU_ASSERT_EQUAL(NtQueryVirtualMemory(h, NULL, MemoryBasicInformation, &m, sizeof m, NULL),
                            STATUS_PROCESS_IS_TERMINATING);
            HANDLE hb = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)b);
            CU_ASSERT_PTR_NOT_NULL(hb);
            CU_ASSERT_EQUAL(VirtualQueryEx(hb, NULL, &m, sizeof m), sizeof m);
            CloseHandle(hb);
            CloseHandle(h);
            reap(b);
            return;
        }
        CloseHandle(h);
        reap(b);
    }
    CU_FAIL("could not get the same pid back in 20 attempts");
}

/* An unprivileged caller may not read a root process's space. */
static void test_other_user_is_access_denied(void)
{
    if (geteuid() != 0) {
        /* Not root: init (pid 1) is another user's process already. */
        CU_ASSERT_PTR_NULL(OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, 1));
        CU_ASSERT_EQUAL(GetLastError(), ERROR_ACCESS_DENIED);
        return;
    }
    pid_t root_target = spawn_sleeper();
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(10);
        HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)root_target);
        if (h)
            _exit(1);
        if (GetLastError() != ERROR_ACCESS_DENIED)
            _exit(2);
        /* Its own space stays readable. */
        MEMORY_BASIC_INFORMATION m;
        int local;
        _exit(VirtualQuery(&local, &m, sizeof m) == sizeof m ? 0 : 3);
    }
    int st;
    waitpid(pid, &st, 0);
    CU_ASSERT_TRUE(WIFEXITED(st));
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
    reap(root_target);
}

static void test_system_info(void)
{
    SYSTEM_INFO si;
    memset(&si, 0xcc, sizeof si);
    GetSystemInfo(&si);
    CU_ASSERT_EQUAL(si.dwPageSize, (DWORD)sysconf(_SC_PAGESIZE));
    CU_ASSERT_EQUAL(si.dwAllocationGranularity, 0x10000);
    CU_ASSERT_EQUAL(si.lpMinimumApplicationAddress, (void *)0x10000);
    CU_ASSERT_EQUAL(si.lpMaximumApplicationAddress, (void *)0x7ffffffeffffULL);
    CU_ASSERT_EQUAL(si.wProcessorArchitecture, PROCESSOR_ARCHITECTURE_AMD64);
    CU_ASSERT_EQUAL(si.dwNumberOfProcessors, (DWORD)sysconf(_SC_NPROCESSORS_ONLN));
    CU_ASSERT_EQUAL(si.dwProcessorType, PROCESSOR_AMD_X8664);
    CU_ASSERT_NOT_EQUAL(si.dwActiveProcessorMask, 0);
    GetSystemInfo(NULL);   /* declines, does not crash */
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
}

/* CloseHandle racing queries on the same handle: the space lives until the
 * last query lets go (AddressSanitizer sees any use after free). */
static HANDLE _Atomic shared_handle;
static atomic_bool stop;

static void *querier(void *arg)
{
    MEMORY_BASIC_INFORMATION m;
    while (!atomic_load(&stop)) {
        SIZE_T r = VirtualQueryEx(atomic_load(&shared_handle), (void *)0x10000, &m, sizeof m);
        if (!r && GetLastError() != ERROR_INVALID_HANDLE)
            return (void *)1;
    }
    return NULL;
}

static void test_close_races_queries(void)
{
    pid_t pid = spawn_sleeper();
    pthread_t t[4];
    atomic_store(&stop, false);
    atomic_store(&shared_handle, OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)pid));
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, querier, NULL);
    for (int i = 0; i < 300; i++) {
        HANDLE old = atomic_load(&shared_handle);
        atomic_store(&shared_handle, OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)pid));
        CU_ASSERT_TRUE(CloseHandle(old));
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        CU_ASSERT_PTR_NULL(ret);
    }
    CloseHandle(atomic_load(&shared_handle));
    reap(pid);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("process", NULL, NULL);
    WM_TEST(s, test_pseudo_handle_and_ids);
    WM_TEST(s, test_open_close);
    WM_TEST(s, test_open_missing_and_exited);
    WM_TEST(s, test_pid_reuse);
    WM_TEST(s, test_other_user_is_access_denied);
    WM_TEST(s, test_system_info);
    WM_TEST(s, test_close_races_queries);
}
