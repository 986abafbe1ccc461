/* The registry against a plain per-page model: every query must agree with
 * what a page-by-page array says, through random commits, decommits and
 * guard disarms, and failure paths must leave the registry unchanged. */
#include <stdlib.h>
#include "unit.h"
#include "internal.h"
#include "registry.h"

#define PG 4096ull
/* Addresses the registry only records; nothing is mapped there. */
#define FAKE_BASE 0x7e0000000000ull

static void test_add_query_remove(void)
{
    wm_region r;
    uint64_t b = FAKE_BASE;
    CU_ASSERT_FALSE(wm_registry_query(b, &r));
    CU_ASSERT_TRUE_FATAL(wm_registry_add(b, 0x10000, PAGE_READWRITE, WM_KIND_PLAIN));
    CU_ASSERT_TRUE_FATAL(wm_registry_query(b + 0x1234, &r));
    CU_ASSERT_EQUAL(r.base, b + 0x1000);
    CU_ASSERT_EQUAL(r.size, 0xf000);
    CU_ASSERT_EQUAL(r.alloc_base, b);
    CU_ASSERT_EQUAL(r.alloc_size, 0x10000);
    CU_ASSERT_EQUAL(r.state, MEM_RESERVE);
    CU_ASSERT_EQUAL(r.protect, 0);
    CU_ASSERT_EQUAL(r.alloc_protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(r.type, MEM_PRIVATE);
    CU_ASSERT_EQUAL(r.commit_size, 0);
    CU_ASSERT_FALSE(wm_registry_query(b + 0x10000, &r));
    CU_ASSERT_FALSE(wm_registry_query(b - 1, &r));
    CU_ASSERT_FALSE(wm_registry_remove(b + 0x1000));   /* not a base */
    CU_ASSERT_TRUE(wm_registry_remove(b));
    CU_ASSERT_FALSE(wm_registry_query(b, &r));
    CU_ASSERT_FALSE(wm_registry_remove(b));
}

static void test_set_pages_split_and_coalesce(void)
{
    wm_region r;
    uint64_t b = FAKE_BASE;
    CU_ASSERT_TRUE_FATAL(wm_registry_add(b, 0x10000, PAGE_NOCACHE | PAGE_READONLY, WM_KIND_PLAIN));
    CU_ASSERT_TRUE(wm_registry_set_pages(b + 0x2000, 0x3000, MEM_COMMIT, PAGE_READWRITE));
    CU_ASSERT_TRUE(wm_registry_query(b, &r));
    CU_ASSERT_EQUAL(r.size, 0x2000);
    CU_ASSERT_TRUE(wm_registry_query(b + 0x2000, &r));
    CU_ASSERT_EQUAL(r.state, MEM_COMMIT);
    CU_ASSERT_EQUAL(r.protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(r.size, 0x3000);
    CU_ASSERT_EQUAL(r.commit_size, 0x3000);
    /* a hole in the middle, then filled again: one region once more */
    CU_ASSERT_TRUE(wm_registry_set_pages(b + 0x3000, 0x1000, MEM_COMMIT, PAGE_READONLY));
    CU_ASSERT_TRUE(wm_registry_query(b + 0x2000, &r));
    CU_ASSERT_EQUAL(r.size, 0x1000);
    CU_ASSERT_TRUE(wm_registry_set_pages(b + 0x3000, 0x1000, MEM_COMMIT, PAGE_READWRITE));
    CU_ASSERT_TRUE(wm_registry_query(b + 0x2000, &r));
    CU_ASSERT_EQUAL(r.size, 0x3000);
    /* a range crossing the end of the reservation is refused, nothing changes */
    CU_ASSERT_FALSE(wm_registry_set_pages(b + 0xf000, 0x2000, MEM_COMMIT, PAGE_READWRITE));
    CU_ASSERT_FALSE(wm_registry_set_pages(b + 0x10000, 0x1000, MEM_COMMIT, PAGE_READWRITE));
    CU_ASSERT_TRUE(wm_registry_query(b + 0xf000, &r));
    CU_ASSERT_EQUAL(r.state, MEM_RESERVE);
    CU_ASSERT_EQUAL(r.commit_size, 0x3000);
    CU_ASSERT_TRUE(wm_registry_set_pages(b, 0x10000, MEM_RESERVE, 0));
    CU_ASSERT_TRUE(wm_registry_query(b + 0x5000, &r));
    CU_ASSERT_EQUAL(r.base, b + 0x5000);
    CU_ASSERT_EQUAL(r.size, 0xb000);
    CU_ASSERT_EQUAL(r.commit_size, 0);
    CU_ASSERT_TRUE(wm_registry_remove(b));
}

static void test_disarm_guard(void)
{
    wm_region r;
    uint32_t prot = 0;
    uint64_t b = FAKE_BASE;
    CU_ASSERT_TRUE_FATAL(wm_registry_add(b, 0x10000, PAGE_READWRITE | PAGE_GUARD, WM_KIND_PLAIN));
    CU_ASSERT_FALSE(wm_registry_disarm_guard(b, &prot));   /* reserved: nothing armed */
    CU_ASSERT_TRUE(wm_registry_set_pages(b, 0x3000, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD));
    CU_ASSERT_TRUE(wm_registry_disarm_guard(b + 0x1010, &prot));
    CU_ASSERT_EQUAL(prot, PAGE_READWRITE);
    CU_ASSERT_FALSE(wm_registry_disarm_guard(b + 0x1010, &prot));   /* one shot */
    CU_ASSERT_TRUE(wm_registry_query(b, &r));
    CU_ASSERT_EQUAL(r.protect, PAGE_READWRITE | PAGE_GUARD);
    CU_ASSERT_EQUAL(r.size, 0x1000);
    CU_ASSERT_TRUE(wm_registry_query(b + 0x1000, &r));
    CU_ASSERT_EQUAL(r.protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(r.alloc_protect, PAGE_READWRITE | PAGE_GUARD);
    CU_ASSERT_EQUAL(r.size, 0x1000);
    CU_ASSERT_FALSE(wm_registry_disarm_guard(b + 0x20000, &prot));
    CU_ASSERT_TRUE(wm_registry_remove(b));
}

/* Random operations on a few reservations, checked page by page against a
 * model. Many runs per reservation exercise the mmap'd run arrays. */
#define NRES 5
#define NPG 300
static uint32_t model[NRES][NPG];   /* 0 = reserved, else 0x80000000|prot */

static void check_model(uint64_t *base)
{
    for (int k = 0; k < NRES; k++) {
        uint64_t committed = 0;
        for (int p = 0; p < NPG; p++)
            committed += model[k][p] != 0;
        for (int p = 0; p < NPG; p++) {
            wm_region r;
            if (!wm_registry_query(base[k] + p * PG + 7, &r)) {
                CU_FAIL("page not found");
                return;
            }
            int q = p;
            while (q < NPG && model[k][q] == model[k][p])
                q++;
            if (r.base != base[k] + p * PG || r.size != (uint64_t)(q - p) * PG ||
                r.state != (model[k][p] ? MEM_COMMIT : MEM_RESERVE) ||
                r.protect != (model[k][p] & 0xffff) || r.commit_size != committed * PG ||
                r.alloc_base != base[k]) {
                CU_FAIL("registry disagrees with the page model");
                return;
            }
        }
    }
}

static void test_random_against_model(void)
{
    static const uint32_t prots[] = { PAGE_READWRITE, PAGE_READONLY, PAGE_NOACCESS,
                                      PAGE_READWRITE | PAGE_GUARD, PAGE_EXECUTE_READ };
    uint64_t base[NRES];
    srand(12345);
    for (int k = 0; k < NRES; k++) {
        base[k] = FAKE_BASE + (uint64_t)k * 0x200000;
        CU_ASSERT_TRUE_FATAL(wm_registry_add(base[k], NPG * PG, PAGE_READWRITE, WM_KIND_PLAIN));
        for (int p = 0; p < NPG; p++)
            model[k][p] = 0;
    }
    for (int it = 0; it < 4000; it++) {
        int k = rand() % NRES;
        int p0 = rand() % NPG, n = 1 + rand() % (rand() % 4 ? 4 : NPG);
        if (p0 + n > NPG)
            n = NPG - p0;
        int op = rand() % 10;
        if (op < 6) {
            uint32_t prot = prots[rand() % 5];
            CU_ASSERT_TRUE(wm_registry_set_pages(base[k] + p0 * PG, n * PG, MEM_COMMIT, prot));
            for (int p = p0; p < p0 + n; p++)
                model[k][p] = 0x80000000u | prot;
        } else if (op < 8) {
            CU_ASSERT_TRUE(wm_registry_set_pages(base[k] + p0 * PG, n * PG, MEM_RESERVE, 0));
            for (int p = p0; p < p0 + n; p++)
                model[k][p] = 0;
        } else {
            uint32_t prot = 0;
            bool armed = model[k][p0] && (model[k][p0] & PAGE_GUARD);
            CU_ASSERT_EQUAL(wm_registry_disarm_guard(base[k] + p0 * PG, &prot), armed);
            if (armed) {
                model[k][p0] &= ~(uint32_t)PAGE_GUARD;
                CU_ASSERT_EQUAL(prot, model[k][p0] & 0xffff);
            }
        }
        if (it % 200 == 0)
            check_model(base);
    }
    check_model(base);
    for (int k = 0; k < NRES; k++)
        CU_ASSERT_TRUE(wm_registry_remove(base[k]));
}

static void test_many_reservations_sorted(void)
{
    enum { N = 2000 };
    wm_region r;
    /* inserted in a scrambled order; every one must be found, none between */
    for (int i = 0; i < N; i++) {
        uint64_t k = (uint64_t)((i * 7919) % N);
        CU_ASSERT_TRUE_FATAL(wm_registry_add(FAKE_BASE + k * 0x20000, 0x10000, PAGE_READONLY, 0));
    }
    for (int k = 0; k < N; k++) {
        uint64_t b = FAKE_BASE + (uint64_t)k * 0x20000;
        if (!wm_registry_query(b + 0xffff, &r) || r.alloc_base != b)
            CU_FAIL("reservation lost");
        if (wm_registry_query(b + 0x10000, &r))
            CU_FAIL("gap reported as allocated");
    }
    for (int k = 0; k < N; k += 2)
        CU_ASSERT_TRUE(wm_registry_remove(FAKE_BASE + (uint64_t)k * 0x20000));
    for (int k = 0; k < N; k++)
        if (wm_registry_query(FAKE_BASE + (uint64_t)k * 0x20000, &r) != (k % 2 == 1))
            CU_FAIL("remove took the wrong entry");
    for (int k = 1; k < N; k += 2)
        CU_ASSERT_TRUE(wm_registry_remove(FAKE_BASE + (uint64_t)k * 0x20000));
}

/* Run lengths come from run boundaries, never from walking pages: a 64 TiB
 * reservation answers with exact sizes (page indexes far above 2^32). */
static void test_huge_reservation(void)
{
    wm_region r;
    uint64_t b = 0x100000000000ull, size = 64ull << 40, pg = 4096;
    CU_ASSERT_TRUE_FATAL(wm_registry_add(b, size, PAGE_READWRITE, WM_KIND_PLAIN));
    CU_ASSERT_TRUE(wm_registry_set_pages(b + size - pg, pg, MEM_COMMIT, PAGE_READONLY));
    CU_ASSERT_TRUE(wm_registry_set_pages(b + (size >> 1), 3 * pg, MEM_COMMIT, PAGE_READWRITE));
    CU_ASSERT_TRUE(wm_registry_query(b + 5 * pg, &r));
    CU_ASSERT_EQUAL(r.size, (size >> 1) - 5 * pg);
    CU_ASSERT_EQUAL(r.commit_size, 4 * pg);
    CU_ASSERT_TRUE(wm_registry_query(b + (size >> 1) + pg, &r));
    CU_ASSERT_EQUAL(r.base, b + (size >> 1) + pg);
    CU_ASSERT_EQUAL(r.size, 2 * pg);
    CU_ASSERT_TRUE(wm_registry_query(b + size - 1, &r));
    CU_ASSERT_EQUAL(r.state, MEM_COMMIT);
    CU_ASSERT_EQUAL(r.protect, PAGE_READONLY);
    CU_ASSERT_EQUAL(r.size, pg);
    CU_ASSERT_TRUE(wm_registry_query(b + size - 2 * pg, &r));
    CU_ASSERT_EQUAL(r.state, MEM_RESERVE);
    CU_ASSERT_EQUAL(r.base + r.size, b + size - pg);
    CU_ASSERT_TRUE(wm_registry_remove(b));
}

/* Foreign allocations (the shim's model of Wine's memory): recorded whole,
 * replaced where they overlap, dropped by range, never over winmem's own;
 * a stale generation records nothing. */
static void test_foreign_replace(void)
{
    wm_region r;
    uint64_t b = FAKE_BASE + 0x40000000ull;
    wm_alloc_desc d = { b, 0x10000, PAGE_READWRITE, MEM_MAPPED, 0, WM_KIND_LEARNED };
    wm_page_run runs[] = { { b, 0x10000, MEM_COMMIT, PAGE_WRITECOPY }, { b + 0x2000, 0x1000, MEM_COMMIT, PAGE_READONLY } };
    CU_ASSERT_TRUE_FATAL(wm_registry_replace(&d, runs, 2, 0));
    CU_ASSERT_TRUE(wm_registry_query(b + 0x2000, &r));
    CU_ASSERT_EQUAL(r.type, MEM_MAPPED);
    CU_ASSERT_EQUAL(r.protect, PAGE_READONLY);
    CU_ASSERT_EQUAL(r.size, 0x1000);
    CU_ASSERT_EQUAL(r.kind, WM_KIND_LEARNED);
    CU_ASSERT_TRUE(wm_registry_query(b + 0x3000, &r));
    CU_ASSERT_EQUAL(r.protect, PAGE_WRITECOPY);
    CU_ASSERT_EQUAL(r.size, 0xd000);

    /* A second, overlapping picture replaces the first entirely. */
    wm_alloc_desc d2 = { b + 0x8000, 0x10000, PAGE_NOACCESS, MEM_PRIVATE, 0, WM_KIND_FED };
    CU_ASSERT_TRUE_FATAL(wm_registry_replace(&d2, NULL, 0, 0));
    CU_ASSERT_FALSE(wm_registry_query(b, &r));
    CU_ASSERT_TRUE(wm_registry_query(b + 0x8000, &r));
    CU_ASSERT_EQUAL(r.state, MEM_RESERVE);
    CU_ASSERT_EQUAL(r.alloc_base, b + 0x8000);

    /* Stale: the generation moved since it was read. */
    uint64_t gen = wm_registry_generation();
    CU_ASSERT_TRUE(wm_registry_set_pages(b + 0x8000, 0x1000, MEM_COMMIT, PAGE_READWRITE));
    CU_ASSERT_FALSE(wm_registry_replace(&d, runs, 2, gen));
    CU_ASSERT_FALSE(wm_registry_query(b, &r));

    /* A removal where nothing was still advances the generation: a picture
     * taken before it (another thread's walk of Wine) is refused. */
    gen = wm_registry_generation();
    CU_ASSERT_EQUAL(wm_registry_remove_range(b + 0x100000, 0x10000), 0);
    CU_ASSERT_FALSE(wm_registry_replace(&d, runs, 2, gen));
    CU_ASSERT_TRUE(wm_registry_replace(&d, runs, 2, wm_registry_generation()));
    CU_ASSERT_EQUAL(wm_registry_remove_range(b, 0x10000), 1);

    /* winmem's own entry wins: never replaced, never removed by range, and
     * it displaces the foreign entries it overlaps. */
    CU_ASSERT_TRUE_FATAL(wm_registry_add(b + 0x10000, 0x10000, PAGE_READWRITE, WM_KIND_PLAIN));
    CU_ASSERT_TRUE(wm_registry_query(b + 0x8000, &r) == false);
    CU_ASSERT_FALSE(wm_registry_replace(&d2, NULL, 0, 0));
    CU_ASSERT_EQUAL(wm_registry_remove_range(b, 0x40000), 0);
    CU_ASSERT_TRUE(wm_registry_query(b + 0x10000, &r));
    CU_ASSERT_EQUAL(r.kind, WM_KIND_PLAIN);
    CU_ASSERT_TRUE(wm_registry_replace(&d, runs, 2, 0));
    CU_ASSERT_EQUAL(wm_registry_remove_range(b, 0x40000), 1);
    CU_ASSERT_TRUE(wm_registry_remove(b + 0x10000));
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("registry", NULL, NULL);
    WM_TEST(s, test_add_query_remove);
    WM_TEST(s, test_set_pages_split_and_coalesce);
    WM_TEST(s, test_disarm_guard);
    WM_TEST(s, test_random_against_model);
    WM_TEST(s, test_many_reservations_sorted);
    WM_TEST(s, test_huge_reservation);
    WM_TEST(s, test_foreign_replace);
}
