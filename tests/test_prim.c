/* prim_linux.c / prim_image.c against the real kernel: the ioctl and the text
 * fallback agree, fork reopens, a vanished main thread and an exited process
 * are handled, pagemap bits mean what prim.h says, fault-safe copies. */
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "prim.h"

enum { MAXV = 4096 };
typedef struct { wm_vma v; char name[128]; } named;

static int walk(wm_space *sp, named *out)
{
    int n = 0;
    uint64_t a = 0;
    while (n < MAXV && wm_vma_find(sp, a, &out[n].v, out[n].name, sizeof out[n].name) == 0) {
        a = out[n].v.end;
        n++;
    }
    return n;
}

static void test_text_fallback_matches_ioctl(void)
{
    static named a[MAXV], b[MAXV];
    wm_space *sp = wm_space_self();
    CU_ASSERT_TRUE_FATAL(wm_space_has_procmap_query(sp));   /* 6.11+ kernel here */
    walk(sp, a);                        /* warm up: lazily mapped things settle */
    wm_prim_force_text_maps(true);
    CU_ASSERT_FALSE(wm_space_has_procmap_query(sp));
    walk(sp, b);
    int nb = walk(sp, b);
    wm_prim_force_text_maps(false);
    int na = walk(sp, a);
    CU_ASSERT_TRUE(na > 5);
    CU_ASSERT_EQUAL(na, nb);
    for (int i = 0; i < na && i < nb; i++) {
        CU_ASSERT_EQUAL(a[i].v.start, b[i].v.start);
        CU_ASSERT_EQUAL(a[i].v.end, b[i].v.end);
        CU_ASSERT_EQUAL(a[i].v.flags, b[i].v.flags);
        CU_ASSERT_EQUAL(a[i].v.offset, b[i].v.offset);
        CU_ASSERT_EQUAL(a[i].v.inode, b[i].v.inode);
        CU_ASSERT_EQUAL(a[i].v.dev_minor, b[i].v.dev_minor);
        CU_ASSERT_STRING_EQUAL(a[i].name, b[i].name);
    }
}

static void test_free_above_last_vma(void)
{
    wm_vma v;
    /* [vsyscall] is in the text above the user range; neither path returns it. */
    CU_ASSERT_EQUAL(wm_vma_find(wm_space_self(), 0x7ffffffff000ULL, &v, NULL, 0), -ENOENT);
    wm_prim_force_text_maps(true);
    CU_ASSERT_EQUAL(wm_vma_find(wm_space_self(), 0x7ffffffff000ULL, &v, NULL, 0), -ENOENT);
    wm_prim_force_text_maps(false);
}

static void test_fork_child_sees_its_own_space(void)
{
    wm_vma v;
    wm_vma_find(wm_space_self(), 0, &v, NULL, 0);   /* parent's fd is open now */
    char *x = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(x != MAP_FAILED);
    pid_t pid = fork();
    if (pid == 0) {
        munmap(x, 8192);
        char *y = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        int bad = 0;
        if (wm_vma_find(wm_space_self(), (uint64_t)(uintptr_t)y, &v, NULL, 0) != 0 ||
            v.start != (uint64_t)(uintptr_t)y || v.flags != (WM_VMA_READ | WM_VMA_WRITE | WM_VMA_EXEC))
            bad |= 1;
        if (wm_vma_find(wm_space_self(), (uint64_t)(uintptr_t)x, &v, NULL, 0) == 0 &&
            v.start <= (uint64_t)(uintptr_t)x)
            bad |= 2;   /* would mean the parent's space is still answering */
        _exit(bad);
    }
    int st;
    waitpid(pid, &st, 0);
    CU_ASSERT_TRUE(WIFEXITED(st));
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
    munmap(x, 8192);
}

static void *after_main_exit(void *arg)
{
    usleep(100 * 1000);   /* let the main thread be gone */
    wm_vma v;
    int r = wm_vma_find(wm_space_self(), (uint64_t)(uintptr_t)arg, &v, NULL, 0);
    _exit(r == 0 && v.start <= (uint64_t)(uintptr_t)arg ? 0 : 10 - r);
}

