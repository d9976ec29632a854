#include "mm/address_space_audit.h"

#include "mm/address_space_layout.h"
#include "mm/phys_window.h"
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
    for (const layout::Region& laid_out : layout::kRegions) {
        const layout::Region r = placed(laid_out);
        if (va >= r.base && va - r.base < r.size) return r.name;
    }
    return va.is_upper_half() ? "upper-half" : "lower-half";
}

AuditRule rule_for(StrayKind kind) {
    if (kind == StrayKind::kPsInPml5e) return AuditRule::kPsInPml5e;
    return kind == StrayKind::kPsInPml4e ? AuditRule::kPsInPml4e : AuditRule::kNotPresentNonZero;
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
        case AuditRule::kPsInPml5e: return "PS is reserved in a PML5 entry";
        case AuditRule::kSharedTable: return "no table may be reachable twice";
        case AuditRule::kTooManyTables: return "too many tables to audit";
        case AuditRule::kUnexpected: return "every mapped page must belong to an expected region";
        case AuditRule::kFrameWritableExecutable:
            return "no frame may be writable through one address and executable through another";
        case AuditRule::kFrameMemoryTypes: return "no frame may have two memory types";
        case AuditRule::kTooManyFrameRanges: return "too many frame ranges to audit";
    }
    return "?";
}

// book:begin check-region
RegionResult check_region(PageTableWalker& walker, const RegionExpectation& region, CpuPagingFeatures cpu,
                          FindingSink& sink) {
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
        // The page PageTableBuilder::map_range picks for this address under the policy, on this CPU.
        const PageSize size = largest_page_size(va, pa, end - va, region.policy, cpu.pages_1gib);
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
        const bool ps = stray.kind != StrayKind::kNotPresentNonZero;
        ++(ps ? counts_.malformed : counts_.nonzero_not_present);
        report(rule_for(stray.kind), stray.va, stray.entry->raw(), 0);
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

// ---- the per-frame rules ------------------------------------------------------

// Frames [start, end) that one kind of leaf maps: executable ones, or ones of
// a memory type other than write-back (`type`). `va` is the first leaf's.
struct FrameRange {
    PhysAddr start, end;
    VirtAddr va;
    uint8_t type;
};

class FrameRanges {
public:
    explicit FrameRanges(FrameRange* storage) : items_(storage) {}

    // Merges with the last range when the frames and the type continue it.
    bool add(PhysAddr start, PhysAddr end, VirtAddr va, uint8_t type) {
        if (count_ != 0 && items_[count_ - 1].end == start && items_[count_ - 1].type == type) {
            items_[count_ - 1].end = end;
            return true;
        }
        if (count_ == kMaxFrameRanges) return false;
        items_[count_++] = {start, end, va, type};
        return true;
    }
    // The first range overlapping [start, end) for which pick(range) holds.
    template <typename Pick>
    const FrameRange* overlapping(PhysAddr start, PhysAddr end, Pick&& pick) const {
        for (size_t i = 0; i < count_; ++i)
            if (items_[i].start < end && start < items_[i].end && pick(items_[i])) return &items_[i];
        return nullptr;
    }

private:
    FrameRange* items_;
    size_t count_ = 0;
};

// Each table once: a table reachable twice (reported by the global audit) is
// not walked again, so no damaged table set can make a pass run long.
class TablesOnce : public PageTableVisitor {
public:
    explicit TablesOnce(PhysAddr* seen) : seen_(seen) {}
    bool enter_table(const TableVisit& table) override {
        for (size_t i = 0; i < seen_count_; ++i)
            if (seen_[i] == table.frame) return false;
        if (seen_count_ == kMaxAuditTables) return false;
        seen_[seen_count_++] = table.frame;
        return true;
    }

protected:
    ~TablesOnce() = default;

private:
    PhysAddr* seen_;
    size_t seen_count_ = 0;
};

bool executable(const Leaf& leaf) { return (effective_flags(leaf) & pte::kNoExecute) == 0; }
bool writable(const Leaf& leaf) { return (effective_flags(leaf) & pte::kWritable) != 0; }

// Pass 1: the frames of every executable leaf and of every leaf that is not WB.
class FrameCollector final : public TablesOnce {
public:
    FrameCollector(PhysAddr* seen, FrameRange* executable, FrameRange* typed, bool no_execute, AuditCounts& counts,
                   FindingSink& sink, const RegionExpectation* regions, size_t count)
        : TablesOnce(seen), executable_(executable), typed_(typed), no_execute_(no_execute), counts_(counts),
          sink_(sink), regions_(regions), count_(count) {}

    void leaf(const Leaf& leaf) override {
        const PhysAddr end = leaf.pa + bytes(leaf.size);
        if (no_execute_ && executable(leaf) && !executable_.add(leaf.pa, end, leaf.va, 0)) full(leaf);
        const uint8_t type = leaf_memory_type(leaf);
        if (type != pat::kWriteBack && !typed_.add(leaf.pa, end, leaf.va, type)) full(leaf);
    }

    const FrameRanges& executable_frames() const { return executable_; }
    const FrameRanges& typed_frames() const { return typed_; }

private:
    void full(const Leaf& leaf) {
        ++counts_.untracked;
        sink_.found({AuditRule::kTooManyFrameRanges, region_of(leaf.va, regions_, count_), leaf.va, leaf.pa.value(),
                     kMaxFrameRanges});
    }

    FrameRanges executable_, typed_;
    bool no_execute_;
    AuditCounts& counts_;
    FindingSink& sink_;
    const RegionExpectation* regions_;
    size_t count_;
};

// book:begin frame-rules
// Pass 2: every leaf against those frames. A writable leaf must not reach a
// frame another leaf executes (a leaf both writable and executable itself is
// the per-page rule's); a leaf must not reach a frame another leaf gives
// another memory type.
class FrameRules final : public TablesOnce {
public:
    FrameRules(PhysAddr* seen, const FrameCollector& frames, bool no_execute, AuditCounts& counts,
               FindingSink& sink, const RegionExpectation* regions, size_t count)
        : TablesOnce(seen), frames_(frames), no_execute_(no_execute), counts_(counts), sink_(sink),
          regions_(regions), count_(count) {}

    void leaf(const Leaf& leaf) override {
        const PhysAddr end = leaf.pa + bytes(leaf.size);
        if (no_execute_ && writable(leaf) && !executable(leaf)) {
            auto any = [](const FrameRange&) { return true; };
            if (const FrameRange* x = frames_.executable_frames().overlapping(leaf.pa, end, any)) {
                ++counts_.frame_wx;
                const PhysAddr frame = x->start > leaf.pa ? x->start : leaf.pa;
                report(AuditRule::kFrameWritableExecutable, leaf, frame.value(), x->va.value() + (frame - x->start));
            }
        }
        const uint8_t type = leaf_memory_type(leaf);
        auto other_type = [type](const FrameRange& r) { return r.type != type; };
        if (const FrameRange* t = frames_.typed_frames().overlapping(leaf.pa, end, other_type)) {
            ++counts_.frame_types;
            report(AuditRule::kFrameMemoryTypes, leaf, type, t->type);
        }
    }
    // book:end frame-rules

private:
    void report(AuditRule rule, const Leaf& leaf, uint64_t found, uint64_t expected) {
        sink_.found({rule, region_of(leaf.va, regions_, count_), leaf.va, found, expected});
    }

    const FrameCollector& frames_;
    bool no_execute_;
    AuditCounts& counts_;
    FindingSink& sink_;
    const RegionExpectation* regions_;
    size_t count_;
};

}  // namespace

