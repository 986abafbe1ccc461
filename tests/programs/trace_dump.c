/*
 * tests/programs/trace_dump.c — prints a winmem trace as one text line per
 * record, for the shim's tests to grep. Independent of the CLI's reader on
 * purpose (written alongside it): two readers of docs/trace-format.md that
 * agree are a check on the format itself.
 *
 *   trace_dump FILE
 *
 * Lines: "header ...", "module ...", "thread ...", "call ...", "div ...",
 * "lost ...", "end ...", and "cut offset=N reason=..." when the file ends
 * in a torn or corrupt chunk. CALL lines carry their stack resolved as
 * module-basename+offset, innermost first. Exit 0 when the file could be
 * read (even cut), 2 when it is not a trace.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "winmem/trace.h"

static unsigned char *data;
static size_t size;

struct mod { uint32_t id; uint64_t start; char name[128]; };
static struct mod mods[4096];
static int nmods;
struct stk { uint32_t id; size_t off; };
static struct stk *stks;
static size_t nstks, capstks;

static uint32_t crc32_ieee(const unsigned char *p, size_t n)
{
    static uint32_t t[256];
    if (!t[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
    uint32_t c = 0xffffffffu;
    while (n--)
        c = t[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static const char *modname(uint32_t id)
{
    for (int i = 0; i < nmods; i++)
        if (mods[i].id == id)
            return mods[i].name;
    return "?";
}

typedef void (*rec_fn)(const struct wmt_rec *r, uint32_t tid, int pass);

/* Walks the chunks; returns the offset where reading stopped. */
static size_t walk(rec_fn fn, int pass, const char **why)
{
    const struct wmt_header *h = (const void *)data;
    size_t off = h->header_size;
    *why = NULL;
    while (off < size) {
        if (off + WMT_CHUNK_SIZE > size) { *why = "short chunk header"; break; }
        const struct wmt_chunk *c = (const void *)(data + off);
        if (c->magic != WMT_CHUNK_MAGIC) { *why = "bad chunk magic"; break; }
        if (c->length > WMT_MAX_CHUNK || off + WMT_CHUNK_SIZE + c->length > size) { *why = "torn chunk"; break; }
        const unsigned char *p = data + off + WMT_CHUNK_SIZE;
        if (crc32_ieee(p, c->length) != c->crc) { *why = "crc mismatch"; break; }
        for (size_t o = 0; o + 4 <= c->length;) {
            const struct wmt_rec *r = (const void *)(p + o);
            if (r->size < 4 || o + r->size > c->length)
                break;
            fn(r, c->tid, pass);
            o += r->size;
        }
        off += WMT_CHUNK_SIZE + c->length;
    }
    return off;
}

/* Last CALL per (tid, seq): pass 1 remembers the last one, in an open
 * addressing table (traces hold millions of calls). */
struct last { uint32_t tid; uint64_t seq; const void *rec; };
static struct last *lasts;
static size_t caplasts, nlasts;

static struct last *find_last(uint32_t tid, uint64_t seq, int add)
{
    if (add && (nlasts + 1) * 2 > caplasts) {
        struct last *old = lasts;
        size_t oldcap = caplasts;
        caplasts = caplasts ? caplasts * 2 : 1 << 16;
        lasts = calloc(caplasts, sizeof *lasts);
        nlasts = 0;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].rec)
                *find_last(old[i].tid, old[i].seq, 1) = old[i];
        free(old);
    }
    if (!caplasts)
        return NULL;
    size_t h = (size_t)((seq * 0x9e3779b97f4a7c15ULL) ^ tid) & (caplasts - 1);
    for (;; h = (h + 1) & (caplasts - 1)) {
        if (!lasts[h].rec) {
            if (!add)
                return NULL;
            lasts[h].tid = tid, lasts[h].seq = seq;
            nlasts++;
            return &lasts[h];
        }
        if (lasts[h].tid == tid && lasts[h].seq == seq)
            return &lasts[h];
    }
}

static void print_stack(uint32_t id)
{
    for (size_t i = 0; i < nstks; i++) {
        if (stks[i].id != id)
            continue;
        const struct wmt_stack *s = (const void *)(data + stks[i].off);
        const struct wmt_frame *f = (const void *)(s + 1);
        printf(" frames=");
        for (int k = 0; k < s->nframes; k++)
            printf("%s%s+0x%" PRIx64, k ? ";" : "", f[k].module ? modname(f[k].module) : "abs", f[k].addr);
        return;
    }
    printf(" frames=?");
}

