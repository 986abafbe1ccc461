/*
 * The registry's published copy (registry_pub.h, winmem/snapshot.h).
 *
 * Slot numbers are handed out from a free stack kept in the area itself,
 * past the slots (the reader never looks there), so nothing here needs
 * memory of its own. The counter is a seqlock: odd while slots change, with
 * release ordering so a reader that sees the same even value before and
 * after its copy saw no change half-written.
 */
#include <stddef.h>
#include <string.h>
#include "winmem/snapshot.h"
#include "registry_pub.h"

static struct wms_header *hdr;   /* NULL: not published */
static struct wms_slot *slots;
static uint32_t *free_stack, nfree;

bool wm_pub_on(void) { return hdr != NULL; }

void wm_pub_begin(void)
{
    if (!hdr)
        return;
    __atomic_store_n(&hdr->seq, hdr->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

void wm_pub_end(void)
{
    if (hdr)
        __atomic_store_n(&hdr->seq, hdr->seq + 1, __ATOMIC_RELEASE);
}

void wm_pub_put(uint32_t *slot, uint64_t base, uint64_t size, uint32_t alloc_protect, uint32_t type,
                uint32_t kind, const uint64_t *runs, uint32_t nruns)
{
    if (!hdr)
        return;
    if (!*slot) {
        if (nfree) {
            *slot = free_stack[--nfree] + 1;
        } else if (hdr->used < hdr->nslots) {
            *slot = ++hdr->used;
        } else {
            hdr->flags |= WMS_INCOMPLETE;
            return;
        }
    }
    struct wms_slot *s = &slots[*slot - 1];
    s->base = base;
    s->alloc_protect = alloc_protect;
    s->type = type;
    s->kind = kind;
    s->flags = nruns > WMS_RUNS ? WMS_TRUNCATED : 0;
    s->nruns = nruns > WMS_RUNS ? 0 : nruns;
    if (nruns <= WMS_RUNS)
        memcpy(s->runs, runs, nruns * sizeof *runs);
    s->size = size;
}

void wm_pub_drop(uint32_t *slot)
{
    if (!hdr || !*slot)
        return;
    slots[*slot - 1].size = 0;
    free_stack[nfree++] = *slot - 1;
    *slot = 0;
}

bool wm_pub_attach(void *area, uint64_t bytes, uint32_t page_shift)
{
    hdr = NULL, nfree = 0;
    if (!area)
        return true;
    uint64_t per = sizeof(struct wms_slot) + sizeof(uint32_t);
    if (bytes < sizeof(struct wms_header) + per)
        return false;
    uint64_t n = (bytes - sizeof(struct wms_header)) / per;
    struct wms_header *h = area;
    memset(h, 0, sizeof *h);
    h->magic = WMS_MAGIC;
    h->version = WMS_VERSION;
    h->header_size = sizeof *h;
    h->slot_size = sizeof(struct wms_slot);
    h->nslots = (uint32_t)(n < WMS_SLOTS ? n : WMS_SLOTS);
    h->page_shift = page_shift;
    slots = (struct wms_slot *)(h + 1);
    free_stack = (uint32_t *)(slots + h->nslots);
    hdr = h;
    return true;
}
