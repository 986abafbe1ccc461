/*
 * cli/salvage.c — see salvage.h. The .live file is read into memory once
 * (a copy: the process may be writing it if it still runs) and checked
 * like any untrusted input: every slot's length against the slot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "salvage.h"

#define LIVE_MAX ((size_t)WMT_LIVE_HEADER + 1024u * 1024u * 1024u)

/* Does pid still run the process that made the file? Its start time
 * (field 22 of /proc/PID/stat) tells a reused pid apart. */
static bool still_running(uint32_t pid, uint64_t start)
{
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%u/stat", pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *s = strrchr(buf, ')');
    for (int field = 2; s && field < 22; field++)
        s = strchr(s + 1, ' ');
    if (!s)
        return false;
    if (strstr(buf, ") Z ") || strstr(buf, ") X "))
        return false;                 /* a zombie holds nothing any more */
    return strtoull(s + 1, NULL, 10) == start;
}

int live_open(live_file *lf, const char *trace_path)
{
    memset(lf, 0, sizeof *lf);
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s.live", trace_path) >= sizeof path)
        return 1;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (size_t)st.st_size < sizeof(struct wmt_live) || (size_t)st.st_size > LIVE_MAX) {
        close(fd);
        return -1;
    }
    lf->size = (size_t)st.st_size;
    lf->map = malloc(lf->size);
    size_t got = 0;
    while (lf->map && got < lf->size) {
        ssize_t r = read(fd, lf->map + got, lf->size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    lf->hdr = (const struct wmt_live *)lf->map;
    bool v1 = lf->map && got == lf->size && !memcmp(lf->hdr->magic, WMT_LIVE_MAGIC1, 8);
    if (!lf->map || got != lf->size || (!v1 && memcmp(lf->hdr->magic, WMT_LIVE_MAGIC, 8)) ||
        lf->hdr->slot_size <= WMT_CHUNK_SIZE || lf->hdr->slot_size > 1u << 20) {
        live_close(lf);
        return -1;
    }
    /* WMTLIVE1: one buffer a slot, its chunk at the slot's start. */
    lf->nbuf = v1 ? 1 : lf->hdr->nbuf;
    lf->buf_size = v1 ? lf->hdr->slot_size : lf->hdr->buf_size;
    lf->chunk_at = v1 ? 0 : sizeof(struct wmt_live_buf);
    if (!lf->nbuf || lf->buf_size <= lf->chunk_at + WMT_CHUNK_SIZE ||
        (uint64_t)lf->nbuf * lf->buf_size > lf->hdr->slot_size) {
        live_close(lf);
        return -1;
    }
    lf->alive = still_running(lf->hdr->pid, lf->hdr->start_time);
    return 0;
}

void live_close(live_file *lf)
{
    free(lf->map);
    memset(lf, 0, sizeof *lf);
}

uint32_t live_count(const live_file *lf) { return lf->hdr->nslots * lf->nbuf; }

const struct wmt_chunk *live_chunk(live_file *lf, uint32_t n)
{
    uint32_t slot = n / lf->nbuf, k = n % lf->nbuf;
    size_t off = WMT_LIVE_HEADER + (size_t)slot * lf->hdr->slot_size;
    if (slot >= lf->hdr->nslots || off > lf->size || lf->size - off < lf->hdr->slot_size)
        return NULL;
    off += (size_t)k * lf->buf_size;
    struct wmt_chunk *c = (struct wmt_chunk *)(lf->map + off + lf->chunk_at);
    if (c->magic != WMT_CHUNK_MAGIC || !c->length || c->length % 8 ||
        c->length > lf->buf_size - lf->chunk_at - WMT_CHUNK_SIZE || !c->tid)
        return NULL;
    c->crc = (uint32_t)crc32(0, (const uint8_t *)(c + 1), c->length);
    return c;
}

static bool put(int fd, const void *p, size_t n)
{
    for (const char *c = p; n;) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return false;
        }
        c += w, n -= (size_t)w;
    }
    return true;
}

