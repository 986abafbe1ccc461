/* cli/table.c — growing arrays and their hash index (table.h). */
#include <stdlib.h>
#include "table.h"

bool table_grow(void **arr, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : first;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return false;
    *arr = p, *cap = c;
    return true;
}

bool hindex_room(hindex *h, size_t n, hindex_hash_fn hash, const void *ctx)
{
    if ((n + 1) * 2 <= h->cap)
        return true;
    size_t cap = h->cap ? h->cap * 2 : 256;
    uint32_t *s = calloc(cap, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)hash(ctx, i) & (cap - 1);
        while (s[j])
            j = (j + 1) & (cap - 1);
        s[j] = (uint32_t)i + 1;
    }
    free(h->slot);
    h->slot = s, h->cap = cap;
    return true;
}

void hindex_free(hindex *h)
{
    free(h->slot);
    h->slot = NULL, h->cap = 0;
}
