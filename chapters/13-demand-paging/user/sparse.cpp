// The sparse program: reserves 1 GiB and touches 16 pages scattered across
// it, 64 MiB apart. Demand paging gives it 16 frames for the pages, plus the
// tables those pages need (one page table each, as no two share 2 MiB, and
// one page directory for the gigabyte); the other 262,128 pages cost nothing.
// It says what it touched, then gives the gigabyte back with munmap.
#include "user/memory.h"
#include "user/text.h"

constexpr uint64_t kReserve = 1ull << 30;
constexpr uint64_t kTouched = 16;
constexpr uint64_t kStride = kReserve / kTouched;

int main() {
    const int64_t base = user::mmap(0, kReserve, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
    if (base < 0) return 1;
    uint64_t zero = 0;
    for (uint64_t i = 0; i < kTouched; ++i) {
        volatile uint64_t* page = reinterpret_cast<volatile uint64_t*>(base + i * kStride);
        zero += *page == 0;  // a fresh page reads as zeroes
        *page = i + 1;
    }
    user::Text().add("touched=").dec(kTouched).add(" base=").hex(uint64_t(base)).add(" stride=").hex(kStride)
        .add(" zero=").dec(zero).print();
    for (uint64_t i = 0; i < kTouched; ++i)
        if (*reinterpret_cast<volatile uint64_t*>(base + i * kStride) != i + 1) return 2;
    return user::munmap(uint64_t(base), kReserve) == 0 && zero == kTouched ? 0 : 3;
}
