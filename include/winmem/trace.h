/*
 * winmem/trace.h — the binary trace format written by libwinmem-shim.so and
 * read by `winmem report/export/diff`. docs/trace-format.md tells the same
 * in prose. Little-endian, x86_64 (the only target); all multi-byte fields
 * are naturally aligned and every record's size is a multiple of 8.
 *
 * File = header, then chunks until end of file:
 *
 *   wmt_header  (+ exe path, + program name, padded to 8)
 *   wmt_chunk   (+ `length` bytes of records, CRC-32 over them)
 *   wmt_chunk   ...
 *
 * Why chunks: each is written with ONE write() on an O_APPEND descriptor, so
 * chunks of different threads never interleave byte-wise, and a process
 * killed (kill -9, disk full) leaves at worst a torn LAST chunk, detected by
 * its length running past end of file or a CRC mismatch. A reader stops
 * there and keeps everything before: the trace is valid up to the cut.
 *
 * Ordering rules a reader relies on:
 *  - Within one thread (chunk.tid), chunks appear in chunk.seq order and
 *    records in a chunk are in time order.
 *  - A STACK record appears in the same thread's chunks before the first
 *    CALL that names it. Stack ids are unique in the whole file.
 *  - MODULE records are written in chunks of their own (tid 0)
 *    as soon as a module is seen; a reader should collect all MODULE records
 *    first (two passes) before resolving frames, because another thread's
 *    chunk may use a module id before the MODULE chunk is read.
 *  - CALL records are written when the call starts, flagged WMT_CF_PENDING,
 *    and completed in place when it returns. If the pending record had
 *    already left the buffer, the completed one is written again with the
 *    same (tid, seq): the LAST record for a (tid, seq) wins. A CALL still
 *    PENDING at the end never returned (the process died in it, or Wine
 *    aborted the syscall — then WMT_CF_ABORTED is set too when known).
 */
#ifndef WINMEM_TRACE_H
#define WINMEM_TRACE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WMT_MAGIC       "WMTRACE1"   /* 8 bytes, no terminator in the file */
#define WMT_VERSION     1
#define WMT_CHUNK_MAGIC 0x4b43574dU  /* "MWCK" as bytes: 'M','W','C','K' */
#define WMT_MAX_CHUNK   (256u * 1024u) /* a reader may reject larger lengths */

/* ---- file header ---- */
struct wmt_header {
    char     magic[8];      /* WMT_MAGIC */
    uint16_t version;       /* WMT_VERSION */
    uint16_t header_size;   /* bytes from the start of the file to the first chunk */
    uint8_t  pointer_size;  /* 8 */
    uint8_t  little_endian; /* 1 */
    uint16_t clock_id;      /* CLOCK_MONOTONIC (1): clock of every *_ns field */
    uint32_t pid;
    uint32_t ppid;          /* parent pid (after fork: the traced parent) */
    uint64_t mono_ns;       /* clock_id at the moment ... */
    uint64_t real_ns;       /* ... CLOCK_REALTIME read right after: wall time = real_ns + (t - mono_ns) */
    uint32_t mode;          /* WMT_MODE_* the shim ran in */
    uint32_t flags;         /* WMT_HF_* */
    uint16_t stack_depth;   /* WINMEM_STACK */
    uint16_t exe_len;       /* bytes of the executable path (readlink /proc/self/exe), no NUL */
    uint16_t prog_len;      /* bytes of the program name matched by the filter, no NUL */
    uint16_t reserved;
    /* followed by exe path, program name, zero padding to header_size */
};

enum {
    WMT_MODE_TRACE  = 0,    /* pass through, record */
    WMT_MODE_CHECK  = 1,    /* also compare with winmem's answer; DIVERGENCE records */
    WMT_MODE_NATIVE = 2,    /* queries answered by winmem's core */
};

enum {
    WMT_HF_WINE       = 1u << 0, /* process runs Wine (ntdll.so seen) */
    WMT_HF_WINE_HOOKED = 1u << 1, /* ... and its syscall table was patched */
    WMT_HF_UNIX       = 1u << 2, /* mmap & co. are recorded (WINMEM_UNIX=1) */
    WMT_HF_FORK_CHILD = 1u << 3, /* this file belongs to a fork child */
    WMT_HF_THREAD_SERIAL = 1u << 4, /* chunks and THREAD records carry a thread serial */
};

