/*
 * `winmem maps` in Windows terms: derivation rules on fixed maps text, a
 * real child process with known allocations, and the permission refusal for
 * another user's process.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "winmem/memory.h"
#include "../cli/maps.h"

static const wm_mregion *at(const wm_maps *m, uint64_t a)
{
    for (size_t i = 0; i < m->n; i++)
        if (a >= m->r[i].base && a - m->r[i].base < m->r[i].size)
            return &m->r[i];
    return NULL;
}

/* Images are recognised from the files' own headers, so the fixed text
 * names real files, with their real device and inode (a file that is no
 * longer the one mapped is not read): this test program (ELF) and one of
 * Wine's PE DLLs. */
static void test_rules_on_fixed_text(void)
{
    char exe[1024], text[8192];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CU_ASSERT_FATAL(len > 0);
    exe[len] = 0;
    const char *dll = "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/kernelbase.dll";
    struct stat sd, se;
    CU_ASSERT_EQUAL_FATAL(stat(dll, &sd) | stat(exe, &se), 0);
    char d[64], e[64];
    snprintf(d, sizeof d, "%02x:%02x %llu", major(sd.st_dev), minor(sd.st_dev), (unsigned long long)sd.st_ino);
    snprintf(e, sizeof e, "%02x:%02x %llu", major(se.st_dev), minor(se.st_dev), (unsigned long long)se.st_ino);
    snprintf(text, sizeof text,
        "7b000000-7b001000 r--s 00000000 %s %s\n"                          /* PE headers */
        "7b001000-7b002000 r-xp 00000000 00:00 0 \n"                        /* a section Wine copied */
        "555555554000-555555556000 r--p 00000000 %s %s\n"
        "555555556000-555555558000 r-xp 00002000 %s %s\n"
        "555555558000-555555559000 rw-p 00004000 %s %s\n"
        "555555559000-55555555b000 rw-p 00000000 00:00 0 \n"                 /* .bss tail */
        "7f0000000000-7f0000100000 ---p 00000000 00:00 0 \n"                 /* a reservation */
        "7f0000100000-7f0000104000 rw-p 00000000 00:00 0 \n"
        "7f0000104000-7f0000110000 ---p 00000000 00:00 0 \n"                 /* its uncommitted rest */
        "7f0000200000-7f0000201000 r--p 00000000 08:01 200 /data/file.bin\n" /* a view */
        "7f0000201000-7f0000202000 r--p 00001000 08:01 200 /data/file.bin\n"
        "7f0000300000-7f0000301000 rw-s 00000000 00:01 400 /memfd:x (deleted)\n"
        "7ffff7fc1000-7ffff7fc3000 r-xp 00000000 00:00 0 [vdso]\n"
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n", d, dll, e, exe, e, exe, e, exe);
    wm_maps m = { 0 };
    CU_ASSERT_EQUAL_FATAL(wm_maps_parse(&m, strdup(text), strlen(text)), 0);
    const wm_mregion *r = at(&m, 0x555555556000);
    CU_ASSERT_EQUAL_FATAL(r != NULL, 1);
    CU_ASSERT_EQUAL(r->type, MEM_IMAGE);
    CU_ASSERT_EQUAL(r->protect, PAGE_EXECUTE_READ);
    CU_ASSERT_EQUAL(r->alloc_base, 0x555555554000);
    CU_ASSERT_EQUAL(r->alloc_protect, PAGE_EXECUTE_WRITECOPY);
    r = at(&m, 0x555555558000);
    CU_ASSERT_EQUAL(r->protect, PAGE_WRITECOPY);   /* private writable file data */
    r = at(&m, 0x55555555a000);
    CU_ASSERT_EQUAL(r->type, MEM_IMAGE);           /* .bss belongs to its image */
    CU_ASSERT_EQUAL(r->alloc_base, 0x555555554000);
    CU_ASSERT_STRING_EQUAL(r->name, exe);
    r = at(&m, 0x7b001000);
    CU_ASSERT_EQUAL(r->type, MEM_IMAGE);           /* inside kernelbase.dll's SizeOfImage */
    CU_ASSERT_EQUAL(r->alloc_base, 0x7b000000);
    CU_ASSERT_STRING_EQUAL(r->name, dll);
    r = at(&m, 0x7b000000);
    CU_ASSERT_EQUAL(r->protect, PAGE_READONLY);    /* shared: not copy-on-write */
    r = at(&m, 0x7f0000080000);
    CU_ASSERT_EQUAL(r->state, MEM_RESERVE);
    CU_ASSERT_EQUAL(r->protect, 0);
    CU_ASSERT_EQUAL(r->type, MEM_PRIVATE);
    r = at(&m, 0x7f0000101000);
    CU_ASSERT_EQUAL(r->state, MEM_COMMIT);
    CU_ASSERT_EQUAL(r->protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(r->alloc_base, 0x7f0000100000);   /* 64 KiB aligned: an allocation of its own */
    r = at(&m, 0x7f0000104000);
    CU_ASSERT_EQUAL(r->state, MEM_RESERVE);
    CU_ASSERT_EQUAL(r->alloc_base, 0x7f0000100000);   /* continues it off a 64 KiB boundary */
    CU_ASSERT_EQUAL(r->alloc_protect, PAGE_READWRITE);
    r = at(&m, 0x7f0000201000);
    CU_ASSERT_EQUAL(r->type, MEM_MAPPED);              /* no such file: not an image */
    CU_ASSERT_EQUAL(r->alloc_base, 0x7f0000200000);  /* one view: consistent offsets */
    CU_ASSERT_EQUAL(r->base, 0x7f0000200000);        /* equal attributes: one region */
    CU_ASSERT_EQUAL(r->size, 0x2000);
    r = at(&m, 0x7f0000300000);
    CU_ASSERT_EQUAL(r->type, MEM_MAPPED);
    CU_ASSERT_EQUAL(r->protect, PAGE_READWRITE);     /* shared: writes are not copies */
    r = at(&m, 0x7ffff7fc1000);
    CU_ASSERT_EQUAL(r->type, MEM_IMAGE);
    r = at(&m, 0x7f0000150000);
    CU_ASSERT_EQUAL(r->state, MEM_FREE);
    CU_ASSERT_EQUAL(r->base, 0x7f0000110000);
    CU_ASSERT_EQUAL(r->size, 0x7f0000200000 - 0x7f0000110000);
    CU_ASSERT_PTR_NULL(at(&m, 0xffffffffff600000));  /* above the user range */
    CU_ASSERT_EQUAL(m.r[0].state, MEM_FREE);         /* from address 0 */
    CU_ASSERT_EQUAL(m.r[0].base, 0);
    wm_maps_free(&m);
}

/* A child with a reservation, a committed read-only block inside it and a
 * shared file view; the parent reads its map as `winmem maps PID` does. */
static void test_real_child(void)
{
    int pfd[2];
    CU_ASSERT_EQUAL_FATAL(pipe(pfd), 0);
    char tmpl[] = "/tmp/wm-cli-maps-XXXXXX";
    int fd = mkstemp(tmpl);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(ftruncate(fd, 8192), 0);
    pid_t pid = fork();
    if (pid == 0) {
        char *res = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        mprotect(res + 65536, 16384, PROT_READ);
        char *view = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        uint64_t a[2] = { (uint64_t)(uintptr_t)res, (uint64_t)(uintptr_t)view };
        if (write(pfd[1], a, sizeof a) != sizeof a)
            _exit(1);
        pause();
        _exit(0);
    }
    uint64_t a[2];
    CU_ASSERT_EQUAL_FATAL(read(pfd[0], a, sizeof a), (ssize_t)sizeof a);
    wm_maps m;
    CU_ASSERT_EQUAL_FATAL(wm_maps_read(pid, &m, NULL, NULL), 0);
    const wm_mregion *r = at(&m, a[0]);
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT_EQUAL(r->state, MEM_RESERVE);
    CU_ASSERT_EQUAL(r->size, 65536);
    r = at(&m, a[0] + 65536);
    CU_ASSERT_EQUAL(r->state, MEM_COMMIT);
    CU_ASSERT_EQUAL(r->protect, PAGE_READONLY);
    CU_ASSERT_EQUAL(r->base, a[0] + 65536);
    CU_ASSERT_EQUAL(r->size, 16384);
    CU_ASSERT_EQUAL(r->type, MEM_PRIVATE);
    r = at(&m, a[0] + 65536 + 16384);
    CU_ASSERT_EQUAL(r->state, MEM_RESERVE);
    CU_ASSERT_EQUAL(r->base + r->size, a[0] + (1 << 20));
    r = at(&m, a[1]);
    CU_ASSERT_EQUAL(r->type, MEM_MAPPED);
    CU_ASSERT_EQUAL(r->protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(r->size, 8192);
    CU_ASSERT_STRING_EQUAL(r->name, tmpl);
    wm_maps_free(&m);
    /* winmem's own API (OpenProcess + VirtualQueryEx) sees the same */
    CU_ASSERT_EQUAL_FATAL(wm_maps_read_api(pid, &m), 0);
    r = at(&m, a[0] + 65536);
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT_EQUAL(r->state, MEM_COMMIT);
    CU_ASSERT_EQUAL(r->protect, PAGE_READONLY);
    CU_ASSERT_EQUAL(r->size, 16384);
    r = at(&m, a[0]);
    CU_ASSERT_EQUAL(r->state, MEM_RESERVE);
    r = at(&m, a[1]);
    CU_ASSERT_EQUAL(r->type, MEM_MAPPED);
    CU_ASSERT_STRING_EQUAL(r->name, tmpl);
    wm_maps_free(&m);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fd);
    unlink(tmpl);
    close(pfd[0]);
    close(pfd[1]);
}

/* As another user (uid 65534) the kernel's ptrace read check refuses our
 * (root's) map: the reader must say -EACCES, which `winmem maps` turns into
 * the permission message (checked end to end in tests/e2e/cli_maps.sh). */
static void test_other_user_is_refused(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "(not root: checking refusal of pid 1 instead) ");
    }
    pid_t target = geteuid() == 0 ? getpid() : 1;
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
            _exit(10);
        wm_maps m;
        int rc = wm_maps_read(target, &m, NULL, NULL);
        _exit(rc == -EACCES ? 0 : 11);
    }
    int st;
    waitpid(pid, &st, 0);
    CU_ASSERT_TRUE(WIFEXITED(st));
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("cli maps", NULL, NULL);
    WM_TEST(s, test_rules_on_fixed_text);
    WM_TEST(s, test_real_child);
    WM_TEST(s, test_other_user_is_refused);
}