static void test_main_thread_exited(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        pthread_t t;
        pthread_create(&t, NULL, after_main_exit, m);
        pthread_exit(NULL);
    }
    int st;
    waitpid(pid, &st, 0);
    CU_ASSERT_TRUE(WIFEXITED(st));
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
}

static void test_exited_process_is_esrch(void)
{
    for (int text = 0; text < 2; text++) {
        wm_prim_force_text_maps(text);
        pid_t pid = fork();
        if (pid == 0) {
            pause();
            _exit(0);
        }
        wm_space *sp;
        CU_ASSERT_EQUAL_FATAL(wm_space_open(pid, &sp), 0);
        CU_ASSERT_EQUAL(wm_space_has_procmap_query(sp), !text);
        wm_vma v;
        CU_ASSERT_EQUAL(wm_vma_find(sp, 0, &v, NULL, 0), 0);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        CU_ASSERT_EQUAL(wm_vma_find(sp, 0, &v, NULL, 0), -ESRCH);
        wm_space_close(sp);
    }
    wm_prim_force_text_maps(false);
}

static void test_pagemap_bits(void)
{
    char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t pm[3];
    m[4096] = 1;
    CU_ASSERT_EQUAL_FATAL(wm_pagemap_read(wm_space_self(), (uint64_t)(uintptr_t)m, 3, pm), 0);
    CU_ASSERT_FALSE(!!(pm[0] & WM_PM_PRESENT));
    CU_ASSERT_TRUE(!!(pm[1] & WM_PM_PRESENT));
    CU_ASSERT_TRUE(!!(pm[1] & WM_PM_EXCLUSIVE));
    CU_ASSERT_FALSE(!!(pm[1] & WM_PM_FILE_SHARED));
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t c;
        wm_pagemap_read(wm_space_self(), (uint64_t)(uintptr_t)m + 4096, 1, &c);
        _exit((c & WM_PM_PRESENT) && !(c & WM_PM_EXCLUSIVE) ? 0 : 1);   /* shared CoW */
    }
    int st;
    waitpid(pid, &st, 0);
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
    munmap(m, 3 * 4096);
}

static void test_images(void)
{
    uint64_t s, e;
    char path[512];
    CU_ASSERT_EQUAL_FATAL(wm_image_find(wm_space_self(), (uint64_t)(uintptr_t)gnu_get_libc_version, &s, &e, path, sizeof path), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(path, "libc"));
    CU_ASSERT_TRUE(s <= (uint64_t)(uintptr_t)gnu_get_libc_version && (uint64_t)(uintptr_t)gnu_get_libc_version < e);
    void *heap = malloc(64);
    CU_ASSERT_EQUAL(wm_image_find(wm_space_self(), (uint64_t)(uintptr_t)heap, &s, &e, NULL, 0), -ENOENT);
    free(heap);

    /* Another process: its libc span from the ELF headers equals the span
     * our own loader reports for the same file. */
    uint64_t ls, le;
    wm_image_find(wm_space_self(), (uint64_t)(uintptr_t)gnu_get_libc_version, &ls, &le, NULL, 0);
    pid_t pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    wm_space *sp;
    CU_ASSERT_EQUAL_FATAL(wm_space_open(pid, &sp), 0);
    /* A fork child has our layout; ask at our libc's code address. */
    CU_ASSERT_EQUAL(wm_image_find(sp, (uint64_t)(uintptr_t)gnu_get_libc_version, &s, &e, path, sizeof path), 0);
    CU_ASSERT_EQUAL(s, ls);
    CU_ASSERT_EQUAL(e, le);
    CU_ASSERT_PTR_NOT_NULL(strstr(path, "libc"));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    wm_space_close(sp);
}

static void test_fault_safe_access(void)
{
    char *m = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(m + 4096, 4096, PROT_READ);
    char local[16] = "abc";
    CU_ASSERT_TRUE(wm_self_readable(local, sizeof local));
    CU_ASSERT_TRUE(wm_self_writable(local, sizeof local));
    CU_ASSERT_STRING_EQUAL(local, "abc");
    CU_ASSERT_FALSE(wm_self_readable(NULL, 8));
    CU_ASSERT_FALSE(wm_self_writable(NULL, 8));
    CU_ASSERT_TRUE(wm_self_writable(m, 4096));
    CU_ASSERT_TRUE(wm_self_readable(m + 4096, 4096));
    CU_ASSERT_FALSE(wm_self_writable(m + 4096, 16));
    CU_ASSERT_FALSE(wm_self_writable(m + 4090, 16));   /* straddles into read-only */
    CU_ASSERT_FALSE(wm_self_write(m + 4096, local, 4));
    CU_ASSERT_TRUE(wm_self_write(m, local, 4));
    CU_ASSERT_STRING_EQUAL(m, "abc");
    munmap(m, 2 * 4096);
}

