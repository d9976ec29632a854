#include "mm/address_space_audit.h"

#include "mm/address_space_layout.h"
#include "support/log.h"

namespace mm {
namespace {

namespace pte = x86::pte;

bool is_region_rule(AuditRule rule) { return rule <= AuditRule::kFlags; }

// Where the next page to look at begins after a walk that ended at `level`
// without a leaf: that entry covered its whole span.
VirtAddr after_hole(VirtAddr va, PageTableLevel level) {
    return VirtAddr(align_down(va.value(), entry_span(level)) + entry_span(level));
}

// The region of `va` for a finding of a global rule: an expected region when
// one holds it, else the layout region it falls in.
const char* region_of(VirtAddr va, const RegionExpectation* regions, size_t count) {
    for (size_t i = 0; i < count; ++i)
        if (va >= regions[i].va && va - regions[i].va < regions[i].size) return regions[i].name;
    for (const layout::Region& r : layout::kRegions)
        if (va >= r.base && va - r.base < r.size) return r.name;
    return va.is_upper_half() ? "upper-half" : "lower-half";
}

void count_page(RegionResult& result, PageSize size) {
    switch (size) {
        case PageSize::k4KiB: ++result.pages_4k; break;
        case PageSize::k2MiB: ++result.pages_2m; break;
        case PageSize::k1GiB: ++result.pages_1g; break;
    }
}

}  // namespace

const char* describe(AuditRule rule) {
    switch (rule) {
        case AuditRule::kMapped: return "every page of the region must be mapped";
        case AuditRule::kAbsent: return "no page of the region may be mapped";
        case AuditRule::kInsideRegion: return "a page must not reach outside its region";
        case AuditRule::kPhysical: return "must map the expected physical address";
        case AuditRule::kPageSize: return "page size must be the policy's choice for this address";
        case AuditRule::kFlags: return "flags must be exactly the policy's";
        case AuditRule::kWritableExecutable: return "no page may be both writable and executable";
        case AuditRule::kUser: return "no entry may be user-accessible (U/S)";
        case AuditRule::kNotPresentNonZero: return "every non-present entry must be zero";
        case AuditRule::kPsInPml4e: return "PS is reserved in a PML4 entry";
        case AuditRule::kSharedTable: return "no table may be reachable twice";
        case AuditRule::kTooManyTables: return "too many tables to audit";
        case AuditRule::kUnexpected: return "every mapped page must belong to an expected region";
    }
    return "?";
}

// book:begin check-region
RegionResult check_region(PageTableWalker& walker, const RegionExpectation& region, FindingSink& sink) {
    RegionResult result;
    const VirtAddr end = region.va + region.size;
    auto reject = [&](AuditRule rule, VirtAddr va, uint64_t found, uint64_t expected) {
        sink.found({rule, region.name, va, found, expected});
        result.ok = false;
        return result;
    };
    for (VirtAddr va = region.va; va < end;) {
        const Lookup at = walker.translate(va);
        if (!region.mapped) {  // a guard: nothing here may translate
            if (at.present) return reject(AuditRule::kAbsent, va, normalized_flags(effective_flags(at.leaf), at.leaf.size), 0);
            va = after_hole(va, at.level);
            continue;
        }
        if (!at.present) return reject(AuditRule::kMapped, va, 0, region.policy.leaf_flags);
        const Leaf& leaf = at.leaf;
        if (leaf.va != va || leaf.end() > end) return reject(AuditRule::kInsideRegion, va, leaf.va.value(), region.va.value());
        const PhysAddr pa = region.check_pa ? region.pa + (va - region.va) : leaf.pa;
        if (leaf.pa != pa) return reject(AuditRule::kPhysical, va, leaf.pa.value(), pa.value());
        // The page PageTableBuilder::map_range picks for this address under the policy.
        const PageSize size = largest_page_size(va, pa, end - va, region.policy);
        if (leaf.size != size) return reject(AuditRule::kPageSize, va, bytes(leaf.size), bytes(size));
        const uint64_t found = normalized_flags(effective_flags(leaf), leaf.size);
        const uint64_t expected = normalized_flags(leaf_entry_flags(region.policy, size), size);
        if (found != expected) return reject(AuditRule::kFlags, va, found, expected);
        count_page(result, leaf.size);
        va = leaf.end();
    }
    return result;
}
// book:end check-region

namespace {

class GlobalAudit final : public PageTableVisitor {
public:
    GlobalAudit(const RegionExpectation* regions, size_t count, bool no_execute, FindingSink& sink, PhysAddr* seen)
        : regions_(regions), count_(count), no_execute_(no_execute), sink_(sink), seen_(seen) {}

    // book:begin audit-visitor
    bool enter_table(const TableVisit& table) override {
        for (size_t i = 0; i < seen_count_; ++i) {
            if (seen_[i] != table.frame) continue;
            ++counts_.shared_tables;
            report(AuditRule::kSharedTable, table.va, table.frame.value(), 0);
            return false;  // walked once already: its leaves are counted
        }
        if (seen_count_ == kMaxAuditTables) {
            ++counts_.untracked;
            report(AuditRule::kTooManyTables, table.va, table.frame.value(), kMaxAuditTables);
            return false;
        }
        seen_[seen_count_++] = table.frame;
        ++counts_.tables;
        return true;
    }

