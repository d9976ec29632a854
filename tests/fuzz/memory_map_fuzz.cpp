// Fuzz target: the handoff's memory map, from validation through the range
// list to the boot frame allocator. An accepted map must normalise into
// sorted, disjoint ranges that cover exactly its descriptors; only a RAM type
// with the WB attribute may become RAM, and a descriptor refused by name never
// does; and every frame the allocator then hands out must be usable memory
// above 1 MiB, once.
#include <cstdint>
#include <cstring>
#include <vector>

#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "fuzz_check.h"
#include "mm/ram_runs.h"

using namespace mm;

namespace {

// Input: a small header choosing the map's geometry, then the map bytes.
struct Header {
    uint32_t descriptor_size;
    uint32_t descriptor_version;
    uint32_t map_size;
    uint32_t slack;  // capacity beyond map_size
    uint64_t loader_fields[6];  // kernel base/size, bootstrap pml4, stack base/size, handoff address
};

// The UEFI types that may be RAM (and our loader's), listed again here.
bool is_ram_type(uint32_t type) {
    switch (type) {
        case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 9: case 10:  // loader, boot, runtime, conventional, ACPI
        case 0x80000001: case 0x80000002: case 0x80000003: case 0x80000004: return true;
        default: return false;
    }
}

void check_ranges(const MemoryDescriptorView& view, const MemoryRangeList& ranges) {
    uint64_t described = 0, listed = 0;
    for (size_t i = 0; i < view.count(); ++i) {
        const MemoryDescriptor d = view.at(i);
        PhysAddr end;
        FUZZ_CHECK(d.end(&end));
        described += end - d.physical_start();
        const MemoryRange* r = ranges.find(d.physical_start());
        FUZZ_CHECK(r != nullptr && r->kind == range_kind_of(d) && r->contains(PhysAddr(end.value() - 1)));
        const bool ram_type_with_wb = is_ram_type(d.type_code()) && (d.attributes() & boot::kEfiMemoryWb) != 0;
        FUZZ_CHECK(is_ram(*r) == ram_type_with_wb);
        if (classify_descriptor(d).refusal != nullptr) FUZZ_CHECK(!is_ram(*r));
    }
    for (size_t i = 0; i < ranges.count(); ++i) {
        FUZZ_CHECK(ranges[i].start < ranges[i].end);
        listed += ranges[i].size();
        if (i > 0) {
            FUZZ_CHECK(ranges[i - 1].end <= ranges[i].start);
            FUZZ_CHECK(!(ranges[i - 1].end == ranges[i].start && ranges[i - 1].kind == ranges[i].kind));  // merged
        }
    }
    FUZZ_CHECK(listed == described);  // no overlaps, so the two sums agree exactly
}

void check_allocator(const MemoryRangeList& ranges) {
    static BootFrameAllocator frames;
    frames.init(ranges);
    const uint64_t total = frames.frames_remaining() + frames.reserve_len();
    PhysAddr previous;
    bool first = true;
    for (int i = 0; i < 20000; ++i) {
        const FrameResult r = frames.alloc_frame();
        if (!r.ok()) {
            FUZZ_CHECK(frames.frames_remaining() == 0);
            break;
        }
        const PhysAddr f = r.frame();
        FUZZ_CHECK(f.is_aligned(kPageSize) && f >= BootFrameAllocator::kLowestFrame);
        const MemoryRange* range = ranges.find(f);
        FUZZ_CHECK(range != nullptr && range->kind == RangeKind::kUsable && range->contains(f + (kPageSize - 1)));
        FUZZ_CHECK(first || previous < f);  // ascending, hence never the same frame twice
        FUZZ_CHECK(frames.was_handed_out(f));
        previous = f;
        first = false;
    }
    FUZZ_CHECK(frames.frames_handed_out() + frames.frames_remaining() == total);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Header header{};
    std::memcpy(&header, data, size < sizeof(header) ? size : sizeof(header));
    const size_t skip = size < sizeof(header) ? size : sizeof(header);
    std::vector<uint8_t> map(data + skip, data + size);
    map.resize(map.size() + header.slack % 4096);

    boot::BootHandoff handoff{};
    handoff.magic = boot::kHandoffMagic;
    handoff.version = boot::kHandoffVersion;
    handoff.size = sizeof(boot::BootHandoff);
    handoff.memory_map = map.empty() ? 0 : reinterpret_cast<uint64_t>(map.data());
    handoff.memory_map_size = header.map_size;
    handoff.memory_map_capacity = map.size();
    handoff.descriptor_size = header.descriptor_size;
    handoff.descriptor_version = header.descriptor_version;
    handoff.kernel_physical_base = header.loader_fields[0];
    handoff.kernel_size = header.loader_fields[1];
    handoff.bootstrap_pml4 = header.loader_fields[2];
    handoff.boot_stack_base = header.loader_fields[3];
    handoff.boot_stack_size = header.loader_fields[4];

    static BootMemory memory;  // large: keep it off the stack
    const Violation v = load_boot_memory(handoff, PhysAddr(header.loader_fields[5]), map.data(), &memory);
    FUZZ_CHECK(v.ok() || (v.field != nullptr && v.rule != nullptr));
    if (!validate_handoff(handoff, map.data()).ok()) {
        FUZZ_CHECK(!v.ok());  // what validation refuses, load_boot_memory refuses too
        return 0;
    }
    // Valid map: the loader objects may still be rejected (they are fuzzed
    // too), or the ranges may not fit; the ranges are checked either way.
    memory.descriptors = MemoryDescriptorView(map.data(), handoff.memory_map_size, handoff.descriptor_size);
    if (!memory.ranges.build(memory.descriptors).ok()) return 0;
    check_ranges(memory.descriptors, memory.ranges);
    check_allocator(memory.ranges);
    return 0;
}
