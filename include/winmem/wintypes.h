/*
 * winmem/wintypes.h — the Windows base types winmem's API is written in.
 *
 * Standalone, this header defines the LP64 Linux layout of the Windows types
 * (LONG and DWORD are 32-bit, as on Win64). When Wine's or mingw-w64's
 * <windows.h> was included first, their definitions are used and nothing is
 * redefined. Include <windows.h> before any winmem header, never after.
 */
#ifndef WINMEM_WINTYPES_H
#define WINMEM_WINTYPES_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WINNT_)
#define WINMEM_HAVE_WINDOWS_H 1
#else
#define WINMEM_HAVE_WINDOWS_H 0
#endif

/* WINAPI is ms_abi on x86_64, as in Wine's headers: one set of symbols then
 * serves native Linux callers, winelib programs and Wine's syscall table.
 * With <windows.h> present, its own WINAPI is the same convention. */
#if WINMEM_HAVE_WINDOWS_H
#define WINMEM_API WINAPI
#elif defined(__x86_64__)
#define WINMEM_API __attribute__((ms_abi))
#else
#define WINMEM_API
#endif

#if !WINMEM_HAVE_WINDOWS_H
#ifndef WINAPI
#define WINAPI WINMEM_API
#endif
#ifndef NTAPI
#define NTAPI WINMEM_API
#endif
#ifndef VOID
#define VOID void
#endif
#ifndef CONST
#define CONST const
#endif
#ifndef TRUE
#define TRUE 1
#define FALSE 0
#endif

typedef void *PVOID, *LPVOID, *HANDLE;
typedef const void *LPCVOID;
typedef HANDLE *PHANDLE;
typedef unsigned char BYTE, UCHAR, BOOLEAN, *PBYTE;
typedef unsigned short WORD, USHORT;
typedef uint16_t WCHAR, *PWSTR, *LPWSTR;
typedef const WCHAR *PCWSTR, *LPCWSTR;
typedef char CHAR;
typedef int BOOL, INT, *PBOOL;
typedef int LONG;
typedef unsigned int ULONG, DWORD, UINT, *PULONG, *PDWORD, *LPDWORD;
typedef int32_t INT32;
typedef uint32_t UINT32;
typedef uint8_t UINT8;
typedef uint16_t UINT16;
typedef int64_t LONGLONG, LONG64, INT64;
typedef uint64_t ULONGLONG, ULONG64, DWORD64, UINT64;
typedef uintptr_t ULONG_PTR, SIZE_T, DWORD_PTR, UINT_PTR, *PULONG_PTR, *PSIZE_T;
typedef intptr_t LONG_PTR, SSIZE_T, INT_PTR;
typedef LONG NTSTATUS;
typedef LONG HRESULT;

typedef struct _UNICODE_STRING {
    USHORT Length;         /* bytes, without the terminator */
    USHORT MaximumLength;  /* bytes, with the terminator */
    PWSTR  Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
#endif /* !WINMEM_HAVE_WINDOWS_H */

#endif
