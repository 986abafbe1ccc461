// tests/programs/ledger_cxx.cc — a native C++ program on winmem's API for
// the report's ledger on ELF code (tests/e2e/cli_ledger.sh): its call sites
// must read as demangled C++ names with file:line, and an inlined helper
// as "inlined in" its caller.
#include <cstdio>
#include "winmem/memory.h"

namespace pool {
class Arena {
public:
    explicit Arena(size_t size) : base_(static_cast<char *>(VirtualAlloc(nullptr, size, MEM_RESERVE, PAGE_NOACCESS))) {}
    __attribute__((noinline)) bool grow(size_t bytes)
    {
        if (!VirtualAlloc(base_ + used_, bytes, MEM_COMMIT, PAGE_READWRITE))
            return false;
        used_ += bytes;
        return true;
    }
    char *base() const { return base_; }
private:
    char *base_;
    size_t used_ = 0;
};
}

static inline __attribute__((always_inline)) void seal(char *p)
{
    DWORD old;
    VirtualProtect(p, 4096, PAGE_READONLY, &old);
}

int main()
{
    pool::Arena a(1 << 20);
    if (!a.base())
        return 2;
    for (int i = 0; i < 8; i++)
        a.grow(64 << 10);
    seal(a.base());
    std::printf("ledger_cxx done\n");
    return 0;
}
