// Fuzz target: PageTableWalker, the audit and the report over tables that
// PageTableBuilder made from a sequence of map requests, then damaged by raw
// entry writes.
//
// Input: one byte whose bit 0 says the CPU has 1 GiB pages, one byte n
// (requests, at most 8), n requests in page_table_fuzz's
// format (va u64, pa u64, length u16, selector u8, policy u8), then damage
// records (table u8, entry u16, raw value u64) to the end.
//
// Before the damage: the audit finds nothing but what the per-frame rules must
// find (map_range takes any frame, so two requests may alias one: the counts
// equal a brute-force pass over the leaves), every mapping passes its region
// check (a page smaller than the policy's choice aside: a slot may already
// hold a table), and the report covers exactly the leaves, sorted, disjoint
// and merged. After it: the walk ends, and every leaf it reports is what
// translate() finds for that address, through the same entry.
#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

#include "mm/address_space_audit.h"
#include "mm/address_space_report.h"
#include "fake_physical_memory.h"
#include "fuzz_check.h"
#include "mm/page_table_builder.h"
#include "mm/page_table_walker.h"

using namespace mm;

namespace {

// Damaged entries may name any frame: one outside the fake RAM reads as an
// empty table, so the walk never leaves it.
class BoundedMemory final : public PhysicalMemoryAccess {
public:
    explicit BoundedMemory(FakePhysicalMemory& memory) : memory_(memory) {}
    PageTable* table_at(PhysAddr frame) override {
        if (!memory_.contains(frame)) {
            empty_ = PageTable{};
            return &empty_;
        }
        return memory_.table_at(frame);
    }

private:
    FakePhysicalMemory& memory_;
    PageTable empty_{};
};

class Sink final : public FindingSink {
public:
    void found(const Finding& f) override { findings.push_back(f); }
    std::vector<Finding> findings;
};

// Every leaf, each table once, at most kMaxAuditTables of them (as the audit walks).
class Leaves final : public PageTableVisitor {
public:
    bool enter_table(const TableVisit& t) override {
        for (PhysAddr seen : tables)
            if (seen == t.frame) return false;
        if (tables.size() == kMaxAuditTables) return false;
        tables.push_back(t.frame);
        return true;
    }
    void leaf(const Leaf& l) override { leaves.push_back(l); }
    std::vector<PhysAddr> tables;
    std::vector<Leaf> leaves;
};

VirtAddr shape_va(uint64_t raw, uint8_t selector) {
    static constexpr uint64_t kBases[] = {0x0, 0x4000'0000, 0xFFFF'8000'0000'0000ull, 0xFFFF'FFFF'8000'0000ull};
    return VirtAddr(kBases[selector % 4] + (raw & 0x3'FFFF'F000ull));
}

MappingPolicy capped_at_2mib(MappingPolicy policy) {
    policy.max_page_size = PageSize::k2MiB;
    return policy;
}

MappingPolicy shape_policy(uint8_t selector) {
    static const MappingPolicy kPolicies[] = {
        kKernelTextPolicy, kKernelRodataPolicy, kKernelDataPolicy, phys_window_policy(),
        capped_at_2mib(phys_window_policy()), kMmioPolicy, kFramebufferPolicy,
    };
    return kPolicies[selector % 7];
}

// The per-frame counts worked out another way: every leaf's frames against
// the union of the other kind's, kept as sorted, merged intervals per kind.
struct FrameTruth {
    uint64_t wx = 0, types = 0;
};
FrameTruth frame_truth(const std::vector<Leaf>& leaves) {
    using Spans = std::vector<std::pair<uint64_t, uint64_t>>;
    auto merge = [](Spans spans) {
        std::sort(spans.begin(), spans.end());
        Spans out;
        for (const auto& s : spans) {
            if (!out.empty() && s.first <= out.back().second) out.back().second = std::max(out.back().second, s.second);
            else out.push_back(s);
        }
        return out;
    };
    auto hits = [](const Spans& spans, uint64_t start, uint64_t end) {
        for (const auto& s : spans)
            if (s.first < end && start < s.second) return true;
        return false;
    };
    Spans executable;
    std::map<uint8_t, Spans> by_type;
    for (const Leaf& l : leaves) {
        const uint64_t start = l.pa.value(), end = start + bytes(l.size);
        if (!(effective_flags(l) & x86::pte::kNoExecute)) executable.push_back({start, end});
        if (leaf_memory_type(l) != pat::kWriteBack) by_type[leaf_memory_type(l)].push_back({start, end});
    }
    executable = merge(executable);
    for (auto& [type, spans] : by_type) spans = merge(spans);
    FrameTruth truth;
    for (const Leaf& l : leaves) {
        const uint64_t start = l.pa.value(), end = start + bytes(l.size), flags = effective_flags(l);
        if ((flags & x86::pte::kWritable) && (flags & x86::pte::kNoExecute) && hits(executable, start, end)) ++truth.wx;
        bool other = false;
        for (const auto& [type, spans] : by_type) other |= type != leaf_memory_type(l) && hits(spans, start, end);
        truth.types += other;
    }
    return truth;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FakePhysicalMemory memory(PhysAddr(0x10'0000'0000ull), 96);
    FakeFrameSource frames(memory);
    const FrameResult pml4 = PageTableBuilder::create_pml4(memory, frames);
    FUZZ_CHECK(pml4.ok());
    // The CPU: NX always; 1 GiB pages as the input's first byte says, for the builder and the audit alike.
    const CpuPagingFeatures cpu{true, size > 0 && (take<uint8_t>(data, size) & 1) != 0};
    PageTableBuilder builder(pml4.frame(), memory, frames, cpu.pages_1gib);
    std::vector<RegionExpectation> regions;

    const unsigned requests = take<uint8_t>(data, size) % 9;
    for (unsigned i = 0; i < requests && size > 0; ++i) {
        const uint64_t raw_va = take<uint64_t>(data, size);
        const uint64_t raw_pa = take<uint64_t>(data, size);
        const uint16_t raw_length = take<uint16_t>(data, size);
        const uint8_t selector = take<uint8_t>(data, size);
        const MappingPolicy policy = shape_policy(take<uint8_t>(data, size));
        const VirtAddr va = shape_va(raw_va, selector);
        const PhysAddr pa(raw_pa & 0xFF'FFFF'F000ull);
        const uint64_t length = selector & 0x20 ? uint64_t(raw_length % 16) * 2 * MiB : uint64_t(raw_length % 1024) * kPageSize;
        if (builder.map_range(va, pa, length, policy).ok())
            regions.push_back(expect_mapped("request", va, pa, length, policy));
    }

    PageTableWalker walker(builder.root(), memory);
    Sink sink;
    const AuditCounts clean = audit_address_space(walker, regions.data(), regions.size(), true, sink);
    Leaves before;
    walker.walk(before);
    const FrameTruth truth = frame_truth(before.leaves);
    FUZZ_CHECK(clean.frame_wx == truth.wx && clean.frame_types == truth.types);
    FUZZ_CHECK(clean.wx == 0 && clean.user == 0 && clean.nonzero_not_present == 0 && clean.malformed == 0 &&
               clean.shared_tables == 0 && clean.unexpected == 0 && clean.untracked == 0);
    FUZZ_CHECK(sink.findings.size() == truth.wx + truth.types);
    for (const Finding& f : sink.findings)
        FUZZ_CHECK(f.rule == AuditRule::kFrameWritableExecutable || f.rule == AuditRule::kFrameMemoryTypes);
    sink.findings.clear();
    FUZZ_CHECK(clean.tables == frames.handed_out().size());
    for (const RegionExpectation& region : regions) {
        const RegionResult r = check_region(walker, region, cpu, sink);
        FUZZ_CHECK(r.ok || (sink.findings.back().rule == AuditRule::kPageSize &&
                            sink.findings.back().found < sink.findings.back().expected));
    }

    const Owner owners[] = {{"low", VirtAddr(0), uint64_t(1) << 47}};
    AddressSpaceReport report(owners, 1);
    walker.walk(report);
    FUZZ_CHECK(report.leaves() == clean.leaves);
    if (report.dropped() == 0) {
        uint64_t report_bytes = 0, leaf_bytes = 0;
        for (size_t i = 0; i < report.count(); ++i) {
            const ReportRange& r = report[i];
            FUZZ_CHECK(r.size != 0 && r.size % bytes(r.page_size) == 0);
            if (i > 0) {
                const ReportRange& p = report[i - 1];
                FUZZ_CHECK(p.end() <= r.va);
                FUZZ_CHECK(!(p.end() == r.va && p.pa + p.size == r.pa && p.flags == r.flags &&
                             p.page_size == r.page_size && p.owner == r.owner));  // would have merged
            }
            report_bytes += r.size;
        }
        Leaves all;
        walker.walk(all);
        for (const Leaf& l : all.leaves) leaf_bytes += bytes(l.size);
        FUZZ_CHECK(report_bytes == leaf_bytes);
    }

    // The damage: raw writes into table frames the builder handed out.
    BoundedMemory bounded(memory);
    for (int i = 0; i < 8 && size > 0 && !frames.handed_out().empty(); ++i) {
        const PhysAddr frame = frames.handed_out()[take<uint8_t>(data, size) % frames.handed_out().size()];
        const unsigned entry = take<uint16_t>(data, size) % PageTableIndex::kCount;
        memory.table_at(frame)->entries[entry] = PageTableEntry::from_raw(take<uint64_t>(data, size));
    }
    PageTableWalker damaged(builder.root(), bounded);
    Sink damage;
    const AuditCounts counts = audit_address_space(damaged, regions.data(), regions.size(), true, damage);
    Leaves seen;
    damaged.walk(seen);
    FUZZ_CHECK(counts.leaves == seen.leaves.size() && counts.tables == seen.tables.size());
    for (size_t i = 0; i < seen.leaves.size() && i < 4096; ++i) {
        const Leaf& l = seen.leaves[i];
        const Lookup at = damaged.translate(l.va);
        FUZZ_CHECK(at.present && at.entry == l.entry && at.leaf.pa == l.pa && at.leaf.size == l.size &&
                   at.leaf.flags == l.flags && at.leaf.va == l.va);
        FUZZ_CHECK(l.va.is_canonical() && l.va.is_aligned(bytes(l.size)));
    }
    return 0;
}
