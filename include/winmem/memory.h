/*
 * winmem/memory.h — the Windows virtual-memory API, natively on Linux:
 * constants, structures and prototypes of memoryapi.h, winternl.h (the
 * memory part) and psapi.h (QueryWorkingSetEx), plus the process-handle and
 * last-error calls they depend on.
 *
 * Every function has the Windows signature, return values and error codes.
 * Where Linux cannot know what Windows would answer, docs/ says what winmem
 * answers instead. All functions are thread-safe.
 */
#ifndef WINMEM_MEMORY_H
#define WINMEM_MEMORY_H

#include "wintypes.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants (winnt.h) ---- */
#if !WINMEM_HAVE_WINDOWS_H
#define PAGE_NOACCESS          0x01
#define PAGE_READONLY          0x02
#define PAGE_READWRITE         0x04
#define PAGE_WRITECOPY         0x08
#define PAGE_EXECUTE           0x10
#define PAGE_EXECUTE_READ      0x20
#define PAGE_EXECUTE_READWRITE 0x40
#define PAGE_EXECUTE_WRITECOPY 0x80
#define PAGE_GUARD             0x100
#define PAGE_NOCACHE           0x200
#define PAGE_WRITECOMBINE      0x400

#define MEM_COMMIT                 0x00001000
#define MEM_RESERVE                0x00002000
#define MEM_REPLACE_PLACEHOLDER    0x00004000
#define MEM_DECOMMIT               0x00004000
#define MEM_RELEASE                0x00008000
#define MEM_FREE                   0x00010000
#define MEM_PRIVATE                0x00020000
#define MEM_MAPPED                 0x00040000
#define MEM_RESERVE_PLACEHOLDER    0x00040000
#define MEM_RESET                  0x00080000
#define MEM_TOP_DOWN               0x00100000
#define MEM_WRITE_WATCH            0x00200000
#define MEM_PHYSICAL               0x00400000
#define MEM_ROTATE                 0x00800000
#define MEM_RESET_UNDO             0x01000000
#define MEM_IMAGE                  0x01000000
#define MEM_LARGE_PAGES            0x20000000
#define MEM_4MB_PAGES              0x80000000
#define MEM_COALESCE_PLACEHOLDERS  0x00000001
#define MEM_PRESERVE_PLACEHOLDER   0x00000002

#define SEC_64K_PAGES      0x00080000
#define SEC_FILE           0x00800000
#define SEC_IMAGE          0x01000000
#define SEC_PROTECTED_IMAGE 0x02000000
#define SEC_RESERVE        0x04000000
#define SEC_COMMIT         0x08000000
#define SEC_NOCACHE        0x10000000
#define SEC_WRITECOMBINE   0x40000000
#define SEC_LARGE_PAGES    0x80000000

#define PROCESS_VM_OPERATION              0x0008
#define PROCESS_VM_READ                   0x0010
#define PROCESS_VM_WRITE                  0x0020
#define PROCESS_QUERY_INFORMATION         0x0400
#define PROCESS_QUERY_LIMITED_INFORMATION 0x1000
#define PROCESS_ALL_ACCESS                0x001FFFFF

#define PROCESSOR_ARCHITECTURE_AMD64 9
#define PROCESSOR_AMD_X8664          8664

/* ---- structures ---- */
typedef struct _MEMORY_BASIC_INFORMATION {
    PVOID  BaseAddress;        /* the queried address rounded down to a page */
    PVOID  AllocationBase;     /* base of the VirtualAlloc / view / image */
    DWORD  AllocationProtect;  /* protection given at allocation */
    SIZE_T RegionSize;         /* bytes from BaseAddress with equal attributes */
    DWORD  State;              /* MEM_COMMIT, MEM_RESERVE or MEM_FREE */
    DWORD  Protect;            /* current protection; 0 when not committed */
    DWORD  Type;               /* MEM_PRIVATE, MEM_MAPPED, MEM_IMAGE; 0 when free */
} MEMORY_BASIC_INFORMATION, *PMEMORY_BASIC_INFORMATION;

typedef struct _SYSTEM_INFO {
    union {
        DWORD dwOemId;
        struct { WORD wProcessorArchitecture; WORD wReserved; };
    };
    DWORD     dwPageSize;
    LPVOID    lpMinimumApplicationAddress;
    LPVOID    lpMaximumApplicationAddress;
    DWORD_PTR dwActiveProcessorMask;
    DWORD     dwNumberOfProcessors;
    DWORD     dwProcessorType;
    DWORD     dwAllocationGranularity;
    WORD      wProcessorLevel;
    WORD      wProcessorRevision;
} SYSTEM_INFO, *LPSYSTEM_INFO;
#endif /* !WINMEM_HAVE_WINDOWS_H */

