/* cli/json.c — see json.h. */
#include <string.h>
#include "json.h"

/* Length of the valid UTF-8 sequence at s, or 0 (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF). */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    int n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n <= 1)
        return n;
    uint32_t cp = c & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

char *json_escape(char *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s;
        if (c == '"' || c == '\\') {
            *w++ = '\\', *w++ = (char)c, s++;
        } else if (c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            memcpy(w, "\\u00", 4);
            w[4] = hex[c >> 4], w[5] = hex[c & 15];
            w += 6, s++;
        } else {
            int n = utf8_len(s);
            if (n == 0) {
                memcpy(w, "\\ufffd", 6);
                w += 6, s++;
            } else {
                memcpy(w, s, (size_t)n);
                w += n, s += n;
            }
        }
    }
    return w;
}

void json_str(FILE *f, const char *s)
{
    char buf[6 * 256 + 8];
    fputc('"', f);
    size_t len = strlen(s);
    while (len) {
        /* up to 256 bytes, not cutting a UTF-8 sequence in two */
        size_t take = len < 256 ? len : 256;
        while (take < len && take > 252 && ((unsigned char)s[take] & 0xc0) == 0x80)
            take--;
        char part[260];
        memcpy(part, s, take);
        part[take] = 0;
        char *end = json_escape(buf, part);
        fwrite(buf, 1, (size_t)(end - buf), f);
        s += take, len -= take;
    }
    fputc('"', f);
}

void json_hex(FILE *f, uint64_t v)
{
    fprintf(f, "\"0x%llx\"", (unsigned long long)v);
}