/* A mapped file whose path is longer than PATH_MAX: PROCMAP_QUERY refuses
 * the name (ENAMETOOLONG); the VMA is still reported. */
static void test_name_too_long(void)
{
    char comp[201];
    memset(comp, 'd', 200);
    comp[200] = 0;
    int dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
    CU_ASSERT_FATAL(dfd >= 0);
    mkdirat(dfd, "wm-prim-long", 0700);
    int cur = openat(dfd, "wm-prim-long", O_RDONLY | O_DIRECTORY);
    close(dfd);
    for (int i = 0; i < 22 && cur >= 0; i++) {   /* 22 x 201 bytes > 4096 */
        mkdirat(cur, comp, 0700);
        int next = openat(cur, comp, O_RDONLY | O_DIRECTORY);
        close(cur);
        cur = next;
    }
    CU_ASSERT_FATAL(cur >= 0);
    int fd = openat(cur, "f", O_RDWR | O_CREAT, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(ftruncate(fd, 4096), 0);
    char *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    CU_ASSERT_FATAL(m != MAP_FAILED);
    wm_vma v;
    char name[256] = "x";
    CU_ASSERT_EQUAL(wm_vma_find(wm_space_self(), (uint64_t)(uintptr_t)m, &v, name, sizeof name), 0);
    CU_ASSERT_EQUAL(v.start, (uint64_t)(uintptr_t)m);
    CU_ASSERT_TRUE(v.inode != 0);
    CU_ASSERT_TRUE(strlen(name) < sizeof name);
    munmap(m, 4096);
    close(fd);
    close(cur);
    CU_ASSERT_EQUAL(system("rm -rf /tmp/wm-prim-long"), 0);
}

/* A registered image (what the shim does for Wine's PE images) is found
 * like an ELF one, and forgotten when unregistered. */
static void test_registered_image(void)
{
    char *m = mmap(NULL, 8 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t a = (uint64_t)(uintptr_t)m, s, e;
    char path[64];
    CU_ASSERT_EQUAL(wm_image_find(wm_space_self(), a + 4096, &s, &e, NULL, 0), -ENOENT);
    CU_ASSERT_TRUE(wm_image_register(a, a + 8 * 4096, "/x/app.exe"));
    CU_ASSERT_TRUE(wm_image_register(a, a + 6 * 4096, "/x/app.exe"));   /* replaces */
    CU_ASSERT_EQUAL(wm_image_find(wm_space_self(), a + 4096, &s, &e, path, sizeof path), 0);
    CU_ASSERT_EQUAL(s, a);
    CU_ASSERT_EQUAL(e, a + 6 * 4096);
    CU_ASSERT_STRING_EQUAL(path, "/x/app.exe");
    CU_ASSERT_EQUAL(wm_image_find(wm_space_self(), a + 7 * 4096, &s, &e, NULL, 0), -ENOENT);
    wm_image_unregister(a);
    CU_ASSERT_EQUAL(wm_image_find(wm_space_self(), a + 4096, &s, &e, NULL, 0), -ENOENT);
    munmap(m, 8 * 4096);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("prim", NULL, NULL);
    WM_TEST(s, test_text_fallback_matches_ioctl);
    WM_TEST(s, test_free_above_last_vma);
    WM_TEST(s, test_fork_child_sees_its_own_space);
    WM_TEST(s, test_main_thread_exited);
    WM_TEST(s, test_exited_process_is_esrch);
    WM_TEST(s, test_pagemap_bits);
    WM_TEST(s, test_images);
    WM_TEST(s, test_fault_safe_access);
    WM_TEST(s, test_name_too_long);
    WM_TEST(s, test_registered_image);
}
