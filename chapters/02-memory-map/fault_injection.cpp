#include "fault_injection.h"

#include "kernel/kernel.h"
#include "mm/memory_map_log.h"
#include "kernel/panic.h"
#include "support/log.h"

namespace {

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
bool make_corrupted_copy(const boot::BootHandoff& real, const uint8_t* real_map, Str how) {
    // The copy is checked like any input: it must fit the buffer.
    if (real.memory_map_size > sizeof(g_map_copy) || real.descriptor_size < sizeof(boot::EfiMemoryDescriptor))
        kernel::panic("test.corrupt needs a well-formed map to damage");
    g_handoff_copy = real;
    __builtin_memcpy(g_map_copy, real_map, real.memory_map_size);
    if (!corrupt_copy(how, g_handoff_copy)) return false;
    klog::warn("memmap").msg("validating a corrupted copy of the handoff").kv("corruption", how);
    return true;
}


// test.corrupt=all: every kind of damage in turn, each on fresh copies and
// through the same load_boot_memory() as the real handoff, so that one boot
// shows every rejection by name. The boot then ends with the failure code,
// as a single bad input ends it; a damage that was let through is an error.
[[noreturn]] void reject_every_corruption(const boot::BootHandoff& real, const uint8_t* real_map,
                                         mm::BootMemory& memory) {
    const mm::PhysAddr handoff_address(reinterpret_cast<uint64_t>(&real));
    uint64_t accepted = 0;
    for (Str how : kCorruptions) {
        const bool known = make_corrupted_copy(real, real_map, how);
        KASSERT(known);  // kCorruptions lists only names corrupt_copy() knows
        if (Violation v = mm::load_boot_memory(g_handoff_copy, handoff_address, g_map_copy, &memory); !v.ok()) {
            mm::log_rejection("memmap", "handoff", v);
        } else {
            klog::error("memmap").msg("corruption accepted").kv("corruption", how);
            ++accepted;
        }
    }
    klog::info("memmap").msg("every corruption tried").kv("kinds", uint64_t(sizeof(kCorruptions) / sizeof(Str)))
        .kv("accepted", accepted);
    kernel::fail();
}

}  // namespace

const boot::BootHandoff& corrupted_if_requested(const boot::BootHandoff& real, const uint8_t** map,
                                                mm::BootMemory& memory) {
    const Str how = kernel::command_line().value("test.corrupt");
    if (how.empty()) return real;
    if (how == Str("all")) reject_every_corruption(real, *map, memory);
    if (!make_corrupted_copy(real, *map, how)) {
        klog::error("memmap").msg("unknown test.corrupt").kv("value", how);
        kernel::fail();
    }
    *map = g_map_copy;
    return g_handoff_copy;
}
