/* winmem's headers alone: every type the API uses, with Windows' 64-bit
 * layout (offsets from the Windows SDK), and every prototype usable. */
#include <winmem/winmem.h>
#include <stddef.h>

_Static_assert(!WINMEM_HAVE_WINDOWS_H, "no windows.h here");
_Static_assert(sizeof(DWORD) == 4 && sizeof(LONG) == 4 && sizeof(SIZE_T) == 8, "LLP64 integer sizes");
_Static_assert(sizeof(MEMORY_BASIC_INFORMATION) == 48, "MEMORY_BASIC_INFORMATION is 48 bytes");
_Static_assert(offsetof(MEMORY_BASIC_INFORMATION, RegionSize) == 24, "RegionSize at 24");
_Static_assert(offsetof(MEMORY_BASIC_INFORMATION, Type) == 40, "Type at 40");
_Static_assert(sizeof(MEMORY_REGION_INFORMATION) == 48, "MEMORY_REGION_INFORMATION is 48 bytes");
_Static_assert(offsetof(MEMORY_REGION_INFORMATION, CommitSize) == 24, "CommitSize at 24");
_Static_assert(offsetof(MEMORY_REGION_INFORMATION, PartitionId) == 32, "PartitionId at 32");
_Static_assert(sizeof(WIN32_MEMORY_REGION_INFORMATION) == 32, "WIN32_MEMORY_REGION_INFORMATION is 32 bytes");
_Static_assert(sizeof(MEMORY_WORKING_SET_EX_INFORMATION) == 16, "working-set entry is 16 bytes");
_Static_assert(sizeof(UNICODE_STRING) == 16, "UNICODE_STRING is 16 bytes");
_Static_assert(sizeof(SYSTEM_INFO) == 48, "SYSTEM_INFO is 48 bytes");

int main(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    return VirtualQuery((LPCVOID)main, &mbi, sizeof(mbi)) == sizeof(mbi) ? 0 : 1;
}
