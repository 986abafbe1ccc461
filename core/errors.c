/* Last error and NTSTATUS → Win32 error mapping (see internal.h). */
#include "internal.h"

static __thread DWORD last_error;

void wm_set_last_error(DWORD err) { last_error = err; }
DWORD wm_get_last_error(void) { return last_error; }

WM_EXPORT DWORD WINMEM_API GetLastError(void) { return last_error; }
WM_EXPORT void WINMEM_API SetLastError(DWORD err) { last_error = err; }

#define ERROR_MR_MID_NOT_FOUND 317

DWORD wm_status_to_error(NTSTATUS st)
{
    /* Values from RtlNtStatusToDosError as Windows documents and Wine's
     * table agrees; only the statuses winmem can return are listed. */
    switch ((uint32_t)st) {
    case (uint32_t)STATUS_SUCCESS:                 return ERROR_SUCCESS;
    case (uint32_t)STATUS_GUARD_PAGE_VIOLATION:    return (DWORD)STATUS_GUARD_PAGE_VIOLATION;   /* maps to itself */
    case (uint32_t)STATUS_PARTIAL_COPY:            return ERROR_PARTIAL_COPY;
    case (uint32_t)STATUS_NOT_IMPLEMENTED:         return ERROR_INVALID_FUNCTION;
    case (uint32_t)STATUS_INVALID_INFO_CLASS:      return ERROR_INVALID_PARAMETER;
    case (uint32_t)STATUS_INFO_LENGTH_MISMATCH:    return ERROR_BAD_LENGTH;
    case (uint32_t)STATUS_ACCESS_VIOLATION:        return ERROR_NOACCESS;
    case (uint32_t)STATUS_INVALID_HANDLE:          return ERROR_INVALID_HANDLE;
    case (uint32_t)STATUS_INVALID_PARAMETER:       return ERROR_INVALID_PARAMETER;
    case (uint32_t)STATUS_NO_MEMORY:               return ERROR_NOT_ENOUGH_MEMORY;
    case (uint32_t)STATUS_CONFLICTING_ADDRESSES:   return ERROR_INVALID_ADDRESS;
    case (uint32_t)STATUS_UNABLE_TO_FREE_VM:       return ERROR_INVALID_PARAMETER;
    case (uint32_t)STATUS_ALREADY_COMMITTED:       return ERROR_ACCESS_DENIED;
    case (uint32_t)STATUS_ACCESS_DENIED:           return ERROR_ACCESS_DENIED;
    case (uint32_t)STATUS_BUFFER_TOO_SMALL:        return ERROR_INSUFFICIENT_BUFFER;
    case (uint32_t)STATUS_NOT_LOCKED:              return ERROR_NOT_LOCKED;
    case (uint32_t)STATUS_NOT_COMMITTED:           return ERROR_INVALID_ADDRESS;
    case (uint32_t)STATUS_INVALID_PAGE_PROTECTION: return ERROR_INVALID_PARAMETER;
    case (uint32_t)STATUS_PRIVILEGE_NOT_HELD:      return ERROR_PRIVILEGE_NOT_HELD;
    case (uint32_t)STATUS_INSUFFICIENT_RESOURCES:  return ERROR_NO_SYSTEM_RESOURCES;
    case (uint32_t)STATUS_FREE_VM_NOT_AT_BASE:     return ERROR_INVALID_ADDRESS;
    case (uint32_t)STATUS_MEMORY_NOT_ALLOCATED:    return ERROR_INVALID_ADDRESS;
    case (uint32_t)STATUS_WORKING_SET_QUOTA:       return ERROR_WORKING_SET_QUOTA;
    case (uint32_t)STATUS_NOT_SUPPORTED:           return ERROR_NOT_SUPPORTED;
    case (uint32_t)STATUS_PROCESS_IS_TERMINATING:  return ERROR_ACCESS_DENIED;
    case (uint32_t)STATUS_COMMITMENT_LIMIT:        return ERROR_COMMITMENT_LIMIT;
    case (uint32_t)STATUS_INVALID_ADDRESS:         return ERROR_INVALID_ADDRESS;
    default:                                       return ERROR_MR_MID_NOT_FOUND;
    }
}

NTSTATUS wm_fail_status(NTSTATUS st)
{
    last_error = wm_status_to_error(st);
    return st;
}
