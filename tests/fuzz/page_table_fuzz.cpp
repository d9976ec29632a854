// Fuzz target: PageTableBuilder over a fake physical memory, driven by a
// sequence of map requests, after a first byte whose bit 0 gives the builder
// 1 GiB pages. After every call: a refusal changed nothing; a success maps
// exactly what was asked with the policy's flags, used exactly the tables it
// counted, left every earlier mapping intact, used no 1 GiB page on a CPU
// without them, and, under a policy that carries MTRRs, never made a large page over two MTRR types.
#include <cstdint>
#include <vector>

#include "fake_physical_memory.h"
#include "fuzz_check.h"
#include "mm/page_table_builder.h"
#include "mm/page_table_lookup.h"

using namespace mm;

namespace {

struct Mapping {
    VirtAddr va;
    PhysAddr pa;
    uint64_t length;
    uint64_t flags;
};

// A few windows where requests collide often, plus raw values now and then
// (which are mostly non-canonical or misaligned and must be refused).
VirtAddr shape_va(uint64_t raw, uint8_t selector) {
    static constexpr uint64_t kBases[] = {0x0, 0x4000'0000, 0xFFFF'8000'0000'0000ull, 0xFFFF'FFFF'8000'0000ull};
    if (selector % 8 == 7) return VirtAddr(raw);
    return VirtAddr(kBases[selector % 4] + (raw & 0x3'FFFF'F000ull));  // up to 16 GiB in
}

// MTRRs with type changes where the fuzzed windows are: WB by default, UC
// over [1.25 GiB, 1.5 GiB) and over one page at 2 GiB + 2 MiB + 4 KiB, WT
// over [4 MiB, 6 MiB); the first MiB WB below 640 KiB, UC above.
const MtrrState& fuzz_mtrrs() {
    static const MtrrState state = [] {
        MtrrState s;
        s.present = s.enabled = s.fixed_supported = s.fixed_enabled = true;
        s.default_type = mtrr_type::kWriteBack;
        s.physical_address_bits = 40;
        for (size_t i = 0; i < MtrrState::kFixedRanges; ++i)
            s.fixed[i] = mtrr_fixed_start(i) < 0xA'0000 ? mtrr_type::kWriteBack : mtrr_type::kUncacheable;
        const uint64_t mask = 0xFF'FFFF'F000ull;
        s.variable[s.variable_count++] = {0x5000'0000, mask & ~(256 * MiB - 1), mtrr_type::kUncacheable, 0};
        s.variable[s.variable_count++] = {0x8020'1000, mask, mtrr_type::kUncacheable, 1};
        s.variable[s.variable_count++] = {0x40'0000, mask & ~(2 * MiB - 1), mtrr_type::kWriteThrough, 2};
        return s;
    }();
    return state;
}

MappingPolicy with_mtrrs(MappingPolicy policy) {
    policy.mtrrs = &fuzz_mtrrs();
    return policy;
}

MappingPolicy capped_at_2mib(MappingPolicy policy) {
    policy.max_page_size = PageSize::k2MiB;
    return policy;
}

const MappingPolicy& shape_policy(uint8_t selector) {
    static const MappingPolicy kPolicies[] = {
        kKernelTextPolicy, kKernelRodataPolicy, kKernelDataPolicy,
        phys_window_policy(), capped_at_2mib(phys_window_policy()), identity_low_memory_policy(),
        with_mtrrs(phys_window_policy()), with_mtrrs(capped_at_2mib(identity_low_memory_policy())),
    };
    return kPolicies[selector % 8];
}

// A large leaf under MTRRs: its span has one type, and so do 64 of its
// pages spread over it, each read on its own.
void expect_one_mtrr_type(const MtrrState& mtrrs, PhysAddr leaf, PageSize size) {
    FUZZ_CHECK(mtrrs.span_type(leaf, bytes(size)).uniform);
    const uint8_t first = mtrrs.type_at(leaf);
    for (uint64_t i = 1; i <= 64; ++i)
        FUZZ_CHECK(mtrrs.type_at(PhysAddr(leaf.value() + align_down(bytes(size) / 64 * i - 1, kPageSize))) == first);
}

void expect_mapped(PhysAddr pml4, FakePhysicalMemory& memory, const Mapping& m, const MappingPolicy* policy,
                   bool cpu_has_1gib_pages) {
    const uint64_t offsets[] = {0, m.length / 2 & ~0xFFFull, m.length - kPageSize};
    for (uint64_t offset : offsets) {
        const Translation t = translate(pml4, memory, m.va + offset);
        FUZZ_CHECK(t.present);
        FUZZ_CHECK(t.pa == m.pa + offset);
        FUZZ_CHECK((t.flags & ~x86::pte::kHugePage & ~(x86::pte::kAccessed | x86::pte::kDirty)) == m.flags);
        if (policy) FUZZ_CHECK(bytes(t.page_size) <= bytes(policy->max_page_size));
        FUZZ_CHECK(cpu_has_1gib_pages || t.page_size != PageSize::k1GiB);
        if (policy && policy->mtrrs && t.page_size != PageSize::k4KiB)
            expect_one_mtrr_type(*policy->mtrrs, PhysAddr(align_down(t.pa.value(), bytes(t.page_size))), t.page_size);
    }
}

// The bytes of every table frame handed out so far: the only memory the
// builder may write. (A snapshot of all the fake RAM is exact but slow.)
std::vector<unsigned char> tables_snapshot(FakePhysicalMemory& memory, const FakeFrameSource& frames) {
    std::vector<unsigned char> out;
    for (PhysAddr frame : frames.handed_out()) {
        const auto* bytes = reinterpret_cast<const unsigned char*>(memory.table_at(frame));
        out.insert(out.end(), bytes, bytes + kPageSize);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FakePhysicalMemory memory(PhysAddr(0x10'0000'0000ull), 96);
    FakeFrameSource frames(memory);
    const FrameResult pml4 = PageTableBuilder::create_pml4(memory, frames);
    FUZZ_CHECK(pml4.ok());
    // The CPU's 1 GiB support: the input's first byte, set once for the run, as in the kernel.
    const bool cpu_has_1gib_pages = size > 0 && (take<uint8_t>(data, size) & 1) != 0;
    PageTableBuilder builder(pml4.frame(), memory, frames, cpu_has_1gib_pages);
    std::vector<Mapping> done;

    for (int request = 0; request < 16 && size > 0; ++request) {
        const uint64_t raw_va = take<uint64_t>(data, size);
        const uint64_t raw_pa = take<uint64_t>(data, size);
        const uint16_t raw_length = take<uint16_t>(data, size);
        const uint8_t selector = take<uint8_t>(data, size);
        const uint8_t policy_selector = take<uint8_t>(data, size);

        const VirtAddr va = shape_va(raw_va, selector);
        const PhysAddr pa = selector & 0x40 ? PhysAddr(raw_pa) : PhysAddr(raw_pa & 0xFF'FFFF'F000ull);
        // Mostly whole pages; in 2 MiB units now and then, so large pages
        // appear. Bounded so that a 4 KiB walk stays fast (64 MiB at most).
        // 1 GiB units when both addresses are 2 MiB-aligned, so 1 GiB pages appear too.
        uint64_t length = selector & 0x20 ? uint64_t(raw_length % 32) * 2 * MiB : uint64_t(raw_length % 4096) * kPageSize;
        if ((selector & 0x10) && va.is_aligned(2 * MiB) && pa.is_aligned(2 * MiB)) length = uint64_t(raw_length % 3 + 1) * GiB;
        const MappingPolicy& policy = shape_policy(policy_selector);

        const std::vector<unsigned char> before = tables_snapshot(memory, frames);
        const size_t frames_before = frames.handed_out().size();
        const MapResult result = builder.map_range(va, pa, length, policy);
        if (!result.ok()) {
            FUZZ_CHECK(tables_snapshot(memory, frames) == before);  // all or nothing
            FUZZ_CHECK(frames.handed_out().size() == frames_before);
            FUZZ_CHECK(result.mapped == MapStats{});
        } else {
            FUZZ_CHECK(result.mapped.bytes_mapped() == length);
            FUZZ_CHECK(frames.handed_out().size() - frames_before == result.mapped.tables_created);
            const Mapping m{va, pa, length, policy.leaf_flags};
            expect_mapped(builder.root(), memory, m, &policy, cpu_has_1gib_pages);
            done.push_back(m);
        }
        for (const Mapping& earlier : done) expect_mapped(builder.root(), memory, earlier, nullptr, cpu_has_1gib_pages);
    }
    return 0;
}
