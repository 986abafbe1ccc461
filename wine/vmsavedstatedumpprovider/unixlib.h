/*
 * wine/vmsavedstatedumpprovider/unixlib.h — what the DLL's two halves share.
 * The PE half (provider.c, runs as Windows code) passes each call to the
 * Unix half (unixlib.c, linked with winmem) through Wine 8's unix-call
 * interface: one function per API entry, arguments as 64-bit slots.
 */
#ifndef WINMEM_WINE_SSD_UNIXLIB_H
#define WINMEM_WINE_SSD_UNIXLIB_H

enum wm_ssd_call {
    wm_ssd_LoadUtf8, wm_ssd_LoadPairUtf8, wm_ssd_Release, wm_ssd_Chunks, wm_ssd_RawSize, wm_ssd_ReadRaw,
    wm_ssd_PaToRaw, wm_ssd_ReadPa, wm_ssd_VpCount, wm_ssd_GetArch, wm_ssd_ForceArch, wm_ssd_Register,
    wm_ssd_GetPaging, wm_ssd_ForcePaging, wm_ssd_InKernel, wm_ssd_VaToPa, wm_ssd_SetCache, wm_ssd_GetCache,
    wm_ssd_count
};

/* a[]: the call's arguments in order (pointers and integers widened); hr: its result. */
struct wm_ssd_args {
    unsigned long long a[5];
    int hr;
};

#endif
