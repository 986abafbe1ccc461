/*
 * cli/frames.c — names for stack frames: finds each module's file on this
 * machine (Wine's NT paths included) and asks the symbolizer; C++ names are
 * demangled; tr_frame_sym gives module and function apart for readers that
 * group by function.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "trace_read.h"

/* Where Debian's Wine keeps its builtin PE DLLs; the prefix's system32
 * holds stand-ins for most of them, so the real code is found here. */
static const char *const wine_pe_dirs[] = {
    "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows",
    "/usr/lib/wine/x86_64-windows",
    "/usr/local/lib/wine/x86_64-windows",
};

static char *try_path(const char *p)
{
    return access(p, R_OK) == 0 ? strdup(p) : NULL;
}

static char *builtin(const char *base)
{
    char buf[4096], low[256];
    size_t i;
    for (i = 0; base[i] && i < sizeof low - 1; i++)
        low[i] = (char)tolower((unsigned char)base[i]);
    low[i] = 0;
    for (size_t d = 0; d < sizeof wine_pe_dirs / sizeof *wine_pe_dirs; d++) {
        snprintf(buf, sizeof buf, "%s/%s", wine_pe_dirs[d], low);
        char *r = try_path(buf);
        if (r)
            return r;
    }
    return NULL;
}

/* "\??\C:\windows\system32\kernelbase.dll" → a unix path, or NULL. Drive
 * letters go through the prefix's dosdevices (Z: is "/" by default). */
static char *resolve_pe(const char *nt)
{
    const char *p = nt;
    if (!strncmp(p, "\\??\\", 4))
        p += 4;
    const char *base = tr_basename(nt);
    bool system = strcasestr(p, "\\windows\\system32\\") || strcasestr(p, "\\windows\\syswow64\\");
    char *r = NULL;
    if (system && (r = builtin(base)))
        return r;
    if (isalpha((unsigned char)p[0]) && p[1] == ':') {
        char buf[4096], rest[3072];
        snprintf(rest, sizeof rest, "%s", p + 2);
        for (char *q = rest; *q; q++)
            if (*q == '\\')
                *q = '/';
        char drive = (char)tolower((unsigned char)p[0]);
        const char *prefix = getenv("WINEPREFIX");
        const char *home = getenv("HOME");
        if (prefix) {
            snprintf(buf, sizeof buf, "%s/dosdevices/%c:%s", prefix, drive, rest);
            if ((r = try_path(buf)))
                return r;
        } else if (home) {
            snprintf(buf, sizeof buf, "%s/.wine/dosdevices/%c:%s", home, drive, rest);
            if ((r = try_path(buf)))
                return r;
        }
        if (drive == 'z' && (r = try_path(rest)))
            return r;
    } else if (p[0] == '/' && (r = try_path(p))) {
        return r;
    }
    return builtin(base);
}

static void load_syms(tr_trace *t, tr_module *m)
{
    m->syms_tried = true;
    const char *path = m->path;
    if (m->rec->kind == WMT_MOD_PE) {
        m->local = resolve_pe(path);
    } else {
        if (!*path)   /* dl_iterate_phdr names the main program "" */
            path = t->exe;
        m->local = path && *path ? strdup(path) : NULL;
    }
    if (m->local)
        m->syms = sym_table_get(t->sym, m->rec->kind == WMT_MOD_PE ? SYM_PE : SYM_ELF, m->local,
                                m->rec->build_id, m->rec->build_id_len);
}

static const char *mod_name(const tr_trace *t, const tr_module *m)
{
    const char *b = tr_basename(m->path);
    return *b ? b : tr_basename(t->exe ? t->exe : "?");
}

void tr_frame_name(tr_trace *t, const struct wmt_frame *f, char *buf, size_t len)
{
    tr_module *m = (tr_module *)tr_module_by_id(t, f->module);
    if (!m) {
        if (f->module)
            snprintf(buf, len, "module#%u+0x%llx", f->module, (unsigned long long)f->addr);
        else
            snprintf(buf, len, "0x%llx", (unsigned long long)f->addr);
        return;
    }
    if (!m->syms_tried)
        load_syms(t, m);
    /* Offsets are from the module's lowest address; the symbol tables are in
     * the file's own terms (ELF link-time address, PE RVA). */
    uint64_t file_addr = m->rec->start + f->addr - m->rec->base;
    uint64_t off;
    /* A return address points after the call: look up the byte before it so
     * a call that ends a function is attributed to that function. */
    const char *fn = m->syms && f->addr ? sym_table_lookup(m->syms, file_addr - 1, &off) : NULL;
    char dem[512];
    if (fn)
        snprintf(buf, len, "%s!%s+0x%llx", mod_name(t, m), tr_demangle(fn, dem, sizeof dem), (unsigned long long)(off + 1));
    else
        snprintf(buf, len, "%s+0x%llx", mod_name(t, m), (unsigned long long)f->addr);
}

void tr_frame_source(tr_trace *t, const struct wmt_frame *f, char *buf, size_t len)
{
    buf[0] = 0;
    tr_module *m = (tr_module *)tr_module_by_id(t, f->module);
    if (!m || !f->addr)
        return;
    if (!m->syms_tried)
        load_syms(t, m);
    int line;
    const char *file = m->syms ? sym_table_source(m->syms, m->rec->start + f->addr - m->rec->base - 1, &line) : NULL;
    if (file)
        snprintf(buf, len, " (%s:%d)", file, line);
}

/* C++ names through the C++ runtime's own demangler (libstdc++), the one
 * every toolchain on Debian agrees with. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

const char *tr_demangle(const char *name, char *buf, size_t len)
{
    if (!name || name[0] != '_' || name[1] != 'Z')
        return name;
    int st = -1;
    char *d = __cxa_demangle(name, NULL, NULL, &st);
    if (!d || st != 0) {
        free(d);
        return name;
    }
    snprintf(buf, len, "%s", d);
    free(d);
    return buf;
}

bool tr_frame_sym(tr_trace *t, const struct wmt_frame *f, tr_sym *out)
{
    memset(out, 0, sizeof *out);
    tr_module *m = (tr_module *)tr_module_by_id(t, f->module);
    if (!m)
        return false;
    if (!m->syms_tried)
        load_syms(t, m);
    out->mod = m;
    out->module = mod_name(t, m);
    out->file_addr = m->rec->start + f->addr - m->rec->base;
    uint64_t off = 0;
    out->func = m->syms && f->addr ? sym_table_lookup(m->syms, out->file_addr - 1, &off) : NULL;
    out->off = off + 1;
    return true;
}
