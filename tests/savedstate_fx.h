/*
 * tests/savedstate_fx.h — what the saved-state tests share: where the QEMU
 * fixtures are (WM_DUMP_FIXTURES, default build/fixtures, made by
 * tools/make-dump-fixtures.sh), the known bytes the script put into guest
 * memory, and the two outside oracles: `readelf -lW` for the PT_LOADs and
 * QEMU's own `info registers -a` (<name>.regs).
 */
#ifndef WINMEM_TESTS_SAVEDSTATE_FX_H
#define WINMEM_TESTS_SAVEDSTATE_FX_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "winmem/winmem.h"

static inline const char *fx(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    const char *dir = getenv("WM_DUMP_FIXTURES");
    snprintf(b, 512, "%s/%s", dir && *dir ? dir : "build/fixtures", name);
    return b;
}

/* Opens a fixture: "x.rawcat+x.layout" style names go through LoadSavedStateFiles. */
static inline VM_SAVED_STATE_DUMP_HANDLE fx_open(const char *name)
{
    VM_SAVED_STATE_DUMP_HANDLE h = NULL;
    char img[256];
    const char *plus = strchr(name, '+');
    HRESULT hr;
    if (plus) {
        snprintf(img, sizeof img, "%.*s", (int)(plus - name), name);
        hr = winmem_LoadSavedStateFilesUtf8(fx(img), *(plus + 1) ? fx(plus + 1) : NULL, &h);
    } else
        hr = winmem_LoadSavedStateFileUtf8(fx(name), &h);
    if (hr != S_OK) {
        fprintf(stderr, "cannot load %s: %#x\n", fx(name), (unsigned)hr);
        return NULL;
    }
    return h;
}

/* The script's known bytes: every 16-byte record is "PATTERN!" + le64(its GPA). */
static inline bool fx_pattern_ok(const uint8_t *b, uint64_t gpa, size_t len)
{
    for (size_t i = 0; i + 16 <= len; i += 16) {
        uint64_t a = gpa + i, v;
        memcpy(&v, b + i + 8, 8);
        if (memcmp(b + i, "PATTERN!", 8) || v != a)
            return false;
    }
    return true;
}

/* Whole file into memory (tests only; fixtures are small). */
static inline uint8_t *fx_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

struct fx_load { uint64_t off, vaddr, paddr, filesz; };

/* PT_LOADs as `readelf -lW` prints them; returns the count (≤ max). */
static inline size_t fx_readelf_loads(const char *elf, struct fx_load *out, size_t max)
{
    char cmd[600], line[512];
    snprintf(cmd, sizeof cmd, "readelf -lW '%s'", elf);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (!p)
        return 0;
    while (fgets(line, sizeof line, p)) {
        struct fx_load l;
        unsigned long long memsz;
        if (sscanf(line, " LOAD 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx", (unsigned long long *)&l.off,
                   (unsigned long long *)&l.vaddr, (unsigned long long *)&l.paddr,
                   (unsigned long long *)&l.filesz, &memsz) == 5 && n < max)
            out[n++] = l;
    }
    pclose(p);
    return n;
}

/*
 * A value from QEMU's `info registers -a` for CPU#cpu: key "RAX", "CR3",
 * "EIP"...; for segment lines ("CS", "LDT", "GDT"...) field 0..3 = selector,
 * base, limit, flags (GDT/IDT: base, limit).
 */
static inline bool fx_reg(const char *regs_file, int cpu, const char *key, int field, uint64_t *val)
{
    FILE *f = fopen(regs_file, "r");
    char line[512], want[16];
    int cur = -1;
    bool found = false;
    if (!f)
        return false;
    snprintf(want, sizeof want, "CPU#%d", cpu);
    while (!found && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "CPU#", 4)) {
            cur = strncmp(line, want, strlen(want)) ? -2 : cpu;
            continue;
        }
        if (cur != cpu)
            continue;
        for (char *p = line; (p = strstr(p, key)); p++) {
            if (p != line && p[-1] != ' ')
                continue;
            char *q = p + strlen(key);
            while (*q == ' ')
                q++;
            if (*q != '=')
                continue;
            q++;
            while (*q == ' ')
                q++;
            for (int i = 0; i < field; i++) {
                while (*q && *q != ' ')
                    q++;
                while (*q == ' ')
                    q++;
            }
            *val = strtoull(q, NULL, 16);
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}
#endif
