/*
 * The Windows view of Linux facts (core/winview.h), held once for both of
 * its users: the rules themselves, the maps line parser, and a real process
 * walked both ways — `winmem maps`' text walk (cli/maps.c) and winmem's own
 * OpenProcess + VirtualQueryEx (core/query_model.c) — which must give the
 * same answers where both can know them, up to the same end of the user range.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "winmem/memory.h"
#include "winview.h"
#include "../cli/maps.h"

static void test_parse_line(void)
{
    char line[] = "7f0000200000-7f0000203000 rw-p 00001000 fe:01 4711       /data/file bin\n";
    char *nl = strchr(line, '\n');
    wm_vma v;
    const char *name;
    CU_ASSERT_TRUE_FATAL(wm_maps_line(line, nl, &v, &name));
    CU_ASSERT_EQUAL(v.start, 0x7f0000200000);
    CU_ASSERT_EQUAL(v.end, 0x7f0000203000);
    CU_ASSERT_EQUAL(v.flags, WM_VMA_READ | WM_VMA_WRITE);
    CU_ASSERT_EQUAL(v.offset, 0x1000);
    CU_ASSERT_EQUAL(v.dev_major, 0xfe);
    CU_ASSERT_EQUAL(v.dev_minor, 1);
    CU_ASSERT_EQUAL(v.inode, 4711);
    CU_ASSERT_EQUAL(v.page_size, wm_page_size());
    CU_ASSERT_STRING_EQUAL(name, "/data/file bin");   /* the newline became its end */

    char anon[] = "7f0000000000-7f0000100000 ---s 00000000 00:00 0 ";
    CU_ASSERT_TRUE_FATAL(wm_maps_line(anon, anon + strlen(anon), &v, &name));
    CU_ASSERT_EQUAL(v.flags, WM_VMA_SHARED);
    CU_ASSERT_STRING_EQUAL(name, "");

    const char *bad[] = { "7f00-", "7f00 7f01 rw-p 0 00:00 0", "7f00-7f01 rw-p 0 0000 0",
                          "7f01-7f00 rw-p 00000000 00:00 0", "" };   /* last-but-one: end before start */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char b[64];
        snprintf(b, sizeof b, "%s", bad[i]);
        CU_ASSERT_FALSE(wm_maps_line(b, b + strlen(b), &v, &name));
    }
}

static wm_vma vma(uint32_t flags, uint64_t inode, uint32_t maj, uint32_t min)
{
    return (wm_vma){ 0x10000, 0x20000, 0, inode, maj, min, flags, 4096 };
}