/* ---- chunk ---- */
struct wmt_chunk {
    uint32_t magic;         /* WMT_CHUNK_MAGIC */
    uint32_t tid;           /* writer thread (Linux tid); 0: process-wide (MODULE, LOST, END) */
    union {
        uint64_t seq;       /* traces without WMT_HF_THREAD_SERIAL: per-tid chunk sequence, from 0 */
        struct {
            uint32_t chunk_no;  /* per-thread chunk sequence, from 0 */
            uint32_t thread;    /* WMT_HF_THREAD_SERIAL: the writer thread's serial (>= 1,
                                 * unique in the file: Linux reuses tids); 0 for tid 0 */
        };
    };
    uint32_t length;        /* bytes of records that follow */
    uint32_t crc;           /* CRC-32 (IEEE 802.3, as zlib's crc32()) of those bytes */
};

/* ---- records: each starts with this; size includes it, multiple of 8 ---- */
struct wmt_rec {
    uint16_t type;          /* WMT_REC_* */
    uint16_t size;
};

enum {
    WMT_REC_MODULE     = 1,
    WMT_REC_THREAD     = 2,
    WMT_REC_STACK      = 3,
    WMT_REC_CALL       = 4,
    WMT_REC_DIVERGENCE = 5,
    WMT_REC_LOST       = 6,
    WMT_REC_END        = 7,
    WMT_REC_PROCESS    = 8,
};
/* A reader skips record types it does not know (size tells how far). */

/* MODULE: an ELF object (dl_iterate_phdr) or a PE image mapped by Wine. */
struct wmt_module {
    struct wmt_rec h;
    uint16_t kind;          /* WMT_MOD_ELF / WMT_MOD_PE */
    uint16_t path_len;      /* bytes of path, no NUL */
    uint32_t id;            /* >= 1; frames name modules by this id */
    uint8_t  build_id_len;  /* 0 if none (ELF: NT_GNU_BUILD_ID; PE: none) */
    uint8_t  nseg;          /* entries in seg[] */
    uint16_t reserved;
    uint32_t reserved2;
    uint64_t base;          /* ELF: load bias (dlpi_addr); PE: ImageBase as mapped */
    uint64_t start, end;    /* lowest and highest+1 address of the image */
    uint8_t  build_id[32];
    /* followed by nseg x wmt_segment, then path, zero padding to size.
     * PE paths are as Wine names them (e.g. "\??\C:\windows\system32\ntdll.dll",
     * converted to UTF-8). */
};
struct wmt_segment {
    uint64_t vaddr;         /* ELF: p_vaddr (add base); PE: RVA */
    uint64_t memsz;
    uint32_t flags;         /* ELF PF_R/W/X */
    uint32_t reserved;
};
enum { WMT_MOD_ELF = 1, WMT_MOD_PE = 2 };

/* THREAD: first record of every thread that records anything. Older
 * writers wrote 24 bytes (no serial): read `thread` only when h.size >= 32. */
struct wmt_thread {
    struct wmt_rec h;
    uint32_t tid;
    char     name[16];      /* comm of the thread, NUL padded */
    uint32_t thread;        /* serial, as in its chunks (WMT_HF_THREAD_SERIAL) */
    uint32_t reserved;
};

/* STACK: an interned call stack. frame[0] is the innermost frame: the return
 * address into the code that called the API (for Wine calls: the PE syscall
 * stub in ntdll.dll, then kernelbase, then the program...). Addresses are
 * return addresses as found (not minus 1). */
struct wmt_frame {
    uint32_t module;        /* module id, or 0: addr is absolute */
    uint32_t flags;         /* WMT_FR_* */
    uint64_t addr;          /* offset from the module's `start` (module != 0) or absolute */
};
enum {
    WMT_FR_PE  = 1,         /* found by the PE (.pdata) unwinder */
    WMT_FR_ELF = 2,         /* found by libunwind */
};
struct wmt_stack {
    struct wmt_rec h;
    uint32_t id;            /* >= 1, unique in the file */
    uint16_t nframes;
    uint16_t flags;         /* WMT_SF_* */
    uint32_t reserved;
    /* followed by nframes x wmt_frame */
};
enum {
    WMT_SF_TRUNCATED = 1,   /* stopped at WINMEM_STACK frames */
    WMT_SF_WINE_CTX  = 2,   /* started from Wine's syscall frame (TEB+0x328) */
};