static void rec(const struct wmt_rec *r, uint32_t tid, int pass)
{
    (void)tid;
    if (pass == 1) {
        if (r->type == WMT_REC_MODULE && nmods < 4096) {
            const struct wmt_module *m = (const void *)r;
            const char *path = (const char *)(m + 1) + m->nseg * sizeof(struct wmt_segment);
            int n = m->path_len;
            const char *b = path;
            for (int i = 0; i < n; i++)
                if (path[i] == '/' || path[i] == '\\')
                    b = path + i + 1;
            int bl = (int)(path + n - b);
            struct mod *d = &mods[nmods++];
            d->id = m->id, d->start = m->start;
            snprintf(d->name, sizeof d->name, "%.*s", bl, b);
            for (char *c = d->name; *c; c++)
                if (*c >= 'A' && *c <= 'Z') *c += 32;   /* Windows names: case-insensitive */
        } else if (r->type == WMT_REC_STACK) {
            if (nstks == capstks)
                stks = realloc(stks, (capstks = capstks * 2 + 64) * sizeof *stks);
            stks[nstks++] = (struct stk){ ((const struct wmt_stack *)r)->id, (size_t)((const unsigned char *)r - data) };
        } else if (r->type == WMT_REC_CALL) {
            const struct wmt_call *c = (const void *)r;
            find_last(c->tid, c->seq, 1)->rec = r;
        }
        return;
    }
    switch (r->type) {
    case WMT_REC_MODULE: {
        const struct wmt_module *m = (const void *)r;
        const char *path = (const char *)(m + 1) + m->nseg * sizeof(struct wmt_segment);
        printf("module id=%u kind=%s start=0x%" PRIx64 " end=0x%" PRIx64 " buildid=%u path=%.*s\n", m->id,
               m->kind == WMT_MOD_PE ? "pe" : "elf", m->start, m->end, m->build_id_len, m->path_len, path);
        break;
    }
    case WMT_REC_THREAD: {
        const struct wmt_thread *t = (const void *)r;
        printf("thread tid=%u name=%.16s\n", t->tid, t->name);
        break;
    }
    case WMT_REC_CALL: {
        const struct wmt_call *c = (const void *)r;
        struct last *l = find_last(c->tid, c->seq, 0);
        if (l && l->rec != r)
            break;                  /* superseded by a later copy */
        static const char *doors[] = { "?", "wine", "native", "unix" };
        const char *name = wmt_api_name(c->api);
        printf("call api=%s door=%s tid=%u seq=%" PRIu64 " pending=%d aborted=%d served=%d ret=0x%" PRIx64
               " status=0x%x error=%u dur=%" PRIu64 " args=", name ? name : "?", doors[c->flags & 3], c->tid,
               c->seq, !!(c->flags & WMT_CF_PENDING), !!(c->flags & WMT_CF_ABORTED), !!(c->flags & WMT_CF_SERVED),
               c->ret, c->status, c->error, c->dur_ns);
        for (int i = 0; i < 10; i++)
            printf("%s0x%" PRIx64, i ? "," : "", c->arg[i]);
        printf(" out=");
        for (int i = 0; i < 8; i++)
            printf("%s0x%" PRIx64, i ? "," : "", c->out[i]);
        printf(" stack=%u", c->stack);
        if (c->stack)
            print_stack(c->stack);
        printf("\n");
        break;
    }
    case WMT_REC_DIVERGENCE: {
        const struct wmt_divergence *d = (const void *)r;
        printf("div api=%s kind=%s seq=%" PRIu64 " addr=0x%" PRIx64 " wine_state=0x%x wine_protect=0x%x"
               " vma=0x%" PRIx64 "-0x%" PRIx64 " vma_prot=%u kernel_protect=0x%x native_state=0x%x native_protect=0x%x\n",
               wmt_api_name(d->api), d->kind == WMT_DIV_NO_MAPPING ? "no-mapping" : d->kind == WMT_DIV_MODEL ? "model" : "protect", d->call_seq,
               d->address, d->wine_state, d->wine_protect, d->vma_start, d->vma_end, d->vma_prot,
               d->kernel_protect, d->native_state, d->native_protect);
        break;
    }
    case WMT_REC_LOST: {
        const struct wmt_lost *l = (const void *)r;
        printf("lost reason=%u count=%" PRIu64 "\n", l->reason, l->count);
        break;
    }
    case WMT_REC_PROCESS: {
        const struct wmt_process *p = (const void *)r;
        printf("process image=%.*s\n", p->image_len, (const char *)(p + 1));
        break;
    }
    case WMT_REC_END: {
        const struct wmt_end *e = (const void *)r;
        printf("end reason=%s calls=%" PRIu64 " lost=%" PRIu64 "\n", e->reason == WMT_END_EXEC ? "exec" : "exit",
               e->calls, e->lost);
        break;
    }
    default:
        break;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: trace_dump FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    size_t cap = 1 << 20;
    data = malloc(cap);
    size_t n;
    while ((n = fread(data + size, 1, cap - size, f)) > 0)
        if ((size += n) == cap)
            data = realloc(data, cap *= 2);
    fclose(f);
    const struct wmt_header *h = (const void *)data;
    if (size < WMT_HEADER_FIXED_SIZE || memcmp(h->magic, WMT_MAGIC, 8) || h->version != WMT_VERSION ||
        h->header_size > size) {
        fprintf(stderr, "%s: not a winmem trace\n", argv[1]);
        return 2;
    }
    const char *s = (const char *)data + WMT_HEADER_FIXED_SIZE;
    printf("header pid=%u ppid=%u mode=%u flags=0x%x depth=%u exe=%.*s prog=%.*s\n", h->pid, h->ppid, h->mode,
           h->flags, h->stack_depth, h->exe_len, s, h->prog_len, s + h->exe_len);
    const char *why;
    walk(rec, 1, &why);
    size_t end = walk(rec, 2, &why);
    if (why)
        printf("cut offset=%zu reason=%s\n", end, why);
    return 0;
}
