// tests/programs/shim_cxx.cc — C++ exceptions must still unwind in a
// program running under the shim, after the shim has loaded libunwind
// (which exports its own _Unwind_* and backtrace: loaded RTLD_LOCAL they
// must not take over from libgcc_s). The VirtualQuery call makes the shim
// capture a stack with libunwind before and between the throws.
#include <cstdio>
#include <stdexcept>
#include <execinfo.h>
#include "winmem/memory.h"

static int depth(int n)
{
    if (n == 0)
        throw std::runtime_error("deep");
    return depth(n - 1) + 1;
}

int main()
{
    MEMORY_BASIC_INFORMATION m;
    int caught = 0;
    for (int i = 0; i < 100; i++) {
        VirtualQuery(&m, &m, sizeof m);
        try {
            depth(i % 20);
        } catch (const std::runtime_error &e) {
            caught++;
        }
    }
    void *pcs[8];
    int n = backtrace(pcs, 8);             // glibc's, not libunwind's
    std::printf("caught %d backtrace %s\n", caught, n > 0 ? "ok" : "empty");
    return caught == 100 ? 0 : 1;
}