uint8_t leaf_memory_type(const Leaf& leaf) { return pat::entry(kPatValue, pat_index(leaf.flags, leaf.size)); }

const char* pat_type_name(uint8_t type) {
    switch (type) {
        case pat::kUncacheable: return "UC";
        case pat::kWriteCombining: return "WC";
        case pat::kWriteThrough: return "WT";
        case pat::kWriteProtected: return "WP";
        case pat::kWriteBack: return "WB";
        case pat::kUncacheableMinus: return "UC-";
    }
    return "reserved";
}

AuditCounts audit_address_space(PageTableWalker& walker, const RegionExpectation* regions, size_t region_count,
                                bool no_execute, FindingSink& sink) {
    // 8 KiB of table addresses and 3 KiB of frame ranges: static rather than
    // on the 64 KiB boot stack. Each pass starts the table list afresh.
    static PhysAddr seen[kMaxAuditTables];
    static FrameRange executable_frames[kMaxFrameRanges], typed_frames[kMaxFrameRanges];
    GlobalAudit audit(regions, region_count, no_execute, sink, seen);
    walker.walk(audit);
    AuditCounts counts = audit.counts();
    FrameCollector frames(seen, executable_frames, typed_frames, no_execute, counts, sink, regions, region_count);
    walker.walk(frames);
    FrameRules rules(seen, frames, no_execute, counts, sink, regions, region_count);
    walker.walk(rules);
    return counts;
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
        case AuditRule::kPsInPml5e:
            hex(text.found, sizeof(text.found), f.found);
            hex(text.expected, sizeof(text.expected), f.expected);
            break;
        case AuditRule::kSharedTable:
            hex(text.found, sizeof(text.found), f.found);
            copy(text.expected, sizeof(text.expected), "a-new-table");
            break;
        case AuditRule::kFrameMemoryTypes:
            copy(text.found, sizeof(text.found), pat_type_name(uint8_t(f.found)));
            copy(text.expected, sizeof(text.expected), pat_type_name(uint8_t(f.expected)));
            break;
        case AuditRule::kInsideRegion:
        case AuditRule::kPhysical:
        case AuditRule::kTooManyTables:
        case AuditRule::kFrameWritableExecutable:
        case AuditRule::kTooManyFrameRanges:
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
        klog::error("verify").msg("region rejected").kv("name", f.region).kv("va", klog::hex(f.va))
            .kv("found", text.found).kv("expected", text.expected).kv("rule", describe(f.rule));
    else
        klog::error("verify").msg("audit rejected").kv("region", f.region).kv("va", klog::hex(f.va))
            .kv("found", text.found).kv("expected", text.expected).kv("rule", describe(f.rule));
}

}  // namespace mm