/* One record in a process-wide chunk (tid 0). */
static bool put_meta(int fd, const void *rec, uint32_t size)
{
    struct wmt_chunk c = { .magic = WMT_CHUNK_MAGIC, .length = size,
                           .crc = (uint32_t)crc32(0, rec, size) };
    return put(fd, &c, sizeof c) && put(fd, rec, size);
}

/* Where the trace's readable part ends: after the header, chunk after
 * chunk while magic, length and CRC hold. A process killed inside a write
 * can leave a torn chunk, and anything appended after it would never be
 * read; the salvager, the file's only writer now, cuts it off first. */
static off_t readable_end(int fd, off_t size)
{
    struct wmt_header h;
    if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h.magic, WMT_MAGIC, 8) || h.header_size > size)
        return -1;
    static uint8_t buf[WMT_MAX_CHUNK];
    off_t off = h.header_size;
    while (size - off >= (off_t)sizeof(struct wmt_chunk)) {
        struct wmt_chunk c;
        if (pread(fd, &c, sizeof c, off) != (ssize_t)sizeof c || c.magic != WMT_CHUNK_MAGIC ||
            c.length > WMT_MAX_CHUNK || c.length > size - off - (off_t)sizeof c ||
            pread(fd, buf, c.length, off + (off_t)sizeof c) != (ssize_t)c.length ||
            (uint32_t)crc32(0, buf, c.length) != c.crc)
            break;
        off += (off_t)sizeof c + c.length;
    }
    return off;
}

int live_salvage(const char *trace_path, char *msg, size_t len)
{
    live_file lf;
    int r = live_open(&lf, trace_path);
    if (r) {
        if (r < 0)
            snprintf(msg, len, "%s.live cannot be read", trace_path);
        return r;
    }
    if (lf.alive) {
        snprintf(msg, len, "pid %u still runs: its last records stay in %s.live", lf.hdr->pid, trace_path);
        live_close(&lf);
        return -1;
    }
    int fd = open(trace_path, O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    off_t end = -1;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (end = readable_end(fd, st.st_size)) < 0 || (end < st.st_size && ftruncate(fd, end))) {
        snprintf(msg, len, "cannot append to %s: %s", trace_path,
                 fd >= 0 && end < 0 ? "it is not a winmem trace" : strerror(errno));
        if (fd >= 0)
            close(fd);
        live_close(&lf);
        return -1;
    }
    bool ok = true;
    uint32_t chunks = 0;
    uint64_t bytes = 0, lost_total = 0;
    for (uint32_t i = 0; ok && i < live_count(&lf); i++) {
        const struct wmt_chunk *c = live_chunk(&lf, i);
        if (c) {
            ok = put(fd, c, sizeof *c + c->length);
            chunks++, bytes += c->length;
        }
    }
    for (uint32_t k = 1; ok && k < WMT_LOST_COUNT; k++) {
        uint64_t n = lf.hdr->lost[k];
        if (n || k == lf.hdr->stop) {
            struct wmt_lost l = { .h = { WMT_REC_LOST, sizeof l }, .reason = k, .count = n };
            ok = put_meta(fd, &l, sizeof l);
            lost_total += n;
        }
    }
    uint32_t how = lf.hdr->end_reason ? lf.hdr->end_reason : WMT_END_SALVAGED;
    struct wmt_end e = { .h = { WMT_REC_END, sizeof e }, .reason = how, .stop = lf.hdr->stop, .lost = lost_total };
    ok = ok && put_meta(fd, &e, sizeof e);
    ok = !close(fd) && ok;
    if (ok) {
        char lp[4096];
        snprintf(lp, sizeof lp, "%s.live", trace_path);
        unlink(lp);
        snprintf(msg, len, "%s: %s; %u unwritten chunks (%llu bytes) saved from its .live buffers",
                 trace_path, lf.hdr->end_reason ? "the program ended without writing END" : "the program died without END",
                 chunks, (unsigned long long)bytes);
    } else
        snprintf(msg, len, "cannot append to %s: %s", trace_path, strerror(errno));
    live_close(&lf);
    return ok ? 0 : -1;
}
