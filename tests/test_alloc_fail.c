/* Failure paths leave everything as it was: in a child, a seccomp filter
 * makes the kernel refuse exactly what the test wants refused (the mmap that
 * grows a registry run array, an mprotect to PROT_READ|PROT_EXEC), and the
 * registry, VirtualQuery and the kernel must still describe the memory as it
 * was before the failed call. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "internal.h"
#include "registry.h"

#define PG 0x1000u

/* mmap(len 4096, PROT_READ|PROT_WRITE) and mprotect(PROT_READ|PROT_EXEC) fail with ENOMEM. */
static int refuse(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 5),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4096, 0, 8),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROT_READ | PROT_WRITE, 5, 6),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROT_READ | PROT_EXEC, 1, 2),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOMEM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int kernel_prot(void *p)
{
    wm_vma v;
    if (wm_vma_find(wm_space_self(), (uint64_t)p, &v, NULL, 0) != 0 || v.start > (uint64_t)p)
        return -1;
    return ((v.flags & WM_VMA_READ) ? PROT_READ : 0) | ((v.flags & WM_VMA_WRITE) ? PROT_WRITE : 0) |
           ((v.flags & WM_VMA_EXEC) ? PROT_EXEC : 0);
}

/* Every page of [a, a+n pages) as (state, protect, kernel prot). */
static void describe(char *a, unsigned n, DWORD *state, DWORD *prot, int *kprot)
{
    for (unsigned i = 0; i < n; i++) {
        MEMORY_BASIC_INFORMATION m;
        VirtualQuery(a + i * PG, &m, sizeof(m));
        state[i] = m.State;
        prot[i] = m.Protect;
        kprot[i] = kernel_prot(a + i * PG);
    }
}

#define N 32
static int same_as_before(char *a, const DWORD *s0, const DWORD *p0, const int *k0)
{
    DWORD s1[N], p1[N];
    int k1[N];
    describe(a, N, s1, p1, k1);
    for (unsigned i = 0; i < N; i++)
        if (s1[i] != s0[i] || p1[i] != p0[i] || k1[i] != k0[i])
            return 0;
    return 1;
}

static void child(void)
{
    DWORD s0[N], p0[N], old;
    int k0[N];
    /* a: six runs (C R C R C R), all the inline room there is, so the next
     * split must grow the run array, with mmap. b: committed pages of mixed
     * protection, for an mprotect the kernel refuses. */
    char *a = VirtualAlloc(NULL, N * PG, MEM_RESERVE, PAGE_READWRITE);
    char *b = VirtualAlloc(NULL, N * PG, MEM_RESERVE, PAGE_READWRITE);
    if (!a || !b || !VirtualAlloc(b, 4 * PG, MEM_COMMIT, PAGE_READWRITE) ||
        !VirtualProtect(b + PG, PG, PAGE_READONLY, &old) || !VirtualProtect(b + 3 * PG, PG, PAGE_READONLY, &old))
        _exit(10);
    for (unsigned i = 0; i < 3; i++)
        if (!VirtualAlloc(a + 2 * i * PG, PG, MEM_COMMIT, i % 2 ? PAGE_READONLY : PAGE_READWRITE))
            _exit(11);
    wm_region r;
    wm_registry_query((uint64_t)a, &r);
    uint64_t commit_before = r.commit_size;
    if (refuse() != 0)
        _exit(77);   /* no seccomp here: nothing can be made to fail */

    /* the registry cannot grow: the commit fails, nothing changes */
    describe(a, N, s0, p0, k0);
    SetLastError(0);
    if (VirtualAlloc(a + 20 * PG, PG, MEM_COMMIT, PAGE_READWRITE))
        _exit(13);
    if (GetLastError() != ERROR_NOT_ENOUGH_MEMORY || !same_as_before(a, s0, p0, k0))
        _exit(14);
    wm_registry_query((uint64_t)a, &r);
    if (r.commit_size != commit_before)
        _exit(15);

    /* the kernel refuses: protect and commit fail, nothing changes */
    describe(b, N, s0, p0, k0);
    if (VirtualProtect(b, 4 * PG, PAGE_EXECUTE_READ, &old) || !same_as_before(b, s0, p0, k0))
        _exit(17);
    if (VirtualAlloc(b + 2 * PG, 4 * PG, MEM_COMMIT, PAGE_EXECUTE_READ) || !same_as_before(b, s0, p0, k0))
        _exit(18);
    _exit(VirtualFree(a, 0, MEM_RELEASE) && VirtualFree(b, 0, MEM_RELEASE) ? 0 : 20);
}

static void test_failures_change_nothing(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        child();
    int st = 0;
    waitpid(pid, &st, 0);
    CU_ASSERT_TRUE(WIFEXITED(st));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        fprintf(stderr, "skipped: seccomp filters are not available\n");
        return;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st))
        fprintf(stderr, "child failed at step %d\n", WEXITSTATUS(st));
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("alloc-failures", NULL, NULL);
    WM_TEST(s, test_failures_change_nothing);
}