/* ---- memoryapi.h (Wine's has no include guard; mingw's is _MEMORYAPI_H_) ---- */
#if !WINMEM_HAVE_WINDOWS_H || !(defined(__WINE_WINBASE_H) || defined(_MEMORYAPI_H_))
typedef enum WIN32_MEMORY_INFORMATION_CLASS {
    MemoryRegionInfo
} WIN32_MEMORY_INFORMATION_CLASS;

typedef struct WIN32_MEMORY_REGION_INFORMATION {
    PVOID AllocationBase;
    ULONG AllocationProtect;
    union {
        ULONG Flags;
        struct {
            ULONG Private : 1;
            ULONG MappedDataFile : 1;
            ULONG MappedImage : 1;
            ULONG MappedPageFile : 1;
            ULONG MappedPhysical : 1;
            ULONG DirectMapped : 1;
            ULONG Reserved : 26;
        };
    };
    SIZE_T RegionSize;   /* the whole allocation */
    SIZE_T CommitSize;   /* committed bytes in the allocation */
} WIN32_MEMORY_REGION_INFORMATION;
#endif

/* ---- winternl.h ---- */
#if !(defined(__WINE_WINTERNL_H) || defined(_WINTERNL_))
typedef enum _MEMORY_INFORMATION_CLASS {
    MemoryBasicInformation,
    MemoryWorkingSetInformation,
    MemoryMappedFilenameInformation,
    MemoryRegionInformation,
    MemoryWorkingSetExInformation,
    MemorySharedCommitInformation,
    MemoryImageInformation,
    MemoryRegionInformationEx,
    MemoryPrivilegedBasicInformation,
    MemoryEnclaveImageInformation,
    MemoryBasicInformationCapped,
    MemoryPhysicalContiguityInformation
} MEMORY_INFORMATION_CLASS;

/* MemoryMappedFilenameInformation: the string's buffer follows the struct. */
typedef struct _MEMORY_SECTION_NAME {
    UNICODE_STRING SectionFileName;
} MEMORY_SECTION_NAME, *PMEMORY_SECTION_NAME;

typedef union _MEMORY_WORKING_SET_EX_BLOCK {
    ULONG_PTR Flags;
    struct {
        ULONG_PTR Valid : 1;
        ULONG_PTR ShareCount : 3;
        ULONG_PTR Win32Protection : 11;
        ULONG_PTR Shared : 1;
        ULONG_PTR Node : 6;
        ULONG_PTR Locked : 1;
        ULONG_PTR LargePage : 1;
    };
} MEMORY_WORKING_SET_EX_BLOCK, *PMEMORY_WORKING_SET_EX_BLOCK;

typedef struct _MEMORY_WORKING_SET_EX_INFORMATION {
    PVOID                       VirtualAddress;    /* in: the page to ask about */
    MEMORY_WORKING_SET_EX_BLOCK VirtualAttributes; /* out */
} MEMORY_WORKING_SET_EX_INFORMATION, *PMEMORY_WORKING_SET_EX_INFORMATION;

typedef struct _MEMORY_REGION_INFORMATION {
    PVOID AllocationBase;
    ULONG AllocationProtect;
    union {
        ULONG RegionType;
        struct {
            ULONG Private : 1;
            ULONG MappedDataFile : 1;
            ULONG MappedImage : 1;
            ULONG MappedPageFile : 1;
            ULONG MappedPhysical : 1;
            ULONG DirectMapped : 1;
            ULONG Reserved : 26;
        };
    };
    SIZE_T RegionSize;
    SIZE_T CommitSize;
    ULONG_PTR PartitionId;
    ULONG_PTR NodePreference;
} MEMORY_REGION_INFORMATION, *PMEMORY_REGION_INFORMATION;
#endif

/* ---- psapi.h ---- */
#if !(defined(__WINE_PSAPI_H) || defined(_PSAPI_H_))
typedef union _PSAPI_WORKING_SET_EX_BLOCK {
    ULONG_PTR Flags;
    struct {
        ULONG_PTR Valid : 1;
        ULONG_PTR ShareCount : 3;
        ULONG_PTR Win32Protection : 11;
        ULONG_PTR Shared : 1;
        ULONG_PTR Node : 6;
        ULONG_PTR Locked : 1;
        ULONG_PTR LargePage : 1;
    };
} PSAPI_WORKING_SET_EX_BLOCK, *PPSAPI_WORKING_SET_EX_BLOCK;

