/*
 * libFuzzer target over the trace readers (cli/trace_read.c and what reads
 * its result: report, export in every format, diff). The input is a whole
 * trace file. The reader gets an exact-size heap copy, so AddressSanitizer
 * sees any read past the end that a mapping would hide; export and diff get
 * it as a file (memfd), as the commands do. Each input is read three
 * ways: as it is; with every chunk's CRC made to match, so that mutations
 * reach the record parsers; and as the records of one chunk that ends the
 * file (seeds of bare records are in the corpus for that). Not named fuzz_*.c: those are
 * the dump-parser targets, built without the CLI (wine/module.mk).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include "../../cli/commands.h"
#include "../../cli/report.h"
#include "../../cli/trace_read.h"

/* Sets every chunk's CRC to match its bytes, and shortens a last chunk cut
 * by the input's end to what is there, so mutations reach the record
 * parsers (and records ending at the end of the input) instead of stopping
 * at the chunk checks, which the raw pass covers. */
static void reseal(uint8_t *b, size_t n)
{
    if (n < WMT_HEADER_FIXED_SIZE)
        return;
    size_t off = ((const struct wmt_header *)b)->header_size;
    while (off % 8 == 0 && off + sizeof(struct wmt_chunk) <= n) {
        struct wmt_chunk *c = (struct wmt_chunk *)(b + off);
        if (c->length > n - off - sizeof *c)   /* cut short: the chunk ends at the end of the input */
            c->length = (uint32_t)((n - off - sizeof *c) & ~(size_t)7);
        c->crc = (uint32_t)crc32(0, b + off + sizeof *c, c->length);
        off += sizeof *c + c->length;
    }
}

static void read_and_report(const uint8_t *data, size_t size, bool sealed)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return;
    memcpy(copy, data, size);
    if (sealed)
        reseal(copy, size);
    tr_trace t;
    char err[256];
    if (tr_open_buffer(&t, "fuzz", copy, size, err, sizeof err) == 0) {
        FILE *out = fopen("/dev/null", "w");
        report_opts o = { 10, 8, 10, false };
        if (out) {
            report_print(&t, out, &o);
            fclose(out);
        }
        tr_close(&t);
    }
    free(copy);
}

/* The input as the records of one chunk that ends the file: record-level
 * mutations need no chunk framing to reach the parsers, and the last record
 * always ends exactly at the end of the buffer, where an unchecked field
 * read shows. */
static void records_only(const uint8_t *data, size_t size)
{
    size_t n = size & ~(size_t)7;
    if (n > WMT_MAX_CHUNK)
        n = WMT_MAX_CHUNK;
    size_t total = 64 + sizeof(struct wmt_chunk) + n;
    uint8_t *b = calloc(1, total);
    if (!b)
        return;
    struct wmt_header h = { .version = WMT_VERSION, .header_size = 64, .pointer_size = 8, .little_endian = 1,
                            .clock_id = 1, .exe_len = 1, .prog_len = 1 };
    memcpy(h.magic, WMT_MAGIC, 8);
    memcpy(b, &h, sizeof h);
    b[WMT_HEADER_FIXED_SIZE] = 'x', b[WMT_HEADER_FIXED_SIZE + 1] = 'x';
    struct wmt_chunk c = { WMT_CHUNK_MAGIC, 1, 0, (uint32_t)n, (uint32_t)crc32(0, data, (uInt)n) };
    memcpy(b + 64, &c, sizeof c);
    memcpy(b + 64 + sizeof c, data, n);
    read_and_report(b, total, false);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_and_report(data, size, false);
    read_and_report(data, size, true);
    records_only(data, size);
    int fd = memfd_create("trace", 0);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    static const char *const formats[] = { "chrome", "folded", "jsonl" };
    static unsigned n;
    char *eargv[] = { "export", "--format", (char *)formats[n++ % 3], "-o", "/dev/null", path, NULL };
    cmd_export(6, eargv);
    char *dargv[] = { "diff", path, path, NULL };
    cmd_diff(3, dargv);
    close(fd);
    return 0;
}