/* CALL: one API call. Meaning of arg[] / out[] per API: see wmt_api_slots(). */
struct wmt_call {
    struct wmt_rec h;
    uint16_t api;           /* WMT_API_* */
    uint16_t flags;         /* WMT_CF_* and WMT_DOOR_* and mode bits */
    uint32_t tid;
    uint32_t stack;         /* stack id, 0 = none */
    uint64_t seq;           /* per-thread call sequence, from 1 */
    uint64_t start_ns;      /* CLOCK_MONOTONIC at entry */
    uint64_t dur_ns;        /* 0 while PENDING */
    uint64_t ret;           /* return value as the caller got it (NTSTATUS sign-extended for Nt*) */
    uint32_t status;        /* NTSTATUS for Nt* calls; 0 for Win32 calls unless known */
    uint32_t error;         /* Win32 last error after the call (Win32 door); errno (unix layer) */
    uint64_t arg[10];       /* inputs; *ptr values read at entry where the API takes in/out pointers */
    uint64_t out[8];        /* outputs, valid only when the call succeeded and is not PENDING */
};

enum {
    WMT_CF_DOOR_MASK = 3,
    WMT_DOOR_WINE    = 1,   /* Wine's syscall table (Nt* called by PE/winelib code) */
    WMT_DOOR_NATIVE  = 2,   /* the shim's exported winmem API */
    WMT_DOOR_UNIX    = 3,   /* mmap/munmap/mprotect/mremap/madvise */
    WMT_CF_MODE_SHIFT = 2,  /* (flags >> 2) & 3 = WMT_MODE_* */
    WMT_CF_PENDING   = 1u << 4,
    WMT_CF_ABORTED   = 1u << 5, /* the syscall did not return through the shim (fault in callee) */
    WMT_CF_SERVED    = 1u << 6, /* the answer came from winmem's core, not Wine */
    WMT_CF_REMOTE    = 1u << 7, /* the process handle named another process */
    WMT_CF_INTERNAL  = 1u << 8, /* Wine-private info class (>= 1000): passed through untouched */
};

/* DIVERGENCE (check mode): Wine's answer contradicts what the kernel knows. */
struct wmt_divergence {
    struct wmt_rec h;
    uint16_t api;
    uint16_t kind;          /* WMT_DIV_* */
    uint32_t tid;
    uint32_t reserved;
    uint64_t call_seq;      /* the CALL (same tid) it belongs to */
    uint64_t address;       /* page where they disagree */
    /* Wine's answer */
    uint64_t wine_base, wine_size;
    uint32_t wine_state, wine_protect, wine_type, reserved2;
    /* the kernel's VMA at address (vma_end == 0: no mapping) */
    uint64_t vma_start, vma_end;
    uint32_t vma_prot;      /* PROT_READ|PROT_WRITE|PROT_EXEC */
    uint32_t kernel_protect;/* the PAGE_* the kernel's protection means */
    /* winmem's native answer for the same address (0s when the core is absent) */
    uint32_t native_state, native_protect;
};
enum {
    WMT_DIV_NO_MAPPING = 1, /* Wine: committed and accessible; kernel: nothing mapped */
    WMT_DIV_PROTECT    = 2, /* Wine: committed; kernel: another access protection */
    WMT_DIV_MODEL      = 3, /* Wine: a state or protection no call through its door set;
                               native_state/native_protect: what those calls set (vma_* 0) */
};

/* LOST: records the shim dropped. Reasons WRITE, DESCRIPTOR, SIZE and
 * NOSPACE stop recording for good: the first such LOST names why. */