static void test_rules(void)
{
    enum { R = WM_VMA_READ, W = WM_VMA_WRITE, X = WM_VMA_EXEC, S = WM_VMA_SHARED };
    wm_vma v = vma(0, 0, 0, 0);                      /* private anonymous, no access */
    wm_view_attr a = wm_view_of(&v, false, false);
    CU_ASSERT_EQUAL(a.state, MEM_RESERVE);
    CU_ASSERT_EQUAL(a.protect, 0);
    CU_ASSERT_EQUAL(a.type, MEM_PRIVATE);
    CU_ASSERT_EQUAL(wm_view_alloc_protect(&v, &a, false), PAGE_NOACCESS);
    v = vma(0, 9, 8, 1);                             /* ld.so's gap inside an image */
    CU_ASSERT_EQUAL(wm_view_of(&v, true, false).state, MEM_RESERVE);
    a = wm_view_of(&v, false, false);                /* the same outside one: a no-access view */
    CU_ASSERT_EQUAL(a.state, MEM_COMMIT);
    CU_ASSERT_EQUAL(a.protect, PAGE_NOACCESS);
    CU_ASSERT_EQUAL(a.type, MEM_MAPPED);
    v = vma(R | W, 9, 8, 1);                         /* private writable file: copy-on-write */
    CU_ASSERT_TRUE(wm_view_cow_capable(&v));
    CU_ASSERT_EQUAL(wm_view_of(&v, false, false).protect, PAGE_WRITECOPY);
    CU_ASSERT_EQUAL(wm_view_of(&v, false, true).protect, PAGE_READWRITE);   /* copied */
    a = wm_view_of(&v, true, false);
    CU_ASSERT_EQUAL(a.type, MEM_IMAGE);
    CU_ASSERT_EQUAL(wm_view_alloc_protect(&v, &a, true), PAGE_EXECUTE_WRITECOPY);
    v = vma(R | W | X, 9, 8, 1);
    CU_ASSERT_EQUAL(wm_view_of(&v, false, false).protect, PAGE_EXECUTE_WRITECOPY);
    v = vma(R | W | S, 9, 0, 1);                     /* shared anonymous / memfd */
    CU_ASSERT_FALSE(wm_view_cow_capable(&v));
    CU_ASSERT_TRUE(wm_view_pagefile_backed(&v));
    a = wm_view_of(&v, false, false);
    CU_ASSERT_EQUAL(a.type, MEM_MAPPED);
    CU_ASSERT_EQUAL(a.protect, PAGE_READWRITE);
    v = vma(R | X, 0, 0, 0);
    a = wm_view_of(&v, false, false);
    CU_ASSERT_EQUAL(a.protect, PAGE_EXECUTE_READ);
    CU_ASSERT_EQUAL(wm_view_alloc_protect(&v, &a, false), PAGE_EXECUTE_READ);
    /* a view's AllocationProtect is its first VMA's */
    wm_vma first = vma(R | W, 9, 8, 1), next = first;
    next.start = first.end, next.end = first.end + 0x1000, next.offset = first.end - first.start;
    next.flags = R;
    CU_ASSERT_TRUE(wm_view_same_view(&first, &next));
    a = wm_view_of(&next, false, false);
    CU_ASSERT_EQUAL(wm_view_alloc_protect(&first, &a, false), PAGE_WRITECOPY);
    next.offset += 0x1000;                           /* offsets not consecutive: another view */
    CU_ASSERT_FALSE(wm_view_same_view(&first, &next));
    /* the 64 KiB guess for anonymous allocations */
    wm_vma anon = vma(R, 0, 0, 0);
    anon.start = 0x7f0000104000;
    CU_ASSERT_TRUE(wm_view_continues_anon(0x7f0000104000, &anon));
    anon.start = 0x7f0000110000;
    CU_ASSERT_FALSE(wm_view_continues_anon(0x7f0000110000, &anon));
}

static const wm_mregion *at(const wm_maps *m, uint64_t a)
{
    for (size_t i = 0; i < m->n; i++)
        if (a >= m->r[i].base && a - m->r[i].base < m->r[i].size)
            return &m->r[i];
    return NULL;
}

/* The user range ends at lpMaximumApplicationAddress + 1 (0x7fffffff0000):
 * a mapping in the 60 KiB above it is not described, one that straddles it
 * is cut there, and free space stops there. */
static void test_user_range_on_text(void)
{
    CU_ASSERT_EQUAL(wm_view_user_end(), 0x7fffffff0000);
    CU_ASSERT_EQUAL(wm_view_user_end(), wm_user_max() + 1);
    const char text[] =
        "7ffffffe0000-7fffffff8000 r--p 00000000 00:00 0 \n"
        "7fffffffe000-7ffffffff000 rw-p 00000000 00:00 0 \n"
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n";
    wm_maps m = { 0 };
    CU_ASSERT_EQUAL_FATAL(wm_maps_parse(&m, strdup(text), strlen(text)), 0);
    CU_ASSERT_FATAL(m.n >= 2);
    const wm_mregion *last = &m.r[m.n - 1];
    CU_ASSERT_EQUAL(last->base, 0x7ffffffe0000);
    CU_ASSERT_EQUAL(last->base + last->size, wm_view_user_end());
    CU_ASSERT_PTR_NULL(at(&m, 0x7fffffffe000));
    wm_maps_free(&m);
}

/* A child with a mapping at the top page of Linux's range, one straddling
 * the end of the Windows range, a reservation partly committed, a private
 * file view split by mprotect and shared anonymous memory. */
