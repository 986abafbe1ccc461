/*
 * winmem/vmsavedstatedump.h — the VM saved-state dump API of Windows'
 * vmsavedstatedumpprovider.dll, over the guest-memory dumps Linux users have:
 * QEMU dump-guest-memory ELF (paging on or off), kdump-compressed (standard
 * and flattened; zlib, lzo, snappy, zstd), LiME, and raw images.
 *
 * ABI: the current SDK one (VmSavedStateDump.h of SDK 10.0.22621+):
 * 4-argument GetRegisterValue, one REGISTER_ID enum, the 16-byte
 * VIRTUAL_PROCESSOR_REGISTER union, 5-argument
 * GuestVirtualAddressToPhysicalAddress, VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED.
 * Every function is WINAPI (ms_abi on x86-64), so the same symbols serve
 * native C callers and Wine. docs/savedstate.md has the HRESULT table.
 */
#ifndef WINMEM_VMSAVEDSTATEDUMP_H
#define WINMEM_VMSAVEDSTATEDUMP_H

#include "wintypes.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HRESULTs of the API (winerror.h, SDK 22621 and later). */
#define VM_SAVED_STATE_DUMP_E_PARTITION_STATE_NOT_FOUND      WINMEM_HRESULT(0xC0370500)
#define VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND         WINMEM_HRESULT(0xC0370501)
#define VM_SAVED_STATE_DUMP_E_NO_VP_FOUND_IN_PARTITION_STATE WINMEM_HRESULT(0xC0370502)
#define VM_SAVED_STATE_DUMP_E_NESTED_VIRTUALIZATION_NOT_SUPPORTED WINMEM_HRESULT(0xC0370503)
#define VM_SAVED_STATE_DUMP_E_WINDOWS_KERNEL_IMAGE_NOT_FOUND WINMEM_HRESULT(0xC0370504)
#define VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED                  WINMEM_HRESULT(0xC0370505)
#define VM_SAVED_STATE_DUMP_E_INVALID_VP_STATE               WINMEM_HRESULT(0xC0370506)
#define VM_SAVED_STATE_DUMP_E_VP_VTL_NOT_ENABLED             WINMEM_HRESULT(0xC0370509)

typedef VOID  *VM_SAVED_STATE_DUMP_HANDLE;
typedef UINT64 GUEST_VIRTUAL_ADDRESS;
typedef UINT64 GUEST_PHYSICAL_ADDRESS;

typedef enum PAGING_MODE {
    Paging_Invalid = 0,
    Paging_NonPaged,
    Paging_32Bit,
    Paging_Pae,
    Paging_Long,
    Paging_Armv8
} PAGING_MODE;

typedef struct GPA_MEMORY_CHUNK {
    UINT64 GuestPhysicalStartPageIndex;
    UINT64 PageCount;
} GPA_MEMORY_CHUNK;

typedef enum VIRTUAL_PROCESSOR_ARCH {
    Arch_Unknown = 0,
    Arch_x86,
    Arch_x64,
    Arch_Armv8
} VIRTUAL_PROCESSOR_ARCH;

typedef enum REGISTER_ID {
    X64_RegisterRax = 0, X64_RegisterRcx, X64_RegisterRdx, X64_RegisterRbx,
    X64_RegisterRsp, X64_RegisterRbp, X64_RegisterRsi, X64_RegisterRdi,
    X64_RegisterR8, X64_RegisterR9, X64_RegisterR10, X64_RegisterR11,
    X64_RegisterR12, X64_RegisterR13, X64_RegisterR14, X64_RegisterR15,
    X64_RegisterRip, X64_RegisterRFlags,
    X64_RegisterXmm0, X64_RegisterXmm1, X64_RegisterXmm2, X64_RegisterXmm3,
    X64_RegisterXmm4, X64_RegisterXmm5, X64_RegisterXmm6, X64_RegisterXmm7,
    X64_RegisterXmm8, X64_RegisterXmm9, X64_RegisterXmm10, X64_RegisterXmm11,
    X64_RegisterXmm12, X64_RegisterXmm13, X64_RegisterXmm14, X64_RegisterXmm15,
    X64_RegisterFpMmx0, X64_RegisterFpMmx1, X64_RegisterFpMmx2, X64_RegisterFpMmx3,
    X64_RegisterFpMmx4, X64_RegisterFpMmx5, X64_RegisterFpMmx6, X64_RegisterFpMmx7,
    X64_RegisterFpControlStatus, X64_RegisterXmmControlStatus,
    X64_RegisterCr0, X64_RegisterCr2, X64_RegisterCr3, X64_RegisterCr4,
    X64_RegisterCr8, X64_RegisterEfer,
    X64_RegisterDr0, X64_RegisterDr1, X64_RegisterDr2, X64_RegisterDr3,
    X64_RegisterDr6, X64_RegisterDr7,
    X64_RegisterEs, X64_RegisterCs, X64_RegisterSs, X64_RegisterDs,
    X64_RegisterFs, X64_RegisterGs, X64_RegisterLdtr, X64_RegisterTr,
    X64_RegisterIdtr, X64_RegisterGdtr,
    X64_RegisterMax
    /* The ARM64_Register* values are not declared: no supported dump holds them. */
} REGISTER_ID;

