/*
 * shim/native_status.h — native mode's Windows statuses where Wine 8.0
 * returns another: releasing memory that is not allocated, unlocking pages
 * that are not locked. shim/wine_calls.c calls these around Wine's call;
 * each does nothing outside native mode or for another process.
 */
#ifndef WINMEM_SHIM_NATIVE_STATUS_H
#define WINMEM_SHIM_NATIVE_STATUS_H

#include <stdbool.h>
#include <stdint.h>

/* After NtFreeVirtualMemory(MEM_RELEASE) of this process failed with st at
 * base: Windows' status (STATUS_MEMORY_NOT_ALLOCATED when nothing is
 * allocated there, as Wine's query says), else st. */
long wm_native_free_status(long st, uint64_t base, uint32_t type);

/* NtLockVirtualMemory / NtUnlockVirtualMemory of this process succeeded on
 * [base, base + size) (Wine's rounded outputs): remembered / forgotten. */
void wm_native_locked(uint64_t base, uint64_t size);
void wm_native_unlocked(uint64_t base, uint64_t size);
/* Memory released or decommitted: its locks are gone with it. */
void wm_native_lock_forget(uint64_t base, uint64_t size);

/* Before NtUnlockVirtualMemory of this process: true when Windows would
 * fail with STATUS_NOT_LOCKED because a page of the range (as asked, page
 * rounded) is not locked — known for sure only while every lock the
 * program made fits the table; else false (Wine answers). */
bool wm_native_unlock_refused(uint64_t base, uint64_t size);

/* In a fork child: locks are not inherited (mlock), nor a held mutex. */
void wm_native_status_after_fork(void);

#endif
