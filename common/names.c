/*
 * common/names.c — names shared by the shim and the CLI (names.h).
 */
#include <string.h>
#include "winmem/trace.h"
#include "common/names.h"

const char *wm_base_name(const char *path)
{
    const char *b = path;
    for (const char *s = path; *s; s++)
        if (*s == '/' || *s == '\\')
            b = s + 1;
    return b;
}

bool wm_is_wine_name(const char *base)
{
    static const char *const names[] = {
        "wine", "wine64", "wine-preloader", "wine64-preloader",
        "wine-stable", "wine64-stable", "wine-development",
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(base, names[i]))
            return true;
    return false;
}

static const char *const modes[] = {
    [WMT_MODE_TRACE] = "trace", [WMT_MODE_CHECK] = "check", [WMT_MODE_NATIVE] = "native",
};

const char *wm_mode_name(uint32_t mode)
{
    return mode < sizeof modes / sizeof *modes && modes[mode] ? modes[mode] : "?";
}

int wm_mode_parse(const char *name)
{
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        if (modes[i] && !strcmp(name, modes[i]))
            return (int)i;
    return -1;
}

void wm_pattern_fill(const char *pattern, const char *with, char *out, size_t out_size)
{
    size_t o = 0, wl = strlen(with);
    for (const char *s = pattern; *s && o + 1 < out_size; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            size_t n = wl < out_size - 1 - o ? wl : out_size - 1 - o;
            memcpy(out + o, with, n);
            o += n;
            s++;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = 0;
}
