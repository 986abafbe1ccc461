/*
 * cli/symbolize.h — names for the return addresses in a trace's stacks.
 *
 * Symbolization happens here, in the reading tool, never in the traced
 * program. Each module file is read once into a sorted array of function
 * ranges (libdw's per-address lookup costs 1.7–42 µs per call; a binary
 * search costs nanoseconds), cached per build id (or per path when the file
 * has none, as PE files usually do). Never touches the network:
 * DEBUGINFOD_URLS is unset before libdw is first used.
 *
 * ELF: libdwfl finds the symbol table, in the file itself or its separate
 * debug file (build-id or .gnu_debuglink under /usr/lib/debug).
 * PE:  the export table, plus the COFF symbol table mingw leaves in -g builds.
 */
#ifndef WINMEM_CLI_SYMBOLIZE_H
#define WINMEM_CLI_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

enum sym_kind { SYM_ELF = 1, SYM_PE = 2 };

typedef struct sym_cache sym_cache;
typedef struct sym_table sym_table;

sym_cache *sym_cache_new(void);
void sym_cache_free(sym_cache *c);

/* The table of one module file; loaded on first request, then shared by
 * every module with the same build id (or path). Never NULL: a file that
 * cannot be read gives an empty table whose sym_table_error() says why.
 * build_id may be NULL; when the file on disk has another build id than the
 * trace recorded, the table is empty ("file changed since the trace"). */
sym_table *sym_table_get(sym_cache *c, enum sym_kind kind, const char *path,
                         const uint8_t *build_id, size_t build_id_len);

/* The function containing addr, or NULL. addr is in the file's own address
 * space: for ELF the link-time virtual address (runtime address − load
 * bias), for PE the RVA (runtime address − image base). *offset (optional)
 * receives addr − function start. */
const char *sym_table_lookup(const sym_table *t, uint64_t addr, uint64_t *offset);

/* Source file (base name) and line of addr (same terms as lookup) from the
 * module's DWARF line table, or NULL: ELF with debug information only. */
const char *sym_table_source(const sym_table *t, uint64_t addr, int *line);

/* For ELF: the lowest PT_LOAD p_vaddr rounded down to a page (0 for PIE and
 * shared objects), so a caller that knows only the lowest mapped address of
 * a module can compute the load bias. 0 for PE. */
uint64_t sym_table_min_vaddr(const sym_table *t);
/* For PE: the ImageBase of the file's optional header (an RVA plus this is
 * the address DWARF inside the file speaks of). 0 for ELF. */
uint64_t sym_table_image_base(const sym_table *t);
size_t sym_table_count(const sym_table *t);
const char *sym_table_error(const sym_table *t);   /* NULL when loaded fine */

/* Builds a table from raw ranges (tests and the bench use this to measure
 * lookup without files). Names are copied. */
typedef struct sym_range { uint64_t start, size; const char *name; } sym_range;
sym_table *sym_table_from_ranges(sym_cache *c, const char *key, const sym_range *r, size_t n);

#endif
