/*
 * common/pe.h — the one reader of PE headers (the files Wine maps as
 * images): SizeOfImage, the data directories and the section table, every
 * read checked against the bytes given. Used by the core (an image's span in
 * another process), the CLI (symbols of a PE file) and the shim (images Wine
 * mapped, read in place). Header-only so the core can use it too without
 * linking common/.
 *
 * Layout (PE/COFF specification): "MZ"; at 0x3c the offset of "PE\0\0";
 * then the 20-byte file header (Machine, NumberOfSections, PointerToSymbolTable,
 * NumberOfSymbols, SizeOfOptionalHeader at +16) and the optional header
 * (Magic 0x10b PE32 / 0x20b PE32+; SizeOfImage at +56 in both;
 * NumberOfRvaAndSizes at +92 / +108, the directories after it), then the
 * sections, 40 bytes each.
 */
#ifndef WINMEM_COMMON_PE_H
#define WINMEM_COMMON_PE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { WM_PE32 = 0x10b, WM_PE32PLUS = 0x20b };
enum { WM_PE_DIR_EXPORT = 0, WM_PE_DIR_IMPORT = 1, WM_PE_DIR_EXCEPTION = 3 };

typedef struct wm_pe {
    uint16_t machine, nsections, magic;   /* magic: WM_PE32 or WM_PE32PLUS */
    uint32_t symoff, nsyms;               /* the COFF symbol table (mingw -g) */
    uint32_t size_of_image;
    uint64_t image_base;                  /* ImageBase: where the linker placed the image */
    uint32_t ndirs;                       /* data directories within the header */
    const uint8_t *dirs;                  /* ndirs entries of {rva, size} */
    const uint8_t *sections;              /* nsections × 40 bytes; NULL when past the bytes given */
} wm_pe;

static inline uint32_t wm_le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static inline uint32_t wm_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads the headers of the PE file or mapped image whose first n bytes are
 * at b. false unless "MZ", "PE\0\0" and the optional header up to SizeOfImage
 * lie within them. */
static inline bool wm_pe_read(const uint8_t *b, size_t n, wm_pe *pe)
{
    memset(pe, 0, sizeof *pe);
    if (n < 64 || b[0] != 'M' || b[1] != 'Z')
        return false;
    uint64_t nt = wm_le32(b + 0x3c), opt = nt + 24;
    if (opt + 60 > n || memcmp(b + nt, "PE\0\0", 4))
        return false;
    const uint8_t *fh = b + nt + 4;
    uint32_t optsz = wm_le16(fh + 16);
    pe->machine = (uint16_t)wm_le16(fh);
    pe->nsections = (uint16_t)wm_le16(fh + 2);
    pe->symoff = wm_le32(fh + 8);
    pe->nsyms = wm_le32(fh + 12);
    pe->magic = (uint16_t)wm_le16(b + opt);
    pe->size_of_image = wm_le32(b + opt + 56);
    pe->image_base = pe->magic == WM_PE32PLUS ? (uint64_t)wm_le32(b + opt + 24) | (uint64_t)wm_le32(b + opt + 28) << 32
                                              : wm_le32(b + opt + 28);
    uint64_t nd_at = pe->magic == WM_PE32PLUS ? 108 : 92;
    if (optsz >= nd_at + 4 && opt + nd_at + 4 <= n) {
        uint64_t room = (optsz - nd_at - 4) / 8, nd = wm_le32(b + opt + nd_at);
        if (nd > room)
            nd = room;
        if (opt + nd_at + 4 + nd * 8 <= n) {
            pe->ndirs = (uint32_t)nd;
            pe->dirs = b + opt + nd_at + 4;
        }
    }
    uint64_t sect = opt + optsz;
    if (sect + (uint64_t)pe->nsections * 40 <= n)
        pe->sections = b + sect;
    return true;
}

/* Data directory i ({rva, size}); false when the header has none there. */
static inline bool wm_pe_dir(const wm_pe *pe, unsigned i, uint32_t *rva, uint32_t *size)
{
    if (i >= pe->ndirs)
        return false;
    *rva = wm_le32(pe->dirs + 8 * i);
    *size = wm_le32(pe->dirs + 8 * i + 4);
    return true;
}

#endif