struct wmt_lost {
    struct wmt_rec h;
    uint32_t reason;        /* WMT_LOST_* */
    uint32_t reserved;
    uint64_t count;         /* records lost since the previous LOST of this reason */
};
enum {
    WMT_LOST_WRITE   = 1,   /* write() failed (an I/O error): recording stopped */
    WMT_LOST_BUSY    = 2,   /* buffer was being flushed by another thread, or none could be
                               appended for a while (winmem run's writer stopped holding the trace) */
    WMT_LOST_THREADS = 3,   /* more threads than the shim has buffers for */
    WMT_LOST_STACKS  = 4,   /* stack table full: calls recorded without stack */
    WMT_LOST_DESCRIPTOR = 5, /* the program closed or replaced the trace's descriptor: stopped */
    WMT_LOST_SIZE    = 6,   /* the size limit (WINMEM_MAX_SIZE) was reached: stopped */
    WMT_LOST_NOSPACE = 7,   /* the disk was full (ENOSPC, EDQUOT): stopped */
    WMT_LOST_COUNT   = 8,   /* reasons are < this; readers size their arrays by it */
};

/* END: the process left normally (exit, exec) — or, reason SALVAGED, it
 * died without one and `winmem run` (or the reader) saved what its buffers
 * held (see the .live file below). Absent after kill -9 otherwise. */
struct wmt_end {
    struct wmt_rec h;
    uint32_t reason;        /* WMT_END_* */
    uint32_t stop;          /* 0, or the WMT_LOST_* reason that stopped recording early */
    uint64_t calls;         /* CALL records written in total */
    uint64_t lost;          /* records lost in total */
};
enum { WMT_END_EXIT = 1, WMT_END_EXEC = 2, WMT_END_SALVAGED = 3 };

/* PROCESS: the Windows program a Wine process runs, as its PEB says
 * (ProcessParameters->ImagePathName, in UTF-8): for `wine nosuch.exe` that
 * is Wine's start.exe, not the program named. Written once per file, in a
 * chunk of its own (tid 0), at the first call through the Wine door;
 * absent in native programs and in older traces. */
struct wmt_process {
    struct wmt_rec h;
    uint16_t image_len;     /* bytes of image path, no NUL */
    uint16_t reserved;
    /* followed by the path, zero padding to size */
};

/* ---- the .live file beside a trace (TRACE.live) ----
 * While a process records, each thread's unwritten chunks live in a slot of
 * this file, mapped shared, so a record is in memory the kernel keeps the
 * instant it is made: a kill -9 or a hang loses nothing. On a normal end
 * the shim removes it. Otherwise `winmem run` (or the reader) salvages it
 * once the process is gone: every buffer whose chunk header has the chunk
 * magic and a length > 0 is a chunk not yet in the trace (CRC to be
 * computed), then LOST records from lost[], then END(SALVAGED) — or
 * END(end_reason) when the process ended normally but could not write it.
 * A chunk written just before the kill may be salvaged again: the rule
 * "per (thread, seq) a complete record wins over a PENDING one, then the
 * last" makes that harmless.
 *
 * A slot holds nbuf buffers at stride buf_size, each a wmt_live_buf, its
 * chunk header and up to buf_size - 32 bytes of records. nbuf > 1 only
 * under `winmem run`, whose writer (pid `writer`) appends the buffers the
 * program filled (state FULL) to the trace, so the program's threads do not
 * pay for the write; docs/trace-format.md "The writer" has the protocol.
 * WMTLIVE1 files (one buffer a slot, no state word) are still read. */