typedef union VIRTUAL_PROCESSOR_REGISTER {
    UINT64 Reg64;
    UINT32 Reg32;
    UINT16 Reg16;
    UINT8  Reg8;
    struct { UINT64 Low64; UINT64 High64; } Reg128;
    union {
        struct {
            UINT64 Base;
            UINT32 Limit;
            UINT16 Selector;
            union {
                UINT16 Attributes;
                struct {
                    UINT16 SegmentType : 4;
                    UINT16 NonSystemSegment : 1;
                    UINT16 DescriptorPrivilegeLevel : 2;
                    UINT16 Present : 1;
                    UINT16 Reserved : 4;
                    UINT16 Available : 1;
                    UINT16 Long : 1;
                    UINT16 Default : 1;
                    UINT16 Granularity : 1;
                };
            };
        } Segment;
        struct { UINT16 Limit; UINT64 Base; } Table;
        struct {
            UINT16 FpControl; UINT16 FpStatus; UINT8 FpTag; UINT8 Reserved; UINT16 LastFpOp;
            union { UINT64 LastFpRip; struct { UINT32 LastFpEip; UINT16 LastFpCs; }; };
        } FpControlStatus;
        struct {
            union { UINT64 LastFpRdp; struct { UINT32 LastFpDp; UINT16 LastFpDs; }; };
            UINT32 XmmStatusControl; UINT32 XmmStatusControlMask;
        } XmmControlStatus;
    } X64;
} VIRTUAL_PROCESSOR_REGISTER;

/*
 * Opens a dump; the format is recognised from the content (QEMU ELF, kdump
 * standard or flattened, LiME). Raw images have no magic to recognise: open
 * them with LoadSavedStateFiles. Only headers (and CPU notes) are read. *VmSavedStateDumpHandle gets a handle for
 * the other functions; ReleaseSavedStateFiles frees it.
 * Errors: E_POINTER; HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND /
 * ERROR_PATH_NOT_FOUND), E_ACCESSDENIED; HRESULT_FROM_WIN32(ERROR_BAD_FORMAT)
 * for an unknown format or a file that breaks its format (truncated, offsets
 * past the end, ...);
 * HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED) for a compression this build lacks.
 */
HRESULT WINAPI LoadSavedStateFile(LPCWSTR VmrsFile, VM_SAVED_STATE_DUMP_HANDLE *VmSavedStateDumpHandle);

/*
 * The Windows pair is (.bin, .vsv). For Linux dumps the pair is (raw image,
 * layout file). VsvFile NULL: the image is guest memory from GPA 0 (QMP
 * pmemsave). Otherwise the image holds guest memory ranges back to back, the layout
 * (text) lists them in file order, one "START LENGTH" per line (hex or
 * decimal, '#' comments), e.g. a file made from a memory-backend-file.
 * A layout that does not fit the image → HRESULT_FROM_WIN32(ERROR_BAD_FORMAT).
 */
HRESULT WINAPI LoadSavedStateFiles(LPCWSTR BinFile, LPCWSTR VsvFile, VM_SAVED_STATE_DUMP_HANDLE *VmSavedStateDumpHandle);

/* Frees the handle. An unknown handle → E_HANDLE (the real DLL does not check). */
HRESULT WINAPI ReleaseSavedStateFiles(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle);

/* UTF-8 paths for native callers; otherwise as the two functions above. */
HRESULT WINAPI winmem_LoadSavedStateFileUtf8(const char *Path, VM_SAVED_STATE_DUMP_HANDLE *VmSavedStateDumpHandle);
HRESULT WINAPI winmem_LoadSavedStateFilesUtf8(const char *ImagePath, const char *LayoutPath,
                                              VM_SAVED_STATE_DUMP_HANDLE *VmSavedStateDumpHandle);
/* The format name of an open dump ("elf", "kdump", "kdump-flattened", "lime", "raw", "raw+layout"). */
HRESULT WINAPI winmem_GetSavedStateFormat(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, const char **Format);

/*
 * The guest's physical memory as runs of pages (adjacent ranges coalesced).
 * MemoryChunks NULL or *MemoryChunkCount too small → *MemoryChunkCount = the
 * count needed, E_OUTOFMEMORY, nothing else written (the two-call pattern).
 * Otherwise *MemoryChunkPageSize = 4096, the chunks, the exact count, S_OK.
 * No I/O. E_POINTER for NULL MemoryChunkPageSize or MemoryChunkCount.
 */
HRESULT WINAPI GetGuestPhysicalMemoryChunks(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle,
                                            UINT64 *MemoryChunkPageSize, GPA_MEMORY_CHUNK *MemoryChunks,
                                            UINT64 *MemoryChunkCount);

/* Size of the raw saved memory: the chunks concatenated in GPA order. */
HRESULT WINAPI GetGuestRawSavedMemorySize(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT64 *GuestRawSavedMemorySize);

