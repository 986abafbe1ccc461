/*
 * shim/door.c — the recording pieces both doors share (shim/door.h).
 */
#include "door.h"

/* Each call is a function of its own that no optimisation may look into
 * (noipa): GCC 12 merges an ms_abi and a System V indirect call with the
 * same arguments into one System V call when they share a function. */
typedef wm_u64 U;
typedef long (*sysv10)(U, U, U, U, U, U, U, U, U, U);
typedef long (WM_MSABI *ms10)(U, U, U, U, U, U, U, U, U, U);

__attribute__((noipa)) long wm_call_ms(void *fn, const U *a)
{
    return ((ms10)fn)(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]);
}

__attribute__((noipa)) long wm_call_sysv(void *fn, const U *a)
{
    return ((sysv10)fn)(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]);
}

void wm_door_decode_query(uint64_t *out, int cls, const void *buf, size_t len, const size_t *retlen,
                          size_t min_region)
{
    const U *q = buf;
    if (cls == 0 && len >= 48) {
        out[0] = q[0], out[1] = q[1], out[2] = (uint32_t)q[2], out[3] = q[3];
        out[4] = (uint32_t)q[4], out[5] = (uint32_t)(q[4] >> 32), out[6] = (uint32_t)q[5];
    } else if (cls == 2 && len >= 16) {
        out[0] = q[0] & 0xffff;
    } else if (cls == 3 && len >= min_region) {
        out[0] = q[0], out[1] = (uint32_t)q[1], out[2] = (uint32_t)(q[1] >> 32);
        out[3] = q[2], out[4] = q[3];
    } else if (cls == 4 && len >= 16) {
        out[0] = q[0], out[1] = q[1], out[2] = len / 16;
    }
    out[7] = retlen ? *retlen : 0;
}
