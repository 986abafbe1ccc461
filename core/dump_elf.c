/*
 * core/dump_elf.c — QEMU dump-guest-memory ELF cores (paging on or off).
 * libelf reads the headers (ELF32/64, PN_XNUM program-header overflow, the
 * bogus e_ehsize QEMU 7.2 writes); only the headers and the notes are read,
 * so a multi-GiB dump opens in milliseconds.
 *
 * Memory is each PT_LOAD's [p_paddr, p_paddr + p_filesz): with paging=true
 * many headers alias one PA and p_memsz can exceed what was written, so
 * p_memsz is never trusted and aliases are resolved by wm_dump_finish_segs.
 */
#include <gelf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "dump.h"

#define MAX_NOTES (64u << 20)     /* no real note segment comes near this */

static pthread_once_t elf_once = PTHREAD_ONCE_INIT;
static void elf_init(void) { elf_version(EV_CURRENT); }

bool wm_dump_is_elf(const uint8_t *b, size_t n)
{
    return n >= 4 && !memcmp(b, ELFMAG, SELFMAG);
}

/* A core file whose header tables fit the file: every byte a header points
 * at must exist, section headers and their contents included, not only
 * what is read. */
static bool tables_fit(const struct wm_dump *d, Elf *e, GElf_Ehdr *eh, size_t *phnum)
{
    size_t shnum;
    if (!gelf_getehdr(e, eh) || eh->e_type != ET_CORE || elf_getphdrnum(e, phnum) != 0)
        return false;
    if (!*phnum || *phnum > d->file_size / (eh->e_ident[EI_CLASS] == ELFCLASS64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
        return false;
    if (elf_getshdrnum(e, &shnum) != 0 || shnum > d->file_size / sizeof(Elf32_Shdr))
        return false;
    for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn));) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            return false;
        if (sh.sh_type != SHT_NOBITS && (sh.sh_offset > d->file_size || sh.sh_size > d->file_size - sh.sh_offset))
            return false;
    }
    return true;
}

/* A PT_NOTE segment's notes (the CPU state QEMU writes). */
static HRESULT load_notes(struct wm_dump *d, Elf *e, const GElf_Phdr *ph)
{
    if (ph->p_filesz > MAX_NOTES || ph->p_offset > d->file_size || ph->p_filesz > d->file_size - ph->p_offset)
        return WM_HR_BAD_FORMAT;
    Elf_Data *nd = elf_getdata_rawchunk(e, (int64_t)ph->p_offset, ph->p_filesz, ELF_T_BYTE);
    if (!nd)
        return WM_HR_BAD_FORMAT;
    return wm_dump_notes(d, nd->d_buf, nd->d_size);
}

static HRESULT load(struct wm_dump *d, Elf *e)
{
    GElf_Ehdr eh;
    size_t phnum;
    if (!tables_fit(d, e, &eh, &phnum))
        return WM_HR_BAD_FORMAT;
    uint64_t ph_lo = eh.e_phoff, ph_hi = ph_lo + phnum * (uint64_t)eh.e_phentsize;
    d->e_machine = eh.e_machine;
    d->segs = calloc(phnum, sizeof *d->segs);
    if (!d->segs)
        return E_OUTOFMEMORY;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int)i, &ph))
            return WM_HR_BAD_FORMAT;
        if ((ph.p_type != PT_LOAD && ph.p_type != PT_NOTE) || !ph.p_filesz)
            continue;
        /* A segment's bytes inside the header table: a count that lies. */
        if (ph.p_offset < ph_hi && ph.p_offset + ph.p_filesz > ph_lo)
            return WM_HR_BAD_FORMAT;
        if (ph.p_type == PT_LOAD) {
            d->segs[d->nsegs++] = (struct wm_seg){ ph.p_paddr, ph.p_filesz, ph.p_offset };
        } else {
            HRESULT hr = load_notes(d, e, &ph);
            if (FAILED(hr))
                return hr;
        }
    }
    return wm_dump_finish_segs(d);
}

HRESULT wm_dump_open_elf(struct wm_dump *d)
{
    pthread_once(&elf_once, elf_init);
    Elf *e = elf_begin(d->fd, ELF_C_READ, NULL);
    if (!e)
        return WM_HR_BAD_FORMAT;
    HRESULT hr = elf_kind(e) == ELF_K_ELF ? load(d, e) : WM_HR_BAD_FORMAT;
    elf_end(e);
    d->format = "elf";
    return hr;
}