#define WMT_LIVE_MAGIC  "WMTLIVE2"
#define WMT_LIVE_MAGIC1 "WMTLIVE1"
#define WMT_LIVE_HEADER 4096        /* slots start here */
struct wmt_live {
    char     magic[8];      /* WMT_LIVE_MAGIC */
    uint32_t pid;
    uint32_t slot_size;     /* bytes per slot (WMTLIVE1: a wmt_chunk + records) */
    uint64_t start_time;    /* field 22 of /proc/PID/stat: tells a reused pid apart */
    uint32_t nslots;        /* slots in the file */
    uint32_t end_reason;    /* WMT_END_* when the process ended but END could not be written; else 0 */
    uint32_t stop;          /* WMT_LOST_* reason recording stopped, 0 while it goes on */
    uint32_t reserved;
    uint64_t lost[8];       /* lost records not yet in the trace, by WMT_LOST_* */
    /* WMTLIVE2 */
    uint32_t nbuf;          /* buffers per slot */
    uint32_t buf_size;      /* their stride */
    uint32_t writer;        /* pid appending FULL buffers to the trace; 0: the program writes them all */
    uint32_t final_room;    /* bytes every writer keeps free under max_size for LOST and END */
    uint64_t trace_dev, trace_ino;  /* the trace (a writer checks it opened this file) */
    uint64_t good_end;      /* the trace's size after the last whole chunk anyone appended */
    uint64_t max_size;      /* WINMEM_MAX_SIZE, 0: none */
};
struct wmt_live_buf {
    uint32_t state;         /* WMT_BUF_* */
    uint32_t calls;         /* CALL records in the chunk (lost, should it never be appended) */
    /* followed by a struct wmt_chunk and its records */
};
enum {
    WMT_BUF_OPEN     = 0,   /* the program's: being filled, or free (chunk length 0) */
    WMT_BUF_FULL     = 1,   /* filled, not yet in the trace */
    WMT_BUF_WRITING  = 2,   /* the writer appends it; then OPEN with length 0 */
    WMT_BUF_FLUSHING = 3,   /* the program appends it itself; then OPEN with length 0 */
};
/* RUN_DIR/writer: one page `winmem run` maps shared with the shims it
 * starts. A shim that finds it makes its .live with nbuf > 1 and writer =
 * pid, and wakes the writer (futex on wake) when it leaves a buffer FULL
 * while the writer says it is sleeping (see sleeping). */
#define WMT_WRITER_MAGIC "WMTWRIT1"
#define WMT_WRITER_FILE  "writer"
struct wmt_writer_page {
    char     magic[8];
    uint32_t pid;
    uint32_t sleeping;      /* the writer waits on wake: 1 for any FULL buffer, 2 only for a ring running short */
    uint32_t wake;          /* futex word */
    uint32_t reserved;
};

/* ---- API ids ---- */
#define WMT_APIS(X) \
    /* Nt* (Wine door; NtQueryVirtualMemory also native door) */ \
    X(1,  NtQueryVirtualMemory,      "process,address,class,buffer,length,retlen_ptr") \
    X(2,  NtAllocateVirtualMemory,   "process,base,zero_bits,size,type,protect,base_ptr,size_ptr") \
    X(3,  NtAllocateVirtualMemoryEx, "process,base,size,type,protect,params,count,base_ptr,size_ptr") \
    X(4,  NtFreeVirtualMemory,       "process,base,size,type,base_ptr,size_ptr") \
    X(5,  NtProtectVirtualMemory,    "process,base,size,protect,old_ptr,base_ptr,size_ptr") \
    X(6,  NtMapViewOfSection,        "section,process,base,zero_bits,commit,offset,size,inherit,type,protect") \
    X(7,  NtMapViewOfSectionEx,      "section,process,base,offset,size,type,protect,params,count") \
    X(8,  NtUnmapViewOfSection,      "process,address") \
    X(9,  NtUnmapViewOfSectionEx,    "process,address,flags") \
    X(10, NtReadVirtualMemory,       "process,address,buffer,size,done_ptr") \
    X(11, NtWriteVirtualMemory,      "process,address,buffer,size,done_ptr") \
    X(12, NtLockVirtualMemory,       "process,base,size,unknown,base_ptr,size_ptr") \
    X(13, NtUnlockVirtualMemory,     "process,base,size,unknown,base_ptr,size_ptr") \
    X(14, NtFlushVirtualMemory,      "process,base,size,unknown,base_ptr,size_ptr") \
    /* Win32 (native door) */ \
    X(32, VirtualQuery,              "address,buffer,length") \
    X(33, VirtualQueryEx,            "process,address,buffer,length") \
    X(34, QueryVirtualMemoryInformation, "process,address,class,buffer,length,retlen_ptr") \
    X(35, QueryWorkingSetEx,         "process,buffer,length") \
    X(36, K32QueryWorkingSetEx,      "process,buffer,length") \
    X(37, VirtualAlloc,              "address,size,type,protect") \
    X(38, VirtualAllocEx,            "process,address,size,type,protect") \
    X(39, VirtualFree,               "address,size,type") \
    X(40, VirtualFreeEx,             "process,address,size,type") \
    X(41, VirtualProtect,            "address,size,protect,old_ptr") \
    X(42, VirtualProtectEx,          "process,address,size,protect,old_ptr") \
    X(43, VirtualLock,               "address,size") \
    X(44, VirtualUnlock,             "address,size") \
    X(45, ZwQueryVirtualMemory,      "process,address,class,buffer,length,retlen_ptr") \
    /* AWE (kernelbase redirect by shim/awe_wine.c, or the native door) */ \
    X(48, AllocateUserPhysicalPages, "process,count_ptr,pfns,count") \
    X(49, MapUserPhysicalPages,      "address,count,pfns") \
    X(50, FreeUserPhysicalPages,     "process,count_ptr,pfns,count") \
    /* the unix layer (WINMEM_UNIX=1) */ \
    X(64, mmap,                      "addr,length,prot,flags,fd,offset") \
    X(65, munmap,                    "addr,length") \
    X(66, mprotect,                  "addr,length,prot") \
    X(67, mremap,                    "old_addr,old_size,new_size,flags,new_addr") \
    X(68, madvise,                   "addr,length,advice")