typedef struct _PSAPI_WORKING_SET_EX_INFORMATION {
    PVOID                      VirtualAddress;
    PSAPI_WORKING_SET_EX_BLOCK VirtualAttributes;
} PSAPI_WORKING_SET_EX_INFORMATION, *PPSAPI_WORKING_SET_EX_INFORMATION;
#endif

/* ---- queries (core/query.c) ---- */

/* Describes the pages from lpAddress with equal attributes. Returns
 * sizeof(MEMORY_BASIC_INFORMATION), or 0 with GetLastError():
 * ERROR_BAD_LENGTH (dwLength too small), ERROR_NOACCESS (lpBuffer NULL or
 * unwritable), ERROR_INVALID_PARAMETER (address above the user range). */
SIZE_T WINMEM_API VirtualQuery(LPCVOID lpAddress, PMEMORY_BASIC_INFORMATION lpBuffer, SIZE_T dwLength);

/* VirtualQuery on any process the caller may read. Also ERROR_INVALID_HANDLE,
 * ERROR_ACCESS_DENIED. */
SIZE_T WINMEM_API VirtualQueryEx(HANDLE hProcess, LPCVOID lpAddress,
                                 PMEMORY_BASIC_INFORMATION lpBuffer, SIZE_T dwLength);

/* Classes: MemoryBasicInformation, MemoryMappedFilenameInformation,
 * MemoryRegionInformation, MemoryWorkingSetExInformation; others return
 * STATUS_INVALID_INFO_CLASS. Short buffer: STATUS_INFO_LENGTH_MISMATCH; the
 * one exception is a file name that does not fit after its header:
 * STATUS_BUFFER_OVERFLOW with *ReturnLength = the size needed (docs/query.md). */
NTSTATUS WINMEM_API NtQueryVirtualMemory(HANDLE ProcessHandle, LPCVOID BaseAddress,
                                         MEMORY_INFORMATION_CLASS MemoryInformationClass,
                                         PVOID MemoryInformation, SIZE_T MemoryInformationLength,
                                         SIZE_T *ReturnLength);
NTSTATUS WINMEM_API ZwQueryVirtualMemory(HANDLE ProcessHandle, LPCVOID BaseAddress,
                                         MEMORY_INFORMATION_CLASS MemoryInformationClass,
                                         PVOID MemoryInformation, SIZE_T MemoryInformationLength,
                                         SIZE_T *ReturnLength);

/* MemoryRegionInfo only. TRUE, or FALSE with GetLastError(). */
BOOL WINMEM_API QueryVirtualMemoryInformation(HANDLE Process, const VOID *VirtualAddress,
                                              WIN32_MEMORY_INFORMATION_CLASS MemoryInformationClass,
                                              PVOID MemoryInformation, SIZE_T MemoryInformationSize,
                                              PSIZE_T ReturnSize);

/* pv: an array of PSAPI_WORKING_SET_EX_INFORMATION with VirtualAddress set;
 * cb: its size in bytes. Fills VirtualAttributes in the caller's order. */
BOOL WINMEM_API QueryWorkingSetEx(HANDLE hProcess, PVOID pv, DWORD cb);
BOOL WINMEM_API K32QueryWorkingSetEx(HANDLE hProcess, PVOID pv, DWORD cb);

/* ---- allocation (core/alloc.c, core/vlock.c, core/guard.c) ---- */
/* Windows semantics and error codes; docs/allocation.md lists where Linux
 * differs. Reservations are 64 KiB aligned (a requested address is rounded
 * down to 64 KiB to reserve, to a page to commit). flProtect: one of the
 * eight PAGE_* bases, optionally with one of GUARD/NOCACHE/WRITECOMBINE;
 * WRITECOPY bases and PAGE_NOACCESS with a modifier → ERROR_INVALID_PARAMETER.
 * MEM_COMMIT on reserved pages gives zeroed pages the first time; MEM_RESET
 * keeps the state; MEM_RESERVE|MEM_PHYSICAL (PAGE_READWRITE only) reserves an
 * AWE window. NULL with GetLastError() on failure. */
