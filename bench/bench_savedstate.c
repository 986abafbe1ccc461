/*
 * bench/bench_savedstate.c — the saved-state dump API against its anchors:
 *   - loading a multi-GiB QEMU ELF dump (lm16.elf's own headers and notes,
 *     with its high-RAM PT_LOAD grown to 8 GiB in a sparse copy) against
 *     libelf reading the same program headers; target ≤ 10 ms, headers only;
 *   - GetGuestPhysicalMemoryChunks after load (no I/O);
 *   - ReadGuestPhysicalAddress from the page cache against pread of the same
 *     file bytes, 64 KiB and 4 KiB reads, 1 and 4 threads; target ≥ 0.8×;
 *   - kdump pages (zlib) against libkdumpfile reading the same pages.
 * Fixtures: WM_DUMP_FIXTURES (default build/fixtures).
 */
#include <fcntl.h>
#include <gelf.h>
#include <libkdumpfile/kdumpfile.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <winmem/winmem.h>
#include "bench.h"

static volatile uint64_t sink;



static const char *fixture(const char *name)
{
    static char b[512];
    const char *d = getenv("WM_DUMP_FIXTURES");
    snprintf(b, sizeof b, "%s/%s", d && *d ? d : "build/fixtures", name);
    return b;
}

/* ---- load time ---- */

static char big[] = "/tmp/wm-bench-big-XXXXXX";

/* lm16.elf's header, phdrs and notes, its last PT_LOAD grown to 8 GiB; sparse. */
static int make_big(void)
{
    int in = open(fixture("lm16.elf"), O_RDONLY), out = mkstemp(big);
    if (in < 0 || out < 0)
        return -1;
    uint8_t h[0x1000];
    if (pread(in, h, sizeof h, 0) != sizeof h)
        return -1;
    uint64_t phoff;
    uint16_t phnum;
    memcpy(&phoff, h + 32, 8);
    memcpy(&phnum, h + 56, 2);
    uint8_t *last = h + phoff + (uint64_t)(phnum - 1) * 56;
    uint64_t off, size = 8ULL << 30;
    memcpy(&off, last + 8, 8);
    memcpy(last + 32, &size, 8);
    memcpy(last + 40, &size, 8);
    uint64_t shoff = 0;
    memcpy(h + 40, &shoff, 8);     /* no section table: it sat after the old end */
    memset(h + 60, 0, 4);
    if (pwrite(out, h, sizeof h, 0) != sizeof h || ftruncate(out, (off_t)(off + size)) != 0)
        return -1;
    close(in);
    return out;
}

static double load_winmem(void)
{
    VM_SAVED_STATE_DUMP_HANDLE h;
    double t0 = bench_now_ns();
    if (winmem_LoadSavedStateFileUtf8(big, &h) != S_OK)
        return -1;
    double t = bench_now_ns() - t0;
    ReleaseSavedStateFiles(h);
    return t;
}

static double load_libelf(void)
{
    double t0 = bench_now_ns();
    int fd = open(big, O_RDONLY);
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    size_t n = 0;
    elf_getphdrnum(e, &n);
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        gelf_getphdr(e, (int)i, &ph);
        sink += ph.p_paddr;
    }
    elf_end(e);
    close(fd);
    return bench_now_ns() - t0;
}

static double median_of(double (*fn)(void), int n)
{
    double r[31];
    for (int i = 0; i < n; i++)
        r[i] = fn();
    return bench_median(r, n);
}

/* ---- reads ---- */

struct job {
    VM_SAVED_STATE_DUMP_HANDLE h;
    int fd;                  /* pread anchor */
    uint64_t base_off;       /* file offset of raw offset 0 (ELF: first p_offset) */
    GPA_MEMORY_CHUNK c[4];
    UINT64 n;
    uint32_t block;
    int use_pread, passes;
    uint64_t bytes;
};

static void *reader(void *arg)
{
    struct job *j = arg;
    uint8_t *buf = malloc(j->block);
    for (int p = 0; p < j->passes; p++) {
        uint64_t raw = 0;
        for (UINT64 i = 0; i < j->n; i++) {
            uint64_t base = j->c[i].GuestPhysicalStartPageIndex * 4096, len = j->c[i].PageCount * 4096;
            for (uint64_t o = 0; o < len; o += j->block) {
                uint32_t want = len - o < j->block ? (uint32_t)(len - o) : j->block;
                if (j->use_pread) {
                    if (pread(j->fd, buf, want, (off_t)(j->base_off + raw + o)) != (ssize_t)want)
                        abort();
                } else {
                    UINT32 got;
                    if (ReadGuestPhysicalAddress(j->h, base + o, buf, want, &got) != S_OK || got != want)
                        abort();
                }
                sink += buf[0];
                j->bytes += want;
            }
            raw += len;
        }
    }
    free(buf);
    return NULL;
}

/* MB/s of `threads` readers over every chunk, median of 5. */
static double throughput(struct job *tmpl, int threads, int use_pread)
{
    double r[5];
    for (int k = 0; k < 5; k++) {
        struct job j[4];
        pthread_t t[4];
        double t0 = bench_now_ns();
        for (int i = 0; i < threads; i++) {
            j[i] = *tmpl;
            j[i].use_pread = use_pread;
            j[i].bytes = 0;
            pthread_create(&t[i], NULL, reader, &j[i]);
        }
        uint64_t bytes = 0;
        for (int i = 0; i < threads; i++) {
            pthread_join(t[i], NULL);
            bytes += j[i].bytes;
        }
        r[k] = bytes / ((bench_now_ns() - t0) / 1e9) / 1e6;
    }
    qsort(r, 5, sizeof *r, bench_cmp_double);
    return r[2];
}

