/*
 * core/registry_pub.h — the registry's published copy (winmem/snapshot.h):
 * slots, their free list and the sequence counter, kept apart from the
 * registry's own layout. Called by core/registry.c only, always with the
 * registry's write lock held (so writers never race each other); nothing
 * here locks, allocates with malloc or makes a system call, so it may run
 * inside the SIGSEGV handler's guard disarm as the registry does.
 */
#ifndef WINMEM_CORE_REGISTRY_PUB_H
#define WINMEM_CORE_REGISTRY_PUB_H
#include <stdbool.h>
#include <stdint.h>

/* Whether a copy is published (wm_registry_publish gave an area). */
bool wm_pub_on(void);

/* Brackets every change readers must see whole: the counter goes odd,
 * then even again. */
void wm_pub_begin(void);
void wm_pub_end(void);

/* Writes one allocation into *slot (0: none yet; a free slot is taken and
 * its number + 1 stored there). runs as the registry keeps them. When no
 * slot is free the header says WMS_INCOMPLETE. Pre: wm_pub_begin. */
void wm_pub_put(uint32_t *slot, uint64_t base, uint64_t size, uint32_t alloc_protect, uint32_t type,
                uint32_t kind, const uint64_t *runs, uint32_t nruns);

/* Frees the allocation's slot, if it has one. Pre: wm_pub_begin. */
void wm_pub_drop(uint32_t *slot);

/* Starts publishing into area (bytes long, a shared mapping the caller
 * made and keeps) or, with area NULL, stops. Returns false when the area
 * is too small for the header. Slots numbers the registry kept from an
 * earlier area must be reset by the caller (wm_registry_publish does). */
bool wm_pub_attach(void *area, uint64_t bytes, uint32_t page_shift);

#endif
