/*
 * cli/srcline.h — source file, line and inlined frames for a few addresses,
 * for PE and ELF files alike, through LLVM's llvm-symbolizer.
 *
 * Why a separate tool: the DWARF that mingw-w64 leaves in a -g .exe sits in
 * PE sections, which libdw cannot read; llvm-symbolizer reads DWARF in both
 * PE and ELF files, follows inlined frames and demangles C++ names. It runs
 * here in the CLI only, once per module file with every address batched on
 * its command line, and only for the call sites a report shows.
 */
#ifndef WINMEM_CLI_SRCLINE_H
#define WINMEM_CLI_SRCLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRC_LEVELS 4

typedef struct src_frame {
    char func[160];      /* demangled; "" when unknown */
    char file[96];       /* base name; "" when unknown */
    int line;
} src_frame;

/* One address: levels[0] is the innermost (inlined) function, the last the
 * function the code was inlined into. n == 0: nothing known. */
typedef struct src_info {
    int n;
    src_frame lev[SRC_LEVELS];
} src_info;

/* The llvm-symbolizer found on PATH (WINMEM_SYMBOLIZER overrides), or NULL. */
const char *srcline_tool(void);

/* Resolves n addresses of one file (ELF: link-time virtual addresses; PE:
 * ImageBase + RVA) into out[0..n). Returns 0, or -1 when no symbolizer is
 * installed or it could not run (out[] is then all n == 0). */
int srcline_resolve(const char *path, const uint64_t *addrs, size_t n, src_info *out);

/* "arena_alloc (prog.c:21) inlined in main (prog.c:60)" */
void srcline_format(const src_info *s, char *buf, size_t len);

#endif
