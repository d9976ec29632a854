#include "mm/address_space_report.h"

#include "mm/mapping_log.h"
#include "support/log.h"

namespace mm {

const char* owner_of(VirtAddr va, const Owner* owners, size_t count) {
    for (size_t i = 0; i < count; ++i)
        if (va >= owners[i].va && va - owners[i].va < owners[i].size) return owners[i].name;
    return "none";
}

// book:begin report-merge
void AddressSpaceReport::leaf(const Leaf& leaf) {
    ++leaves_;
    const uint64_t flags = normalized_flags(effective_flags(leaf), leaf.size);
    const char* owner = owner_of(leaf.va, owners_, owner_count_);
    if (count_ != 0) {
        ReportRange& last = ranges_[count_ - 1];
        if (last.end() == leaf.va && last.pa + last.size == leaf.pa && last.flags == flags &&
            last.page_size == leaf.size && last.owner == owner) {
            last.size += bytes(leaf.size);
            return;
        }
    }
    if (count_ == kMaxRanges) {
        ++dropped_;
        return;
    }
    ranges_[count_++] = {leaf.va, bytes(leaf.size), leaf.pa, flags, leaf.size, owner};
}
// book:end report-merge

namespace column {
constexpr size_t kEnd = 43, kSize = 67, kPa = 84, kPage = 104, kFlags = 115, kOwner = 138;
}

void log_report(const AddressSpaceReport& report) {
    for (const ReportRange& r : report)
        klog::info("layout").msg("range").kv("va", klog::hex(r.va))
            .pad(column::kEnd).kv("end", klog::hex(r.end()))
            .pad(column::kSize).kv("size", klog::size(r.size))
            .pad(column::kPa).kv("pa", klog::hex(r.pa))
            .pad(column::kPage).kv("page", name(r.page_size))
            .pad(column::kFlags).kv("flags", flags_text(r.flags).text)
            .pad(column::kOwner).kv("owner", r.owner);
    klog::info("layout").msg("report").kv("ranges", uint64_t(report.count())).kv("leaves", report.leaves())
        .kv("dropped", report.dropped());
}

}  // namespace mm
