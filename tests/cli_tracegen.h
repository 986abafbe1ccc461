/*
 * tests/cli_tracegen.h — writes winmem traces from the format's own structs
 * (include/winmem/trace.h), for the CLI's unit tests and its bench. A trace
 * written here is what the shim writes: header, then CRC'd chunks of records.
 */
#ifndef WINMEM_TESTS_CLI_TRACEGEN_H
#define WINMEM_TESTS_CLI_TRACEGEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "winmem/trace.h"

typedef struct tg {
    FILE *f;
    uint8_t *buf;
    size_t n, cap;
    uint32_t tid;
    uint64_t chunk_seq[64];
} tg;

static inline void tg_open(tg *g, FILE *f, uint32_t pid, uint32_t mode, uint32_t flags,
                           const char *exe, const char *prog)
{
    memset(g, 0, sizeof *g);
    g->f = f;
    g->cap = WMT_MAX_CHUNK;
    g->buf = malloc(g->cap);
    struct wmt_header h = { .version = WMT_VERSION, .pointer_size = 8, .little_endian = 1, .clock_id = 1,
                            .pid = pid, .ppid = 1, .mono_ns = 1000, .real_ns = 2000, .mode = mode,
                            .flags = flags, .stack_depth = 16 };
    memcpy(h.magic, WMT_MAGIC, 8);
    h.exe_len = (uint16_t)strlen(exe);
    h.prog_len = (uint16_t)strlen(prog);
    h.header_size = (uint16_t)((WMT_HEADER_FIXED_SIZE + h.exe_len + h.prog_len + 7) & ~7u);
    fwrite(&h, 1, WMT_HEADER_FIXED_SIZE, f);
    fwrite(exe, 1, h.exe_len, f);
    fwrite(prog, 1, h.prog_len, f);
    static const char zero[8];
    fwrite(zero, 1, h.header_size - WMT_HEADER_FIXED_SIZE - h.exe_len - h.prog_len, f);
}

static inline void tg_flush(tg *g)
{
    if (!g->n)
        return;
    struct wmt_chunk c = { .magic = WMT_CHUNK_MAGIC, .tid = g->tid, .seq = g->chunk_seq[g->tid % 64]++,
                           .length = (uint32_t)g->n, .crc = (uint32_t)crc32(0, g->buf, (uInt)g->n) };
    fwrite(&c, 1, sizeof c, g->f);
    fwrite(g->buf, 1, g->n, g->f);
    g->n = 0;
}

/* Records go to the current chunk of thread tid; a new tid starts a chunk. */
static inline void tg_rec(tg *g, uint32_t tid, const void *rec, size_t size)
{
    if (tid != g->tid || g->n + size > g->cap)
        tg_flush(g);
    g->tid = tid;
    memcpy(g->buf + g->n, rec, size);
    g->n += size;
}

static inline void tg_module(tg *g, uint32_t tid, uint32_t id, uint16_t kind, uint64_t base,
                             uint64_t start, uint64_t end, const char *path)
{
    uint8_t rec[512] = { 0 };
    struct wmt_module *m = (struct wmt_module *)rec;
    size_t plen = strlen(path), size = (sizeof *m + plen + 7) & ~(size_t)7;
    m->h.type = WMT_REC_MODULE, m->h.size = (uint16_t)size;
    m->kind = kind, m->path_len = (uint16_t)plen, m->id = id;
    m->base = base, m->start = start, m->end = end;
    memcpy(m + 1, path, plen);
    tg_rec(g, tid, rec, size);
}

static inline void tg_thread(tg *g, uint32_t tid, const char *name)
{
    struct wmt_thread t = { .h = { WMT_REC_THREAD, sizeof t }, .tid = tid };
    strncpy(t.name, name, sizeof t.name);
    tg_rec(g, tid, &t, sizeof t);
}

static inline void tg_stack(tg *g, uint32_t tid, uint32_t id, unsigned n, const struct wmt_frame *fr)
{
    uint8_t rec[sizeof(struct wmt_stack) + 64 * sizeof(struct wmt_frame)];
    struct wmt_stack *s = (struct wmt_stack *)rec;
    memset(s, 0, sizeof *s);
    s->h.type = WMT_REC_STACK;
    s->h.size = (uint16_t)(sizeof *s + n * sizeof *fr);
    s->id = id, s->nframes = (uint16_t)n;
    memcpy(s + 1, fr, n * sizeof *fr);
    tg_rec(g, tid, rec, s->h.size);
}

static inline struct wmt_call tg_call_init(uint16_t api, uint32_t tid, uint64_t seq, uint64_t start,
                                           uint64_t dur, uint32_t stack)
{
    struct wmt_call c;
    memset(&c, 0, sizeof c);
    c.h.type = WMT_REC_CALL, c.h.size = sizeof c;
    c.api = api, c.flags = WMT_DOOR_WINE, c.tid = tid, c.seq = seq;
    c.start_ns = start, c.dur_ns = dur, c.stack = stack;
    return c;
}

static inline void tg_end(tg *g, uint32_t tid, uint64_t calls)
{
    struct wmt_end e = { { WMT_REC_END, sizeof e }, WMT_END_EXIT, 0, calls, 0 };
    tg_rec(g, tid, &e, sizeof e);
}

static inline void tg_close(tg *g)
{
    tg_flush(g);
    free(g->buf);
    g->buf = NULL;
}

#endif
