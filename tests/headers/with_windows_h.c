/* winmem's headers after Wine's <windows.h>: must compile without a single
 * redefinition, and the shared structures must have Windows' layout. */
#include <windows.h>
#include <winternl.h>
#include <psapi.h>
#include <winmem/winmem.h>
#include <stddef.h>

_Static_assert(WINMEM_HAVE_WINDOWS_H, "windows.h was seen");
_Static_assert(sizeof(MEMORY_BASIC_INFORMATION) == 48, "MEMORY_BASIC_INFORMATION is 48 bytes on Win64");
_Static_assert(sizeof(MEMORY_REGION_INFORMATION) == 48, "MEMORY_REGION_INFORMATION is 48 bytes on Win64");
_Static_assert(sizeof(WIN32_MEMORY_REGION_INFORMATION) == 32, "WIN32_MEMORY_REGION_INFORMATION is 32 bytes");
_Static_assert(sizeof(PSAPI_WORKING_SET_EX_INFORMATION) == 16, "PSAPI_WORKING_SET_EX_INFORMATION is 16 bytes");

int main(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    return VirtualQuery((LPCVOID)main, &mbi, sizeof(mbi)) == sizeof(mbi) ? 0 : 1;
}
