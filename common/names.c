/*
 * common/names.c — names shared by the shim and the CLI (names.h).
 */
#include <string.h>
#include <strings.h>
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

void wm_program_name(const char *path, char *out, size_t out_size)
{
    const char *b = wm_base_name(path);
    size_t n = strlen(b);
    if (n > 7 && !strcasecmp(b + n - 7, ".exe.so"))
        n -= 3;
    if (n >= out_size)
        n = out_size - 1;
    memcpy(out, b, n);
    out[n] = 0;
}

/* The UTF-8 bytes of code point c into o (room for 4 assumed); their count. */
static size_t put_utf8(uint32_t c, char *o)
{
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xc0 | c >> 6); o[1] = (char)(0x80 | (c & 63)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | c >> 12); o[1] = (char)(0x80 | ((c >> 6) & 63)); o[2] = (char)(0x80 | (c & 63));
        return 3;
    }
    o[0] = (char)(0xf0 | c >> 18); o[1] = (char)(0x80 | ((c >> 12) & 63));
    o[2] = (char)(0x80 | ((c >> 6) & 63)); o[3] = (char)(0x80 | (c & 63));
    return 4;
}

size_t wm_utf16_to_utf8(const uint16_t *w, size_t n, char *out, size_t out_size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = w[i];
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < n && w[i + 1] >= 0xdc00 && w[i + 1] < 0xe000)
            c = 0x10000 + ((c - 0xd800) << 10) + (w[++i] - 0xdc00u);
        else if (c >= 0xd800 && c < 0xe000)
            c = 0xfffd;
        char tmp[4];
        size_t k = put_utf8(c, tmp);
        if (o + k + 1 > out_size)
            break;
        memcpy(out + o, tmp, k);
        o += k;
    }
    out[o] = 0;
    return o;
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
