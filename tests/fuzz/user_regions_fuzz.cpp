// Fuzz target: chapter 13's region list under any sequence of operations,
// held against a model of 256 pages (each page: its rights, its kind, and
// for a file page where its bytes are in the module).
//
// Input: a list of operations, one byte each plus operands (page numbers are
// u8, into a window of 256 pages at 64 GiB; a count of 0 means 1 page):
//   op % 4 == 0  add a region: first page, pages, rights (u8 % 8); with op
//                bit 6 a file region (then: text (u8 & 1), file offset in
//                pages (u8), file bytes (u16)), else anonymous
//   op % 4 == 1  remove: first page, pages
//   op % 4 == 2  protect: first page, pages, rights (u8 % 8)
//   op % 4 == 3  add at find_free(pages), the kernel's choice
// The list starts with a stack region (outside the window). Invariants: the
// list stays sorted and disjoint (consistent()); each call returns exactly
// the status the model predicts, in the order the rules are checked — a
// full list (kFull) only when the call needs more slots than are left
// (add: one; remove and protect: one per boundary that falls inside a
// region); after each call every page of the window has the rights, kind,
// text flag, file offset and file bytes the model has, so a split keeps a
// file page where it was in the module; find_free returns a free gap.
#include <cstdint>
#include <cstring>

#include "fuzz_check.h"
#include "mm/user_regions.h"