LPVOID WINMEM_API VirtualAlloc(LPVOID lpAddress, SIZE_T dwSize, DWORD flAllocationType, DWORD flProtect);
/* As VirtualAlloc for this process (GetCurrentProcess() or an OpenProcess of
 * it). Another process's handle → ERROR_ACCESS_DENIED (Linux cannot map into
 * it), a bad handle → ERROR_INVALID_HANDLE. Same for the other Ex calls. */
LPVOID WINMEM_API VirtualAllocEx(HANDLE hProcess, LPVOID lpAddress, SIZE_T dwSize,
                                 DWORD flAllocationType, DWORD flProtect);
/* MEM_RELEASE: lpAddress the allocation base, dwSize 0 (else
 * ERROR_INVALID_PARAMETER; not a base → ERROR_INVALID_ADDRESS). MEM_DECOMMIT:
 * pages of one allocation (dwSize 0 at the base: all of it). */
BOOL WINMEM_API VirtualFree(LPVOID lpAddress, SIZE_T dwSize, DWORD dwFreeType);
BOOL WINMEM_API VirtualFreeEx(HANDLE hProcess, LPVOID lpAddress, SIZE_T dwSize, DWORD dwFreeType);
/* Every page must be committed (else ERROR_INVALID_ADDRESS), within one
 * winmem allocation or all in memory winmem did not allocate (there
 * GUARD/NOCACHE/WRITECOMBINE → ERROR_NOT_SUPPORTED). *lpflOldProtect
 * (required: NULL → ERROR_NOACCESS) receives the first page's protection.
 * AllocationProtect never changes. */
BOOL WINMEM_API VirtualProtect(LPVOID lpAddress, SIZE_T dwSize, DWORD flNewProtect, PDWORD lpflOldProtect);
BOOL WINMEM_API VirtualProtectEx(HANDLE hProcess, LPVOID lpAddress, SIZE_T dwSize,
                                 DWORD flNewProtect, PDWORD lpflOldProtect);
/* mlock/munlock. Reserved or PAGE_NOACCESS pages → ERROR_NOACCESS; an armed
 * guard page fails the call once with STATUS_GUARD_PAGE_VIOLATION as the
 * error and loses its guard; over RLIMIT_MEMLOCK → ERROR_WORKING_SET_QUOTA.
 * VirtualUnlock of pages not locked → ERROR_NOT_LOCKED. */
BOOL WINMEM_API VirtualLock(LPVOID lpAddress, SIZE_T dwSize);
BOOL WINMEM_API VirtualUnlock(LPVOID lpAddress, SIZE_T dwSize);

/* ---- winmem extensions: seeing PAGE_GUARD without SEH (core/guard.c) ---- */
/* The first access to a guard page clears the guard, then completes, as under
 * a Windows handler that returns EXCEPTION_CONTINUE_EXECUTION. These show
 * that the STATUS_GUARD_PAGE_VIOLATION happened. */
/* Guard-page exceptions the calling thread has raised so far. */
ULONG64 WINMEM_API winmem_GuardPageHits(void);
/* Callback(Address, Context) runs inside the SIGSEGV handler on the faulting
 * thread, once per guard-page exception: it must be async-signal-safe and
 * must not call winmem. NULL removes it. */
typedef void (WINMEM_API *WINMEM_GUARD_CALLBACK)(PVOID Address, PVOID Context);
void WINMEM_API winmem_SetGuardPageCallback(WINMEM_GUARD_CALLBACK Callback, PVOID Context);

/* ---- processes, errors, system (core/process.c) ---- */
/* The pseudo-handle (HANDLE)-1: always this process, never needs closing. */
HANDLE WINMEM_API GetCurrentProcess(void);
DWORD WINMEM_API GetCurrentProcessId(void);
/* Opens /proc/PID/ now, so the handle stays bound to that process even if the
 * pid is reused later. NULL with ERROR_INVALID_PARAMETER (no such pid) or
 * ERROR_ACCESS_DENIED (the kernel's ptrace read check refused). */
HANDLE WINMEM_API OpenProcess(DWORD dwDesiredAccess, BOOL bInheritHandle, DWORD dwProcessId);
DWORD WINMEM_API GetProcessId(HANDLE Process);
BOOL WINMEM_API CloseHandle(HANDLE hObject);
DWORD WINMEM_API GetLastError(void);
void WINMEM_API SetLastError(DWORD dwErrCode);
void WINMEM_API GetSystemInfo(LPSYSTEM_INFO lpSystemInfo);

#ifdef __cplusplus
}
#endif
#endif