enum wmt_api {
#define WMT_ENUM_(id, name, args) WMT_API_##name = id,
    WMT_APIS(WMT_ENUM_)
#undef WMT_ENUM_
    WMT_API_MAX = 128
};

/* Outputs (out[]) by API, valid when the call succeeded:
 *  query-type calls (NtQueryVirtualMemory / ZwQuery... class 0, VirtualQuery,
 *  VirtualQueryEx): the MEMORY_BASIC_INFORMATION returned —
 *    out[0] BaseAddress, out[1] AllocationBase, out[2] AllocationProtect,
 *    out[3] RegionSize, out[4] State, out[5] Protect, out[6] Type,
 *    out[7] *ReturnLength (Nt*: 0 when no pointer given)
 *  class 3 MemoryRegionInformation / QueryVirtualMemoryInformation:
 *    out[0] AllocationBase, out[1] AllocationProtect, out[2] RegionType,
 *    out[3] RegionSize, out[4] CommitSize, out[7] *ReturnLength
 *  class 4 MemoryWorkingSetExInformation, QueryWorkingSetEx:
 *    out[0] first entry's VirtualAddress, out[1] its VirtualAttributes,
 *    out[2] number of entries, out[7] *ReturnLength
 *  class 2 MemoryMappedFilenameInformation: out[0] name length in bytes, out[7] *ReturnLength
 *  NtAllocateVirtualMemory(Ex), NtFreeVirtualMemory, NtLock/Unlock/FlushVirtualMemory,
 *  NtMapViewOfSection(Ex): out[0] *base after, out[1] *size after
 *  NtProtectVirtualMemory: out[0] *base after, out[1] *size after, out[2] *old
 *  VirtualProtect(Ex): out[2] *old
 *  NtRead/WriteVirtualMemory: out[0] bytes done
 *  Others: ret says it all.
 * arg[] for Nt* in/out pointers holds the pointed-to value read at entry
 * (e.g. NtAllocateVirtualMemory arg[1] = *base_ptr, arg[6] = base_ptr). */

/* Names and argument names, for readers: wmt_api_name(WMT_API_VirtualQuery). */
static inline const char *wmt_api_name(unsigned api)
{
    switch (api) {
#define WMT_NAME_(id, name, args) case id: return #name;
    WMT_APIS(WMT_NAME_)
#undef WMT_NAME_
    default: return 0;
    }
}
static inline const char *wmt_api_args(unsigned api)
{
    switch (api) {
#define WMT_ARGS_(id, name, args) case id: return args;
    WMT_APIS(WMT_ARGS_)
#undef WMT_ARGS_
    default: return 0;
    }
}

/* Sizes a reader can check (and the shim asserts at compile time). */
#define WMT_HEADER_FIXED_SIZE 56
#define WMT_CHUNK_SIZE        24
#define WMT_CALL_SIZE         200

#ifdef __cplusplus
}
#endif
#endif
