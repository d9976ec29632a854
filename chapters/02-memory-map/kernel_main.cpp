// Chapter 02: which memory is ours? Read the firmware's memory map.
//
// Before the kernel may allocate a single frame it must know what RAM exists
// and who owns it. The loader handed over the final UEFI memory map; this
// chapter validates it (and the handoff around it), prints it, and normalises
// it into the sorted range list every later chapter allocates from.
#include "boot/handoff.h"
#include "boot_memory.h"
#include "kernel.h"
#include "memory_map_log.h"
#include "panic.h"
#include "support/log.h"

namespace {

// The bootstrap tables identity-map all RAM, so a physical address is also a
// pointer until chapter 08 moves everything to the phys-offset window.
const uint8_t* identity_pointer(uint64_t physical) { return reinterpret_cast<const uint8_t*>(physical); }

mm::BootMemory g_memory;  // in .bss: the range list is too big for the stack

// ---- test.corrupt=…: bad input on purpose ----------------------------------
// The kernel damages a *copy* of the handoff and its map, then runs the same
// validation the real handoff goes through. Tests use it to prove that each
// kind of damage is rejected with its own named rule (tests/test_02_*.py).

alignas(8) uint8_t g_map_copy[mm::kMaxMemoryDescriptors * 64];
boot::BootHandoff g_handoff_copy;

boot::EfiMemoryDescriptor read_descriptor(uint64_t index, uint32_t stride) {
    boot::EfiMemoryDescriptor d;
    __builtin_memcpy(&d, g_map_copy + index * stride, sizeof(d));
    return d;
}
void write_descriptor(uint64_t index, uint32_t stride, const boot::EfiMemoryDescriptor& d) {
    __builtin_memcpy(g_map_copy + index * stride, &d, sizeof(d));
}

// book:begin corrupt-copy
// Returns false when `how` names no corruption we know.
bool corrupt_copy(Str how, boot::BootHandoff& h) {
    const uint32_t stride = h.descriptor_size;
    const uint64_t count = h.memory_map_size / stride;
    boot::EfiMemoryDescriptor d = read_descriptor(count - 1, stride);
    if (how == Str("descriptor-size")) h.descriptor_size = sizeof(boot::EfiMemoryDescriptor) - 16;
    else if (how == Str("descriptor-stride")) h.descriptor_size = sizeof(boot::EfiMemoryDescriptor) + 4;
    else if (how == Str("map-size")) h.memory_map_size -= 8;
    else if (how == Str("null-map")) h.memory_map = 0;
    else if (how == Str("version")) h.version += 1;
    else if (how == Str("overlap")) {
        // The last descriptor claims the first one's start.
        d.physical_start = read_descriptor(0, stride).physical_start;
        write_descriptor(count - 1, stride, d);
    } else if (how == Str("overflow")) {
        d.number_of_pages = ~uint64_t(0) / kPageSize;  // start + pages * 4 KiB wraps past 2^64
        write_descriptor(count - 1, stride, d);
    } else if (how == Str("misaligned")) {
        d.physical_start += 0x800;
        write_descriptor(count - 1, stride, d);
    } else {
        return false;
    }
    return true;
}
// book:end corrupt-copy

// Every kind of damage corrupt_copy() knows, in the order test.corrupt=all applies them.
constexpr Str kCorruptions[] = {"descriptor-size", "descriptor-stride", "map-size", "null-map",
                                "version",         "overlap",           "overflow", "misaligned"};

// Fresh copies of the real handoff and its map, damaged as `how` says.
// Returns false when `how` names no corruption we know.
bool make_corrupted_copy(const boot::BootHandoff& real, Str how) {
    // The copy is checked like any input: it must fit the buffer.
    if (real.memory_map_size > sizeof(g_map_copy) || real.descriptor_size < sizeof(boot::EfiMemoryDescriptor))
        kernel::panic("test.corrupt needs a well-formed map to damage");
    g_handoff_copy = real;
    __builtin_memcpy(g_map_copy, identity_pointer(real.memory_map), real.memory_map_size);
    if (!corrupt_copy(how, g_handoff_copy)) return false;
    klog::warn("memmap").msg("validating a corrupted copy of the handoff").kv("corruption", how);
    return true;
}

[[noreturn]] void reject(const Violation& violation) {
    mm::log_rejection("memmap", "handoff", violation);
    kernel::exit_kernel(boot::ExitCode::kFailure);
}

// test.corrupt=all: every kind of damage in turn, each on fresh copies and
// through the same load_boot_memory() as the real handoff, so that one boot
// shows every rejection by name. The boot then ends with the failure code,
// as a single bad input ends it; a damage that was let through is an error.
[[noreturn]] void reject_every_corruption(const boot::BootHandoff& real) {
    const mm::PhysAddr handoff_address(reinterpret_cast<uint64_t>(&real));
    uint64_t accepted = 0;
    for (Str how : kCorruptions) {
        const bool known = make_corrupted_copy(real, how);
        KASSERT(known);  // kCorruptions lists only names corrupt_copy() knows
        if (Violation v = mm::load_boot_memory(g_handoff_copy, handoff_address, g_map_copy, &g_memory); !v.ok()) {
            mm::log_rejection("memmap", "handoff", v);
        } else {
            klog::error("memmap").msg("corruption accepted").kv("corruption", how);
            ++accepted;
        }
    }
    klog::info("memmap").msg("every corruption tried").kv("kinds", uint64_t(sizeof(kCorruptions) / sizeof(Str)))
        .kv("accepted", accepted);
    kernel::exit_kernel(boot::ExitCode::kFailure);
}

// Which handoff and map the chapter goes on with: the real ones, or damaged copies.
const boot::BootHandoff& select_handoff(const boot::BootHandoff& real, const uint8_t** map) {
    *map = identity_pointer(real.memory_map);
    const Str how = kernel::command_line().value("test.corrupt");
    if (how.empty()) return real;
    if (how == Str("all")) reject_every_corruption(real);
    if (!make_corrupted_copy(real, how)) {
        klog::error("memmap").msg("unknown test.corrupt").kv("value", how);
        kernel::exit_kernel(boot::ExitCode::kFailure);
    }
    *map = g_map_copy;
    return g_handoff_copy;
}

// ---- the chapter's sequence --------------------------------------------------

void log_loader_objects(const mm::BootMemory& memory) {
    for (const mm::LoaderObject& o : memory.loader_objects)
        klog::info("memmap").msg("loader object").kv("name", o.name).kv("start", klog::hex(o.start.value()))
            .kv("size", klog::size(o.size)).kv("kind", mm::range_kind_name(o.expected_kind));
}

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& real_handoff) {
    const uint8_t* map = nullptr;
    const boot::BootHandoff& handoff = select_handoff(real_handoff, &map);
    const mm::PhysAddr handoff_address(reinterpret_cast<uint64_t>(&real_handoff));

    if (Violation v = mm::load_boot_memory(handoff, handoff_address, map, &g_memory); !v.ok()) reject(v);
    klog::info("memmap").msg("handoff valid").kv("descriptors", uint64_t(g_memory.descriptors.count()))
        .kv("descriptor-size", handoff.descriptor_size);
    mm::log_descriptors(g_memory.descriptors);
    (void)mm::log_refused_descriptors(g_memory.descriptors);
    mm::log_ranges(g_memory.ranges);
    mm::log_totals(g_memory.ranges);
    log_loader_objects(g_memory);
}
// book:end kernel-main
