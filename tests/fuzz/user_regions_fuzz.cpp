// Fuzz target: chapter 13's region list under any sequence of operations,
// held against a model of 256 pages (one byte of rights each).
//
// Input: a list of operations, one byte each plus operands (page numbers are
// u8, into a window of 256 pages at 64 GiB; a count of 0 means 1 page):
//   op % 4 == 0  add an anonymous region: first page, pages, rights (u8 % 8)
//   op % 4 == 1  remove: first page, pages
//   op % 4 == 2  protect: first page, pages, rights (u8 % 8)
//   op % 4 == 3  add at find_free(pages), the kernel's choice
// The list starts with a stack region (outside the window). Invariants: the
// list stays sorted and disjoint (consistent()); each call succeeds exactly
// when the model says it may (add: every page free, rights valid, a slot
// left; protect: every page covered, rights valid; valid: read, no execute); after each call every
// page of the window has the rights the model has; find_free returns a free
// gap or nothing.
#include <cstdint>
#include <cstring>

#include "fuzz_check.h"
#include "mm/user_regions.h"

namespace {

constexpr uint64_t kWindow = mm::kMmapBase;
constexpr unsigned kPages = 256;

// For an anonymous region: read, maybe write, never execute (only file
// regions, the program's text, may be executable).
bool valid_rights(uint8_t rights) {
    namespace r = mm::region_rights;
    return (rights & r::kRead) && !(rights & r::kExecute);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    mm::UserRegions regions;
    const mm::UserRegion stack{mm::kUserStackBottom.value(), mm::kUserStackTop.value(), 3, mm::RegionKind::kStack, 0, 0,
                               mm::kUserStackTop.value() - mm::kUserStackMax};
    FUZZ_CHECK(regions.add(stack) == mm::RegionStatus::kOk);
    uint8_t model[kPages] = {};

    for (int steps = 0; size > 0 && steps < 200; ++steps) {
        const uint8_t op = take<uint8_t>(data, size);
        const unsigned first = take<uint8_t>(data, size);
        unsigned pages = take<uint8_t>(data, size);
        if (pages == 0) pages = 1;
        if (first + pages > kPages) pages = kPages - first;
        const uint64_t start = kWindow + uint64_t(first) * kPageSize, end = start + uint64_t(pages) * kPageSize;
        switch (op % 4) {
            case 0: {
                const uint8_t rights = take<uint8_t>(data, size) % 8;
                bool free = true;
                for (unsigned p = first; p < first + pages; ++p) free = free && model[p] == 0;
                const mm::RegionStatus s = regions.add({start, end, rights, mm::RegionKind::kAnonymous});
                const bool room = regions.count() < mm::kMaxUserRegions || s == mm::RegionStatus::kOk;
                FUZZ_CHECK((s == mm::RegionStatus::kOk) == (free && valid_rights(rights) && room) ||
                           (s == mm::RegionStatus::kFull));
                if (s == mm::RegionStatus::kOk)
                    for (unsigned p = first; p < first + pages; ++p) model[p] = rights;
                break;
            }
            case 1:
                if (regions.remove(start, end) == mm::RegionStatus::kOk)
                    for (unsigned p = first; p < first + pages; ++p) model[p] = 0;
                else
                    FUZZ_CHECK(regions.count() == mm::kMaxUserRegions);  // only a split can be refused
                break;
            case 2: {
                const uint8_t rights = take<uint8_t>(data, size) % 8;
                bool covered = true;
                for (unsigned p = first; p < first + pages; ++p) covered = covered && model[p] != 0;
                const mm::RegionStatus s = regions.protect(start, end, rights);
                if (s == mm::RegionStatus::kOk) {
                    FUZZ_CHECK(covered);
                    for (unsigned p = first; p < first + pages; ++p) model[p] = rights;
                } else {
                    FUZZ_CHECK(!covered || !valid_rights(rights) || s == mm::RegionStatus::kFull);
                }
                break;
            }
            case 3: {
                const uint64_t at = regions.find_free(uint64_t(pages) * kPageSize);
                FUZZ_CHECK(at != 0 && at % kPageSize == 0);
                for (uint64_t va = at; va < at + uint64_t(pages) * kPageSize; va += kPageSize)
                    FUZZ_CHECK(regions.find(va) == nullptr);
                if (at + uint64_t(pages) * kPageSize <= kWindow + kPages * kPageSize &&
                    regions.add({at, at + uint64_t(pages) * kPageSize, 1, mm::RegionKind::kAnonymous}) == mm::RegionStatus::kOk)
                    for (uint64_t p = (at - kWindow) / kPageSize; p < (at - kWindow) / kPageSize + pages; ++p) model[p] = 1;
                break;
            }
        }
        FUZZ_CHECK(regions.consistent());
        for (unsigned p = 0; p < kPages; ++p) {
            const mm::UserRegion* r = regions.find(kWindow + uint64_t(p) * kPageSize);
            FUZZ_CHECK((r == nullptr) == (model[p] == 0));
            FUZZ_CHECK(r == nullptr || r->rights == model[p]);
        }
    }
    return 0;
}