/* ---- kdump pages vs libkdumpfile ---- */

static double kdump_winmem(VM_SAVED_STATE_DUMP_HANDLE h, int pages)
{
    uint8_t b[4096];
    double t0 = bench_now_ns();
    for (int i = 0; i < pages; i++) {
        UINT32 got;
        ReadGuestPhysicalAddress(h, (uint64_t)(i % 2048) * 4096, b, 4096, &got);
        sink += b[0];
    }
    return (bench_now_ns() - t0) / pages;
}

static double kdump_lib(kdump_ctx_t *k, int pages)
{
    uint8_t b[4096];
    double t0 = bench_now_ns();
    for (int i = 0; i < pages; i++) {
        size_t len = 4096;
        kdump_read(k, KDUMP_MACHPHYSADDR, (uint64_t)(i % 2048) * 4096, b, &len);
        sink += b[0];
    }
    return (bench_now_ns() - t0) / pages;
}

int main(void)
{
    elf_version(EV_CURRENT);
    int bfd = make_big();
    if (bfd < 0) {
        fprintf(stderr, "bench_savedstate: needs %s (make dump-fixtures)\n", fixture("lm16.elf"));
        return 1;
    }
    double lw = median_of(load_winmem, 31), le = median_of(load_libelf, 31);
    printf("savedstate load, 8 GiB sparse QEMU ELF (headers + notes only):\n");
    printf("  LoadSavedStateFile  %8.1f us   libelf phdr walk %8.1f us   ratio %.2f   (target <= 10 ms)\n",
           lw / 1e3, le / 1e3, lw / le);

    VM_SAVED_STATE_DUMP_HANDLE h;
    winmem_LoadSavedStateFileUtf8(big, &h);
    GPA_MEMORY_CHUNK c[4];
    UINT64 n = 4, ps;
    double t0 = bench_now_ns();
    for (int i = 0; i < 100000; i++) {
        n = 4;
        GetGuestPhysicalMemoryChunks(h, &ps, c, &n);
    }
    printf("  GetGuestPhysicalMemoryChunks after load: %.0f ns per call (no I/O)\n", (bench_now_ns() - t0) / 100000);
    ReleaseSavedStateFiles(h);
    close(bfd);
    unlink(big);

    /* Reads from the page cache: lm16.elf, whose raw offset 0 is at p_offset 0x8e0. */
    struct job j = { 0 };
    if (winmem_LoadSavedStateFileUtf8(fixture("lm16.elf"), &j.h) != S_OK)
        return 1;
    j.fd = open(fixture("lm16.elf"), O_RDONLY);
    {
        Elf *e = elf_begin(j.fd, ELF_C_READ, NULL);
        size_t np;
        elf_getphdrnum(e, &np);
        for (size_t i = 0; i < np; i++) {
            GElf_Phdr ph;
            gelf_getphdr(e, (int)i, &ph);
            if (ph.p_type == PT_LOAD) {
                j.base_off = ph.p_offset;
                break;
            }
        }
        elf_end(e);
    }
    j.n = 4;
    GetGuestPhysicalMemoryChunks(j.h, &ps, j.c, &j.n);
    printf("ReadGuestPhysicalAddress vs pread of the same bytes (16 MiB ELF, page cache):\n");
    struct { uint32_t block; int threads, passes; } cfg[] = { { 65536, 1, 8 }, { 4096, 1, 4 }, { 65536, 4, 4 }, { 4096, 4, 2 } };
    for (size_t i = 0; i < sizeof cfg / sizeof *cfg; i++) {
        j.block = cfg[i].block;
        j.passes = cfg[i].passes;
        throughput(&j, cfg[i].threads, 0);   /* warm the cache */
        double w = throughput(&j, cfg[i].threads, 0), p = throughput(&j, cfg[i].threads, 1);
        printf("  %5u-byte reads, %d thread%s: winmem %7.0f MB/s   pread %7.0f MB/s   ratio %.2f   (target >= 0.80)\n",
               cfg[i].block, cfg[i].threads, cfg[i].threads > 1 ? "s" : " ", w, p, w / p);
    }
    ReleaseSavedStateFiles(j.h);
    close(j.fd);

    /* kdump: decompressing pages, against the independent reader. */
    VM_SAVED_STATE_DUMP_HANDLE kh;
    int kfd = open(fixture("lm16.kdump"), O_RDONLY);
    kdump_ctx_t *k = kdump_new();
    if (winmem_LoadSavedStateFileUtf8(fixture("lm16.kdump"), &kh) == S_OK && kfd >= 0 && kdump_open_fd(k, kfd) == KDUMP_OK) {
        kdump_winmem(kh, 20000);
        kdump_lib(k, 20000);
        double a = kdump_winmem(kh, 50000), b = kdump_lib(k, 50000);
        printf("kdump (zlib) 4 KiB page reads: winmem %.0f ns/page   libkdumpfile %.0f ns/page   ratio %.2f (lower is faster)\n",
               a, b, a / b);
        ReleaseSavedStateFiles(kh);
    }
    kdump_free(k);
    return 0;
}
