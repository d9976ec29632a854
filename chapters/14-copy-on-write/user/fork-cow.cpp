// The copy-on-write program: it fills 16 pages, forks, and then each side
// writes a few of them. The child writes pages 0-3 while both still map all
// 16; then, the child still alive, the parent writes pages 8-9. Each first
// write to a shared page copies that page only, so the kernel copies 4 pages
// for the child and 2 for the parent, and the other 10 stay one frame for
// both. Each side checks it never sees the other's writes. After the child
// has ended, page 10 is the parent's alone: writing it takes the frame over,
// no copy.
#include "user/memory.h"
#include "user/process.h"
#include "user/text.h"

constexpr uint64_t kPages = 16, kPage = 4096;
constexpr uint64_t kChildFirst = 0, kChildWrites = 4;    // pages 0-3, by the child
constexpr uint64_t kParentFirst = 8, kParentWrites = 2;  // pages 8-9, by the parent, while shared
constexpr uint64_t kTakenOver = 10;                      // by the parent, after the child ended
constexpr int kChildCode = 7;

volatile uint64_t* page(int64_t base, uint64_t i) { return reinterpret_cast<volatile uint64_t*>(base + i * kPage); }

// Pages [first, first + count) that still hold what the parent wrote before the fork.
uint64_t unchanged(int64_t base, uint64_t first, uint64_t count) {
    uint64_t same = 0;
    for (uint64_t i = first; i < first + count; ++i) same += *page(base, i) == i + 1;
    return same;
}

int child(int64_t base) {
    for (uint64_t i = kChildFirst; i < kChildFirst + kChildWrites; ++i) *page(base, i) = 100 + i;
    const uint64_t others = unchanged(base, kChildWrites, kPages - kChildWrites);
    user::Text().add("child wrote=").dec(kChildWrites).add(" first=").dec(kChildFirst).add(" unchanged=").dec(others)
        .print();
    user::yield();  // the parent writes its pages now
    const uint64_t after = unchanged(base, kParentFirst, kParentWrites);
    user::Text().add("child after-parent-wrote unchanged=").dec(after).print();
    return others == kPages - kChildWrites && after == kParentWrites ? kChildCode : 1;
}

int main() {
    const int64_t base = user::mmap(0, kPages * kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
    if (base < 0) return 10;
    for (uint64_t i = 0; i < kPages; ++i) *page(base, i) = i + 1;
    user::Text().add("touched=").dec(kPages).add(" base=").hex(uint64_t(base)).print();

    const int64_t pid = user::fork();
    if (pid < 0) return 11;
    if (pid == 0) return child(base);

    user::yield();  // the child writes its pages
    for (uint64_t i = kParentFirst; i < kParentFirst + kParentWrites; ++i) *page(base, i) = 200 + i;
    user::Text().add("parent wrote=").dec(kParentWrites).add(" first=").dec(kParentFirst).add(" child=")
        .dec(uint64_t(pid)).print();
    user::yield();  // the child checks and ends

    int64_t status = 0;
    const int64_t waited = user::wait(&status);
    *page(base, kTakenOver) = 300;  // nobody else maps it now
    const uint64_t mine = unchanged(base, kChildFirst, kChildWrites);
    user::Text().add("parent waited=").sdec(waited).add(" status=").sdec(status).add(" unchanged=").dec(mine)
        .add(" taken-over-page=").dec(kTakenOver).print();
    return waited == pid && status == kChildCode && mine == kChildWrites ? 0 : 12;
}
