/* cli/table.h — the two containers the readers and reports are built of:
 * an array that doubles as it fills, and an open-addressing hash index over
 * such an array (slots hold element index + 1; 0 is empty). The caller owns
 * the elements and their hashing; these only keep the bookkeeping in one
 * place. Out of memory leaves everything as it was and returns false. */
#ifndef WINMEM_CLI_TABLE_H
#define WINMEM_CLI_TABLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Makes *arr (of elements of elem bytes, *cap of them allocated) hold at
 * least need elements: doubles from first. */
bool table_grow(void **arr, size_t *cap, size_t need, size_t elem, size_t first);
#define TABLE_GROW(arr, cap, need, first) table_grow((void **)&(arr), &(cap), (need), sizeof *(arr), (first))

typedef struct {
    uint32_t *slot;
    size_t cap;          /* a power of two, or 0 before the first entry */
} hindex;

/* The hash of the caller's element i (to rebuild the index as it grows). */
typedef uint64_t (*hindex_hash_fn)(const void *ctx, size_t i);

/* Makes room for one entry beyond the n the index holds, keeping it at most
 * half full: rebuilds it twice as large, rehashing elements 0..n-1. */
bool hindex_room(hindex *h, size_t n, hindex_hash_fn hash, const void *ctx);

/* Probing: for (j = hindex_start(h, hv); h->slot[j]; j = hindex_next(h, j))
 * compare element h->slot[j] - 1; on a miss slot j is where to put the new
 * element: h->slot[j] = index + 1. Only after hindex_room. */
static inline size_t hindex_start(const hindex *h, uint64_t hv) { return (size_t)hv & (h->cap - 1); }
static inline size_t hindex_next(const hindex *h, size_t j) { return (j + 1) & (h->cap - 1); }

void hindex_free(hindex *h);

#endif
