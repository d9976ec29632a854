// The address-space report: every leaf of the live tables, merged into as
// few ranges as say the same thing, one log line each.
//
//   [INFO  layout] range va=0xffff800000200000 end=0xffff800010000000 size=254MiB pa=0x200000 page=2MiB flags=P|RW|NX owner=phys-window
//
// Two neighbouring leaves share a range when their virtual AND physical
// addresses continue each other and they have the same effective flags
// (normalized_flags: no A/D, PAT at one position), the same page size and the
// same owner. The owner of an address is the first Owner that holds it: the
// kernel image's sections first, then the regions of address_space_layout.h.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/page_table_walker.h"

namespace mm {

struct Owner {
    const char* name;
    VirtAddr va;
    uint64_t size;
};

// The first of `owners` that holds `va`, or "none".
const char* owner_of(VirtAddr va, const Owner* owners, size_t count);

struct ReportRange {
    VirtAddr va;
    uint64_t size;
    PhysAddr pa;
    uint64_t flags;      // normalized effective flags, render at kPt
    PageSize page_size;
    const char* owner;

    VirtAddr end() const { return va + size; }
    uint64_t pages() const { return size / bytes(page_size); }
};

class AddressSpaceReport final : public PageTableVisitor {
public:
    static constexpr size_t kMaxRanges = 128;

    AddressSpaceReport(const Owner* owners, size_t owner_count) : owners_(owners), owner_count_(owner_count) {}

    void leaf(const Leaf& leaf) override;

    size_t count() const { return count_; }
    const ReportRange& operator[](size_t i) const { return ranges_[i]; }
    const ReportRange* begin() const { return ranges_; }
    const ReportRange* end() const { return ranges_ + count_; }
    uint64_t leaves() const { return leaves_; }
    // Ranges that did not fit (their leaves are still counted).
    uint64_t dropped() const { return dropped_; }

private:
    const Owner* owners_;
    size_t owner_count_;
    ReportRange ranges_[kMaxRanges];
    size_t count_ = 0;
    uint64_t leaves_ = 0;
    uint64_t dropped_ = 0;
};

// One `[INFO  layout] range …` line per range, in columns, then
//   [INFO  layout] report ranges=… leaves=… dropped=…
void log_report(const AddressSpaceReport& report);

}  // namespace mm
