#include "mm/user_regions.h"

#include "support/assert.h"

namespace mm {
namespace {

namespace r = region_rights;

uint64_t saturating_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Whether [start, end) meets a stack's region or reserved room.
bool meets_stack(const UserRegion* regions, size_t count, uint64_t start, uint64_t end) {
    for (size_t i = 0; i < count; ++i)
        if (regions[i].kind == RegionKind::kStack && regions[i].reserved_start() < end && start < regions[i].end)
            return true;
    return false;
}

}  // namespace

const char* rights_name(uint8_t rights) {
    if (rights == r::kRead) return "r--";
    if (rights == (r::kRead | r::kWrite)) return "rw-";
    if (rights == (r::kRead | r::kExecute)) return "r-x";
    return "???";
}

const char* region_kind_name(RegionKind kind) {
    switch (kind) {
        case RegionKind::kAnonymous: return "anonymous";
        case RegionKind::kStack: return "stack";
        case RegionKind::kFile: return "file";
    }
    return "?";
}

const char* describe(RegionStatus status) {
    switch (status) {
        case RegionStatus::kOk: return "ok";
        case RegionStatus::kMisaligned: return "must be 4 KiB aligned";
        case RegionStatus::kEmpty: return "must not be empty";
        case RegionStatus::kOutsideUser: return "must lie within [0x400000, 0x7ffffffff000) (user pages)";
        case RegionStatus::kBadRights: return "must include PROT_READ and not both PROT_WRITE and PROT_EXEC (W^X)";
        case RegionStatus::kExecuteNotFile:
            return "only the program's text may be executable: any other frame is writable in the kernel's window";
        case RegionStatus::kOverlaps: return "overlaps a region (or a stack's growth room and guard gap)";
        case RegionStatus::kFull: return "the process has 32 regions already";
        case RegionStatus::kNotCovered: return "every page of the range must be in a region (mprotect)";
        case RegionStatus::kStackRange: return "the stack, its growth room and its guard gap are the kernel's";
        case RegionStatus::kFileWritable: return "a file-backed region cannot become writable (its pages may be the module's)";
        case RegionStatus::kNoRoom: return "no gap that large between 64 GiB and the user limit";
    }
    return "?";
}

RegionStatus UserRegions::check_shape(const UserRegion& region) const {
    if (region.start % kPageSize != 0 || region.end % kPageSize != 0) return RegionStatus::kMisaligned;
    if (region.start >= region.end) return RegionStatus::kEmpty;
    if (region.kind == RegionKind::kStack &&
        (region.grow_limit % kPageSize != 0 || region.grow_limit > region.start ||
         region.grow_limit < kUserLowest.value() + kStackGuardGap))
        return RegionStatus::kOutsideUser;
    if (region.reserved_start() < kUserLowest.value() || region.end > kUserLimit.value())
        return RegionStatus::kOutsideUser;
    if (!(region.rights & r::kRead) || (region.rights & ~(r::kRead | r::kWrite | r::kExecute)) ||
        ((region.rights & r::kWrite) && (region.rights & r::kExecute)))
        return RegionStatus::kBadRights;
    if (region.text && (region.kind != RegionKind::kFile || (region.rights & r::kWrite)))
        return RegionStatus::kBadRights;  // text is a file's, and never writable
    if ((region.rights & r::kExecute) && !region.text) return RegionStatus::kExecuteNotFile;
    return RegionStatus::kOk;
}

// book:begin regions-add
RegionStatus UserRegions::add(const UserRegion& region) {
    if (const RegionStatus s = check_shape(region); s != RegionStatus::kOk) return s;
    // The first region that ends above the new one's reserved start: it and
    // the one before must both stay clear of [reserved_start, end).
    size_t at = 0;
    while (at < count_ && regions_[at].end <= region.reserved_start()) ++at;
    if (at < count_ && regions_[at].reserved_start() < region.end) return RegionStatus::kOverlaps;
    if (count_ == kMaxUserRegions) return RegionStatus::kFull;
    insert_at(at, region);
    return RegionStatus::kOk;
}
// book:end regions-add

const UserRegion* UserRegions::find(uint64_t va) const {
    for (size_t i = 0; i < count_; ++i)
        if (regions_[i].contains(va)) return &regions_[i];
    return nullptr;
}

const UserRegion* UserRegions::stack_growing_to(uint64_t va) const {
    for (size_t i = 0; i < count_; ++i)
        if (regions_[i].kind == RegionKind::kStack && regions_[i].grow_limit <= va && va < regions_[i].start)
            return &regions_[i];
    return nullptr;
}

const UserRegion* UserRegions::stack_guarding(uint64_t va) const {
    for (size_t i = 0; i < count_; ++i)
        if (regions_[i].kind == RegionKind::kStack && regions_[i].reserved_start() <= va && va < regions_[i].grow_limit)
            return &regions_[i];
    return nullptr;
}

void UserRegions::grow_stack(uint64_t stack_start, uint64_t new_start) {
    for (size_t i = 0; i < count_; ++i)
        if (regions_[i].kind == RegionKind::kStack && regions_[i].start == stack_start) {
            KASSERT(new_start % kPageSize == 0 && regions_[i].grow_limit <= new_start && new_start < stack_start);
            regions_[i].start = new_start;
            return;
        }
    KASSERT(false && "grow_stack: no stack region starts there");
}

void UserRegions::insert_at(size_t index, const UserRegion& region) {
    for (size_t i = count_; i > index; --i) regions_[i] = regions_[i - 1];
    regions_[index] = region;
    ++count_;
}

void UserRegions::erase_at(size_t index) {
    for (size_t i = index; i + 1 < count_; ++i) regions_[i] = regions_[i + 1];
    --count_;
}

RegionStatus UserRegions::split_at(uint64_t va) {
    for (size_t i = 0; i < count_; ++i) {
        UserRegion& left = regions_[i];
        if (!(left.start < va && va < left.end)) continue;
        if (count_ == kMaxUserRegions) return RegionStatus::kFull;
        UserRegion right = left;
        right.start = va;
        if (right.kind == RegionKind::kFile) {
            right.file_offset = left.file_offset + (va - left.start);
            right.file_bytes = saturating_sub(left.file_bytes, va - left.start);
        }
        left.end = va;
        insert_at(i + 1, right);
        return RegionStatus::kOk;
    }
    return RegionStatus::kOk;  // already a boundary, or in no region
}

// book:begin regions-remove
RegionStatus UserRegions::remove(uint64_t start, uint64_t end) {
    if (meets_stack(regions_, count_, start, end)) return RegionStatus::kStackRange;
    // Both splits first, so a refusal (kFull) changes nothing that matters:
    // a split alone leaves the same pages with the same rights.
    if (const RegionStatus s = split_at(start); s != RegionStatus::kOk) return s;
    if (const RegionStatus s = split_at(end); s != RegionStatus::kOk) {
        merge_anonymous_neighbours();  // the first split is undone: a refusal changes nothing
        return s;
    }
    for (size_t i = 0; i < count_;)
        if (start <= regions_[i].start && regions_[i].end <= end) erase_at(i);
        else ++i;
    return RegionStatus::kOk;
}
// book:end regions-remove

RegionStatus UserRegions::protect(uint64_t start, uint64_t end, uint8_t rights) {
    if (!(rights & r::kRead) || (rights & ~(r::kRead | r::kWrite | r::kExecute)) ||
        ((rights & r::kWrite) && (rights & r::kExecute)))
        return RegionStatus::kBadRights;
    if (meets_stack(regions_, count_, start, end)) return RegionStatus::kStackRange;
    // Covered without a hole, and no file region asked to become writable.
    uint64_t next = start;
    for (size_t i = 0; i < count_ && next < end; ++i) {
        const UserRegion& g = regions_[i];
        if (g.end <= next) continue;
        if (g.start > next) return RegionStatus::kNotCovered;
        if (g.kind == RegionKind::kFile && (rights & r::kWrite)) return RegionStatus::kFileWritable;
        // Only text may execute: its pages are the module's frames, read-only
        // everywhere; any other page is a frame the kernel's window maps writable.
        if (!g.text && (rights & r::kExecute)) return RegionStatus::kExecuteNotFile;
        next = g.end;
    }
    if (next < end) return RegionStatus::kNotCovered;
    RegionStatus status = split_at(start);
    if (status == RegionStatus::kOk) status = split_at(end);
    if (status == RegionStatus::kOk)
        for (size_t i = 0; i < count_; ++i)
            if (start <= regions_[i].start && regions_[i].end <= end) regions_[i].rights = rights;
    merge_anonymous_neighbours();  // a refused second split, or rights given back, leaves no extra region
    return status;
}

// Two anonymous regions that touch and have the same rights are one: without
// this, a program that toggles a page's rights (a guard page, say) splits
// its region on every call until the table is full. File regions and stacks
// keep their own bookkeeping (offsets, growth) and are never merged.
void UserRegions::merge_anonymous_neighbours() {
    for (size_t i = 0; i + 1 < count_;) {
        const UserRegion& left = regions_[i];
        const UserRegion& right = regions_[i + 1];
        if (left.kind == RegionKind::kAnonymous && right.kind == RegionKind::kAnonymous && left.end == right.start &&
            left.rights == right.rights) {
            regions_[i].end = right.end;
            erase_at(i + 1);
        } else {
            ++i;
        }
    }
}

// book:begin regions-find-free
uint64_t UserRegions::find_free(uint64_t bytes) const {
    if (bytes == 0 || bytes % kPageSize != 0) return 0;
    uint64_t candidate = kMmapBase;
    for (size_t i = 0; i < count_; ++i) {
        const UserRegion& g = regions_[i];
        if (g.end <= candidate) continue;
        if (g.reserved_start() >= candidate && g.reserved_start() - candidate >= bytes) return candidate;
        candidate = g.end;
    }
    return candidate < kUserLimit.value() && kUserLimit.value() - candidate >= bytes ? candidate : 0;
}
// book:end regions-find-free

bool UserRegions::consistent() const {
    for (size_t i = 0; i < count_; ++i) {
        if (check_shape(regions_[i]) != RegionStatus::kOk) return false;
        if (i > 0 && regions_[i - 1].end > regions_[i].reserved_start()) return false;
    }
    return true;
}

}  // namespace mm