static pid_t layout_child(int fd, uint64_t *addrs, int n)
{
    int pfd[2];
    if (pipe(pfd))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char *res = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        mprotect(res + 65536, 16384, PROT_READ | PROT_WRITE);
        char *view = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        mprotect(view + 4096, 4096, PROT_READ);
        char *shm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        /* The stack may sit up there (ASLR): then it is the mapping tested. */
        mmap((void *)0x7ffffffe0000, 0x18000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        mmap((void *)0x7fffffffe000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        uint64_t a[4] = { (uintptr_t)res, (uintptr_t)view, (uintptr_t)shm, 0 };
        if (write(pfd[1], a, sizeof a) != sizeof a)
            _exit(1);
        pause();
        _exit(0);
    }
    close(pfd[1]);
    ssize_t got = read(pfd[0], addrs, (size_t)n * sizeof *addrs);
    close(pfd[0]);
    return got == (ssize_t)(n * sizeof *addrs) ? pid : -1;
}

/* alloc: compare AllocationBase/Protect too (not where the text walk applies
 * its 64 KiB guess, which VirtualQueryEx does not: docs/cli.md). */
static void same_region(const wm_maps *t, const wm_maps *api, uint64_t addr, bool alloc)
{
    const wm_mregion *x = at(t, addr), *y = at(api, addr);
    CU_ASSERT_FATAL(x != NULL && y != NULL);
    CU_ASSERT_EQUAL(x->state, y->state);
    CU_ASSERT_EQUAL(x->type, y->type);
    CU_ASSERT_EQUAL(x->protect, y->protect);
    if (alloc) {
        CU_ASSERT_EQUAL(x->alloc_base, y->alloc_base);
        CU_ASSERT_EQUAL(x->alloc_protect, y->alloc_protect);
    }
    if (x->state != y->state || x->protect != y->protect || (alloc && x->alloc_protect != y->alloc_protect))
        fprintf(stderr, "\n  at %#llx: text %#x/%#x/%#x, VirtualQueryEx %#x/%#x/%#x ",
                (unsigned long long)addr, x->state, x->protect, x->alloc_protect,
                y->state, y->protect, y->alloc_protect);
}

static void test_text_walk_matches_virtualqueryex(void)
{
    char tmpl[] = "/tmp/wm-winview-XXXXXX";
    int fd = mkstemp(tmpl);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(ftruncate(fd, 3 * 4096), 0);
    uint64_t a[4];
    pid_t pid = layout_child(fd, a, 4);
    CU_ASSERT_FATAL(pid > 0);
    wm_maps t, api;
    CU_ASSERT_EQUAL_FATAL(wm_maps_read(pid, &t, NULL, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(wm_maps_read_api(pid, &api), 0);

    /* both end where the Windows range ends */
    CU_ASSERT_EQUAL(t.r[t.n - 1].base + t.r[t.n - 1].size, wm_view_user_end());
    CU_ASSERT_EQUAL(api.r[api.n - 1].base + api.r[api.n - 1].size, wm_view_user_end());
    CU_ASSERT_PTR_NULL(at(&t, 0x7fffffffe000));
    CU_ASSERT_EQUAL(at(&t, 0x7ffffffe0000)->base + at(&t, 0x7ffffffe0000)->size, wm_view_user_end());

    /* the same rules at every region VirtualQueryEx reports */
    for (size_t i = 0; i < api.n; i++) {
        const wm_mregion *x = at(&t, api.r[i].base);
        CU_ASSERT_FATAL(x != NULL);
        CU_ASSERT_EQUAL(x->state, api.r[i].state);
        CU_ASSERT_EQUAL(x->type, api.r[i].type);
        if (x->state != api.r[i].state || x->type != api.r[i].type)
            fprintf(stderr, "\n  at %#llx (%s): text %#x/%#x, VirtualQueryEx %#x/%#x ",
                    (unsigned long long)api.r[i].base, x->name, x->state, x->type, api.r[i].state, api.r[i].type);
    }
    /* and every field where the text can know it (no pages copied here) */
    same_region(&t, &api, a[0], true);
    same_region(&t, &api, a[0] + 65536, true);
    same_region(&t, &api, a[0] + 65536 + 16384, false);
    for (int k = 0; k < 3; k++)
        same_region(&t, &api, a[1] + (uint64_t)k * 4096, true);
    same_region(&t, &api, a[2], true);
    same_region(&t, &api, 0x7ffffffe0000, true);
    CU_ASSERT_EQUAL(at(&t, a[1] + 4096)->alloc_protect, PAGE_WRITECOPY);   /* the view's first piece */
    CU_ASSERT_EQUAL(at(&t, a[2])->type, MEM_MAPPED);
    wm_maps_free(&t);
    wm_maps_free(&api);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fd);
    unlink(tmpl);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("winview", NULL, NULL);
    WM_TEST(s, test_parse_line);
    WM_TEST(s, test_rules);
    WM_TEST(s, test_user_range_on_text);
    WM_TEST(s, test_text_walk_matches_virtualqueryex);
}
