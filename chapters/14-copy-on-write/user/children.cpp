// Several children: the parent forks three, each touches two pages of its
// own (first touch in the child: fresh frames, counted once) and writes one
// page the parent filled (a copy), then ends with its own number; the
// parent waits for all three and checks every code came back once.
//
// Run with `test.fork-oom=children`, the kernel makes the first fork run
// out of frames part-way (mm/kernel/fork_oom_test.h): fork returns -ENOMEM,
// and the program shows its memory is as it was.
#include "user/memory.h"
#include "user/process.h"
#include "user/text.h"

constexpr uint64_t kPage = 4096, kChildren = 3;

int main() {
    const int64_t shared = user::mmap(0, kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
    const int64_t own = user::mmap(0, kChildren * 2 * kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
    if (shared < 0 || own < 0) return 10;
    volatile uint64_t* word = reinterpret_cast<volatile uint64_t*>(shared);
    *word = 42;
    for (uint64_t n = 1; n <= kChildren; ++n) {
        const int64_t pid = user::fork();
        if (pid == -abi::kErrorNoMemory) {  // the fault injection's boot
            user::Text().add("fork refused returns=").sdec(pid).add(" word=").dec(*word).print();
            return *word == 42 ? 0 : 13;
        }
        if (pid < 0) return 11;
        if (pid == 0) {
            for (uint64_t i = 0; i < 2; ++i)
                *reinterpret_cast<volatile uint64_t*>(own + ((n - 1) * 2 + i) * kPage) = n;  // first touch, its own
            *word = 42 + n;  // a copy: the parent and the other children still map it
            return int(n);
        }
    }
    uint64_t seen = 0;  // bit n: child n's code came back
    for (uint64_t i = 0; i < kChildren; ++i) {
        int64_t status = 0;
        if (user::wait(&status) <= 0 || status < 1 || status > int64_t(kChildren)) return 12;
        seen |= 1ull << status;
    }
    user::Text().add("children=").dec(kChildren).add(" codes=").hex(seen).add(" word=").dec(*word).print();
    return seen == 0b1110 && *word == 42 ? 0 : 14;
}
