/*
 * shim/snapshot.c — publishes the model (shim/model.c) for `winmem maps
 * PID`: a memfd named "winmem-model" holding a copy of winmem's registry
 * that the registry itself keeps current under its own lock
 * (wm_registry_publish; the format is include/winmem/snapshot.h). The CLI
 * finds it through /proc/PID/fd, which needs only the ptrace read access
 * /proc/PID/maps needs, and reads it without taking any lock of this
 * process: nothing the program does waits for a reader.
 *
 * Made at the first call the model applies (native and check mode, in a
 * Wine process): by then the shim's descriptors have their place above the
 * program's (shim/fd.c). No malloc; a few system calls once. A fork child
 * lets go of the parent's copy (the mapping is shared) and closes the
 * descriptor, so a reader never takes the parent's model for the child's.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "winmem/snapshot.h"
#include "registry.h"
#include "model.h"
#include "record.h"
#include "shim.h"

#define BYTES (sizeof(struct wms_header) + (uint64_t)WMS_SLOTS * (sizeof(struct wms_slot) + sizeof(uint32_t)))

static int started;              /* 0 not yet, 1 published, 2 given up */
static int fd = -1;
static void *area;

void wm_snapshot_start(void)
{
    int expect = 0;
    if (__atomic_load_n(&started, __ATOMIC_ACQUIRE) || !__atomic_compare_exchange_n(&started, &expect, 2, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    int f = wm_fd_move_high((int)syscall(SYS_memfd_create, WMS_NAME, MFD_CLOEXEC));
    void *a = MAP_FAILED;
    if (f >= 0 && ftruncate(f, (off_t)BYTES) == 0)
        a = mmap(NULL, BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (a == MAP_FAILED || !wm_registry_publish(a, BYTES)) {
        if (a != MAP_FAILED)
            munmap(a, BYTES);
        if (f >= 0)
            close(f);
        wm_note("the live map cannot be published (memfd): `winmem maps` will show ", "the kernel's view of ",
                "this process");
        return;
    }
    ((struct wms_header *)a)->pid = (uint32_t)syscall(SYS_getpid);
    fd = f, area = a;
    __atomic_store_n(&started, 1, __ATOMIC_RELEASE);
}

void wm_snapshot_after_fork(void)
{
    if (__atomic_load_n(&started, __ATOMIC_ACQUIRE) != 1)
        return;
    wm_registry_unpublish_in_child();
    syscall(SYS_munmap, area, BYTES);
    syscall(SYS_close, fd);
    fd = -1, area = NULL;
    __atomic_store_n(&started, 0, __ATOMIC_RELEASE);
}
