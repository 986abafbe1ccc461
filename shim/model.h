/*
 * shim/model.h — native (and check) mode in a Wine process: winmem's core
 * registry becomes a model of the Windows program's address space, fed by
 * every memory call that crosses the Wine door and, for what the door never
 * sees, by Wine's own query. Implemented in shim/model.c; docs/shim.md
 * ("Native mode: the model") says what it answers and why.
 */
#ifndef WINMEM_SHIM_MODEL_H
#define WINMEM_SHIM_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include "winmem/trace.h"

/* After a call through the Wine door returned: applies a successful
 * NtAllocateVirtualMemory(Ex), NtFreeVirtualMemory, NtProtectVirtualMemory,
 * NtMapViewOfSection(Ex) or NtUnmapViewOfSection(Ex) to the model, reading
 * only c (api, arg[], out[], status as include/winmem/trace.h documents
 * them), never the caller's memory. Does nothing outside native and check
 * mode, for failed calls and for other APIs (NtLock/UnlockVirtualMemory
 * change nothing Windows reports). No malloc; the registry's lock only. */
void wm_model_apply(const struct wmt_call *c);

/* Windows' old protection for a completed NtProtectVirtualMemory of this
 * process (c->out[2] is Wine's): on a copy-on-write page that was written,
 * Windows says PAGE_READWRITE (PAGE_EXECUTE_READWRITE), as native mode's
 * query does, where Wine 8 still says (EXECUTE_)WRITECOPY. The door
 * returns it to the caller in native mode (after_protect in
 * shim/wine_calls.c), so the program never sees two truths. Reads pagemap
 * only; no lock. */
uint32_t wm_model_windows_old(const struct wmt_call *c);

/* Called once at start-up: in a Wine process in native mode, makes the
 * model the first source of winmem's core queries (wm_query_set_oracle). */
void wm_model_init(void);

/* In a fork child: the learning lock another thread may have held is reset,
 * and the child stops writing the parent's published copy. */
void wm_model_after_fork(void);

/* The live map (shim/snapshot.c): publishes the model for `winmem maps PID`
 * once, at the first call the model applies; says so once if it cannot.
 * wm_snapshot_after_fork: a fork child lets go of the parent's copy. */
void wm_snapshot_start(void);
void wm_snapshot_after_fork(void);

/* Check mode's second oracle: what the calls the shim saw say about the
 * page at addr. false when no call described it (nothing to compare). */
bool wm_model_called_state(uint64_t addr, uint32_t *state, uint32_t *protect);

#endif