namespace {

constexpr uint64_t kWindow = mm::kMmapBase;
constexpr unsigned kPages = 256;
namespace r = mm::region_rights;

enum class Kind : uint8_t { kNone, kAnonymous, kFile };

// What the model knows of one page of the window.
struct Page {
    Kind kind = Kind::kNone;
    uint8_t rights = 0;
    bool text = false;
    uint64_t file_offset = 0;  // kFile: where this page's first byte is in the module
    uint64_t file_bytes = 0;   // kFile: file bytes from this page on (zeroes after)
};

uint64_t saturating_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// check_shape()'s rights rules, in its order, for a region with these rights.
mm::RegionStatus rights_status(uint8_t rights, bool file, bool text) {
    if (!(rights & r::kRead) || ((rights & r::kWrite) && (rights & r::kExecute))) return mm::RegionStatus::kBadRights;
    if (text && (!file || (rights & r::kWrite))) return mm::RegionStatus::kBadRights;
    if ((rights & r::kExecute) && !text) return mm::RegionStatus::kExecuteNotFile;
    return mm::RegionStatus::kOk;
}

// How many of `start` and `end` fall strictly inside a region: the splits a
// remove or protect of [start, end) must make (each needs a free slot).
unsigned splits_needed(const mm::UserRegions& regions, uint64_t start, uint64_t end) {
    unsigned n = 0;
    const uint64_t boundaries[] = {start, end};
    for (const uint64_t va : boundaries)
        if (const mm::UserRegion* g = regions.find(va); g != nullptr && g->start != va) ++n;
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    mm::UserRegions regions;
    const mm::UserRegion stack{mm::kUserStackBottom.value(), mm::kUserStackTop.value(), 3, mm::RegionKind::kStack, 0, 0,
                               mm::kUserStackTop.value() - mm::kUserStackMax};
    FUZZ_CHECK(regions.add(stack) == mm::RegionStatus::kOk);
    Page model[kPages] = {};

    for (int steps = 0; size > 0 && steps < 200; ++steps) {
        const uint8_t op = take<uint8_t>(data, size);
        const unsigned first = take<uint8_t>(data, size);
        unsigned pages = take<uint8_t>(data, size);
        if (pages == 0) pages = 1;
        if (first + pages > kPages) pages = kPages - first;
        const uint64_t start = kWindow + uint64_t(first) * kPageSize, end = start + uint64_t(pages) * kPageSize;
        const size_t count = regions.count();
        switch (op % 4) {
            case 0: {
                const uint8_t rights = take<uint8_t>(data, size) % 8;
                const bool file = op & 0x40;
                mm::UserRegion region{start, end, rights, mm::RegionKind::kAnonymous};
                if (file) {
                    region.kind = mm::RegionKind::kFile;
                    region.text = take<uint8_t>(data, size) & 1;
                    region.file_offset = uint64_t(take<uint8_t>(data, size)) * kPageSize;
                    region.file_bytes = take<uint16_t>(data, size);
                }
                bool free = true;
                for (unsigned p = first; p < first + pages; ++p) free = free && model[p].kind == Kind::kNone;
                mm::RegionStatus expected = rights_status(rights, file, region.text);
                if (expected == mm::RegionStatus::kOk && !free) expected = mm::RegionStatus::kOverlaps;
                if (expected == mm::RegionStatus::kOk && count == mm::kMaxUserRegions) expected = mm::RegionStatus::kFull;
                FUZZ_CHECK(regions.add(region) == expected);
                if (expected == mm::RegionStatus::kOk)
                    for (unsigned p = first; p < first + pages; ++p) {
                        const uint64_t into = uint64_t(p - first) * kPageSize;
                        model[p] = {file ? Kind::kFile : Kind::kAnonymous, rights, region.text,
                                    file ? region.file_offset + into : 0, file ? saturating_sub(region.file_bytes, into) : 0};
                    }
                break;
            }
            case 1: {
                const bool full = count + splits_needed(regions, start, end) > mm::kMaxUserRegions;
                FUZZ_CHECK(regions.remove(start, end) == (full ? mm::RegionStatus::kFull : mm::RegionStatus::kOk));
                if (!full)
                    for (unsigned p = first; p < first + pages; ++p) model[p] = {};
                break;
            }
            case 2: {
                const uint8_t rights = take<uint8_t>(data, size) % 8;
                mm::RegionStatus expected = mm::RegionStatus::kOk;
                if (!(rights & r::kRead) || ((rights & r::kWrite) && (rights & r::kExecute)))
                    expected = mm::RegionStatus::kBadRights;
                for (unsigned p = first; p < first + pages && expected == mm::RegionStatus::kOk; ++p) {
                    if (model[p].kind == Kind::kNone) expected = mm::RegionStatus::kNotCovered;
                    else if (model[p].kind == Kind::kFile && (rights & r::kWrite)) expected = mm::RegionStatus::kFileWritable;
                    else if (!model[p].text && (rights & r::kExecute)) expected = mm::RegionStatus::kExecuteNotFile;
                }
                if (expected == mm::RegionStatus::kOk && count + splits_needed(regions, start, end) > mm::kMaxUserRegions)
                    expected = mm::RegionStatus::kFull;
                FUZZ_CHECK(regions.protect(start, end, rights) == expected);
                if (expected == mm::RegionStatus::kOk)
                    for (unsigned p = first; p < first + pages; ++p) model[p].rights = rights;
                break;
            }
            case 3: {
                const uint64_t at = regions.find_free(uint64_t(pages) * kPageSize);
                FUZZ_CHECK(at != 0 && at % kPageSize == 0);
                for (uint64_t va = at; va < at + uint64_t(pages) * kPageSize; va += kPageSize)
                    FUZZ_CHECK(regions.find(va) == nullptr);
                if (at + uint64_t(pages) * kPageSize <= kWindow + kPages * kPageSize) {
                    const mm::RegionStatus expected = count == mm::kMaxUserRegions ? mm::RegionStatus::kFull
                                                                                   : mm::RegionStatus::kOk;
                    FUZZ_CHECK(regions.add({at, at + uint64_t(pages) * kPageSize, r::kRead, mm::RegionKind::kAnonymous}) ==
                               expected);
                    if (expected == mm::RegionStatus::kOk)
                        for (uint64_t p = (at - kWindow) / kPageSize; p < (at - kWindow) / kPageSize + pages; ++p)
                            model[p] = {Kind::kAnonymous, r::kRead, false, 0, 0};
                }
                break;
            }
        }
        FUZZ_CHECK(regions.consistent());
        for (unsigned p = 0; p < kPages; ++p) {
            const uint64_t va = kWindow + uint64_t(p) * kPageSize;
            const mm::UserRegion* g = regions.find(va);
            FUZZ_CHECK((g == nullptr) == (model[p].kind == Kind::kNone));
            if (g == nullptr) continue;
            FUZZ_CHECK(g->rights == model[p].rights && g->text == model[p].text);
            FUZZ_CHECK((g->kind == mm::RegionKind::kFile) == (model[p].kind == Kind::kFile));
            if (g->kind != mm::RegionKind::kFile) continue;
            FUZZ_CHECK(g->file_offset + (va - g->start) == model[p].file_offset);
            FUZZ_CHECK(saturating_sub(g->file_bytes, va - g->start) == model[p].file_bytes);
        }
    }
    return 0;
}