    void leaf(const Leaf& leaf) override {
        ++counts_.leaves;
        const uint64_t effective = effective_flags(leaf);
        const uint64_t shown = normalized_flags(effective, leaf.size);
        if (no_execute_ && (effective & pte::kWritable) && !(effective & pte::kNoExecute)) {
            ++counts_.wx;
            report(AuditRule::kWritableExecutable, leaf.va, shown, shown | pte::kNoExecute);
        }
        if ((leaf.flags | leaf.above_or) & pte::kUser) {
            ++counts_.user;
            report(AuditRule::kUser, leaf.va, shown | ((leaf.flags | leaf.above_or) & pte::kUser), shown & ~pte::kUser);
        }
        if (!inside_expected(leaf)) {
            ++counts_.unexpected;
            report(AuditRule::kUnexpected, leaf.va, shown, 0);
        }
    }

    void stray_entry(const StrayEntry& stray) override {
        const bool ps = stray.kind == StrayKind::kPsInPml4e;
        ++(ps ? counts_.malformed : counts_.nonzero_not_present);
        report(ps ? AuditRule::kPsInPml4e : AuditRule::kNotPresentNonZero, stray.va, stray.entry->raw(), 0);
    }
    // book:end audit-visitor

    const AuditCounts& counts() const { return counts_; }

private:
    bool inside_expected(const Leaf& leaf) const {
        for (size_t i = 0; i < count_; ++i) {
            const RegionExpectation& r = regions_[i];
            if (r.mapped && leaf.va >= r.va && leaf.end() <= r.va + r.size) return true;
        }
        return false;
    }
    void report(AuditRule rule, VirtAddr va, uint64_t found, uint64_t expected) {
        sink_.found({rule, region_of(va, regions_, count_), va, found, expected});
    }

    const RegionExpectation* regions_;
    size_t count_;
    bool no_execute_;
    FindingSink& sink_;
    AuditCounts counts_;
    PhysAddr* seen_;  // kMaxAuditTables of them
    size_t seen_count_ = 0;
};

}  // namespace

AuditCounts audit_address_space(PageTableWalker& walker, const RegionExpectation* regions, size_t region_count,
                                bool no_execute, FindingSink& sink) {
    // 8 KiB of table addresses: static rather than on the 64 KiB boot stack.
    static PhysAddr seen[kMaxAuditTables];
    GlobalAudit audit(regions, region_count, no_execute, sink, seen);
    walker.walk(audit);
    return audit.counts();
}

FindingText finding_text(const Finding& f) {
    FindingText text{};
    auto hex = [](char* out, size_t capacity, uint64_t value) {
        size_t n = 0;
        out[n++] = '0';
        out[n++] = 'x';
        int shift = 60;
        while (shift > 0 && ((value >> shift) & 0xF) == 0) shift -= 4;
        for (; shift >= 0 && n + 1 < capacity; shift -= 4) out[n++] = "0123456789abcdef"[(value >> shift) & 0xF];
        out[n] = '\0';
    };
    auto copy = [](char* out, size_t capacity, const char* s) {
        size_t n = 0;
        for (; s[n] && n + 1 < capacity; ++n) out[n] = s[n];
        out[n] = '\0';
    };
    auto flags = [](char* out, size_t capacity, uint64_t value) {
        (void)flags_summary(value, PageTableLevel::kPt, out, capacity);
    };
    switch (f.rule) {
        case AuditRule::kMapped:
            copy(text.found, sizeof(text.found), "not-present");
            flags(text.expected, sizeof(text.expected), f.expected);
            break;
        case AuditRule::kAbsent:
            flags(text.found, sizeof(text.found), f.found);
            copy(text.expected, sizeof(text.expected), "not-present");
            break;
        case AuditRule::kPageSize:
            copy(text.found, sizeof(text.found), name(static_cast<PageSize>(f.found)));
            copy(text.expected, sizeof(text.expected), name(static_cast<PageSize>(f.expected)));
            break;
        case AuditRule::kFlags:
        case AuditRule::kWritableExecutable:
        case AuditRule::kUser:
            flags(text.found, sizeof(text.found), f.found);
            flags(text.expected, sizeof(text.expected), f.expected);
            break;
        case AuditRule::kUnexpected:
            flags(text.found, sizeof(text.found), f.found);
            copy(text.expected, sizeof(text.expected), "not-present");
            break;
        case AuditRule::kNotPresentNonZero:
        case AuditRule::kPsInPml4e:
            hex(text.found, sizeof(text.found), f.found);
            hex(text.expected, sizeof(text.expected), f.expected);
            break;
        case AuditRule::kSharedTable:
            hex(text.found, sizeof(text.found), f.found);
            copy(text.expected, sizeof(text.expected), "a-new-table");
            break;
        case AuditRule::kInsideRegion:
        case AuditRule::kPhysical:
        case AuditRule::kTooManyTables:
            hex(text.found, sizeof(text.found), f.found);
            hex(text.expected, sizeof(text.expected), f.expected);
            break;
    }
    return text;
}

void LoggingFindingSink::found(const Finding& f) {
    ++count_;
    const FindingText text = finding_text(f);
    if (is_region_rule(f.rule))
        klog::error("verify").msg("region rejected").kv("name", f.region).kv("va", klog::hex(f.va.value()))
            .kv("found", text.found).kv("expected", text.expected).kv("rule", describe(f.rule));
    else
        klog::error("verify").msg("audit rejected").kv("region", f.region).kv("va", klog::hex(f.va.value()))
            .kv("found", text.found).kv("expected", text.expected).kv("rule", describe(f.rule));
}

}  // namespace mm