/*
 * Reads the raw saved memory as one flat range. A read past its end is
 * short; one starting at or past the end → VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND
 * with *BytesRead = 0. BytesRead is optional. Thread-safe.
 */
HRESULT WINAPI ReadGuestRawSavedMemory(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT64 RawSavedMemoryOffset,
                                       LPVOID Buffer, UINT32 BufferSize, UINT32 *BytesRead);

/* GPA → offset in the raw saved memory; a GPA in no chunk → VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND. */
HRESULT WINAPI GuestPhysicalAddressToRawSavedMemoryOffset(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle,
                                                          GUEST_PHYSICAL_ADDRESS PhysicalAddress, UINT64 *RawSavedMemoryOffset);

/*
 * Reads guest-physical memory. A start in no chunk → VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND
 * with *BytesRead = 0; a read running off the end of its chunk stops there
 * (S_OK, short *BytesRead). Thread-safe (pread; no shared file position).
 * HRESULT_FROM_WIN32(ERROR_INVALID_DATA) when the dump's bytes for the range
 * are corrupt (e.g. a kdump page that does not decompress).
 */
HRESULT WINAPI ReadGuestPhysicalAddress(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, GUEST_PHYSICAL_ADDRESS PhysicalAddress,
                                        LPVOID Buffer, UINT32 BufferSize, UINT32 *BytesRead);

/* Number of virtual processors in the dump's CPU notes; 0 for LiME and raw. */
HRESULT WINAPI GetVpCount(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT32 *VpCount);

/*
 * The architecture VP VpId was running in: Arch_x64 in 64-bit mode (CS.L),
 * else Arch_x86, unless ForceArchitecture set one. A VpId not below
 * GetVpCount → E_INVALIDARG (so always for LiME and raw).
 */
HRESULT WINAPI GetArchitecture(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT32 VpId, VIRTUAL_PROCESSOR_ARCH *Architecture);
/* Overrides GetArchitecture for that VP; Arch_x86 or Arch_x64, else E_INVALIDARG. */
HRESULT WINAPI ForceArchitecture(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT32 VpId, VIRTUAL_PROCESSOR_ARCH Architecture);

/*
 * A register of VP VpId as of the dump. QEMU dumps hold the general
 * registers, RIP, RFLAGS, segments (with hidden base/limit/attributes),
 * LDTR, TR, GDTR, IDTR, CR0, CR2, CR3, CR4. They do not hold EFER, CR8,
 * DR0-7, x87/MMX, SSE: those → HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED),
 * never a made-up value. A dump with only NT_PRSTATUS notes holds fewer.
 * RegisterId ≥ X64_RegisterMax → E_INVALIDARG.
 */
HRESULT WINAPI GetRegisterValue(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT32 VpId, DWORD RegisterId,
                                VIRTUAL_PROCESSOR_REGISTER *Registervalue);

/*
 * The paging mode inferred from CR0.PG, CR4.PAE and CS.L (or the ELF
 * machine), unless ForcePagingMode set one. 5-level paging (CR4.LA57) has no
 * PAGING_MODE: Paging_Invalid and HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED).
 * A VP without control registers in the dump → VM_SAVED_STATE_DUMP_E_INVALID_VP_STATE.
 */
HRESULT WINAPI GetPagingMode(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT32 VpId, PAGING_MODE *PagingMode);
/* Paging_NonPaged .. Paging_Long; anything else → E_INVALIDARG. */
HRESULT WINAPI ForcePagingMode(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT32 VpId, PAGING_MODE PagingMode);

/* TRUE when the VP was at privilege level 0 (SS.DPL, or CS.RPL without segment state). */
HRESULT WINAPI InKernelSpace(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT32 VpId, BOOL *InKernelSpace);

/*
 * Walks VP VpId's page tables (CR3) in its paging mode: x86-64 4-level with
 * 1 GiB and 2 MiB pages, PAE, 32-bit (4 MiB pages with CR4.PSE), or none.
 * A missing entry → VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED and, if
 * UnmappedRegionSize is given, the bytes from VA to the end of the region
 * that entry would have mapped. A table outside the dump →
 * VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND. LA57 → ERROR_NOT_SUPPORTED.
 */
HRESULT WINAPI GuestVirtualAddressToPhysicalAddress(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT32 VpId,
                                                    const GUEST_VIRTUAL_ADDRESS VirtualAddress,
                                                    GUEST_PHYSICAL_ADDRESS *PhysicalAddress,
                                                    GUEST_VIRTUAL_ADDRESS *UnmappedRegionSize);

/*
 * The cache limit of the Windows DLL (default 0). winmem records it and
 * returns it; reads go through the kernel's page cache whatever its value.
 */
HRESULT WINAPI SetMemoryBlockCacheLimit(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT64 MemoryBlockCacheLimit);
HRESULT WINAPI GetMemoryBlockCacheLimit(VM_SAVED_STATE_DUMP_HANDLE VmSavedStateDumpHandle, UINT64 *MemoryBlockCacheLimit);

#ifdef __cplusplus
}
#endif
#endif
