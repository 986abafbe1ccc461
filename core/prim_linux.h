/*
 * core/prim_linux.h — what prim_linux.c and prim_image.c share: the layout
 * of a wm_space. Nothing outside the prim_*.c files includes this.
 */
#ifndef WINMEM_CORE_PRIM_LINUX_H
#define WINMEM_CORE_PRIM_LINUX_H
#include <pthread.h>
#include "prim.h"

/* x86_64 TASK_SIZE with 4-level paging: the first address no user mapping
 * reaches unless a program asks for 5-level addresses explicitly. */
#define WM_TASK_SIZE 0x7ffffffff000ULL

/* Reads the start of a small /proc text file (one read: the kernel fills
 * what fits) into buf, NUL-terminated. Pre: size >= 2.
 * Returns the bytes read or -errno. No allocation, no stdio. */
ssize_t wm_proc_text(const char *path, char *buf, size_t size);

struct wm_space {
    pid_t pid;
    int maps_fd;          /* /proc/PID/maps: PROCMAP_QUERY or text */
    int pagemap_fd;
    int mem_fd;           /* /proc/PID/mem, -1 if refused (needs attach rights) */
    bool pmq;             /* PROCMAP_QUERY in use */
    bool pmq_avail;       /* the kernel has it */
    pthread_mutex_t lock; /* serialises text-mode reads of maps_fd */
    int refs;             /* atomic; see wm_space_ref */
    char *textbuf;        /* text mode's read buffer, under lock */
    bool maybe_pe;        /* runs Wine: look for PE images too (prim_image.c) */
};

#endif
