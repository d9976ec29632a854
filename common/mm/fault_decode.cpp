#include "mm/fault_decode.h"

#include "mm/address_space_layout.h"
#include "mm/kernel_stacks.h"
#include "mm/phys_window.h"
#include "mm/ram_runs.h"
#include "support/str.h"

namespace mm {
namespace {

bool in(VirtAddr va, VirtAddr start, VirtAddr end) { return start <= va && va < end; }

FaultVerdict verdict(FaultCause cause, const char* region, const char* stack = nullptr) {
    FaultVerdict v;
    v.cause = cause;
    v.region = region;
    v.stack = stack;
    return v;
}

bool is_ram(const MemoryRangeList& ranges, PhysAddr pa) {
    bool found = false;
    for_each_ram_run(ranges, [&](const RamRun& run) {
        found = run.start <= pa && pa < run.end;
        return !found;
    });
    return found;
}

}  // namespace

const char* fault_cause_name(FaultCause cause) {
    switch (cause) {
        case FaultCause::kNonCanonical: return "non-canonical";
        case FaultCause::kReservedBit: return "reserved-bit";
        case FaultCause::kProtectionKey: return "protection-key";
        case FaultCause::kNullPage: return "null-page";
        case FaultCause::kGuardPage: return "guard-page";
        case FaultCause::kWriteToText: return "write-to-text";
        case FaultCause::kWriteToRodata: return "write-to-rodata";
        case FaultCause::kWriteToReadOnly: return "write-to-read-only";
        case FaultCause::kNxViolation: return "nx-violation";
        case FaultCause::kPhysWindowHole: return "phys-window-hole";
        case FaultCause::kNotMapped: return "not-mapped";
        case FaultCause::kUnknown: return "unknown";
    }
    return "?";
}

FaultAddressMap make_fault_address_map(const KernelImageLayout& image, const MemoryRangeList* ranges) {
    FaultAddressMap map;
    map.image = image;
    map.ranges = ranges;
    map.stacks[map.stack_count++] = {"boot", "guard-boot-stack", image.stack_guard, image.image_end};
    static constexpr const char* kGuardNames[kKernelStackCount] = {"guard-df-ist", "guard-pf-ist", "guard-nmi-ist",
                                                                   "guard-mc-ist"};
    for (size_t i = 0; i < kKernelStackCount; ++i) {
        const KernelStack s = kernel_stack(i);
        map.stacks[map.stack_count++] = {s.name, kGuardNames[i], s.guard, s.top};
    }
    return map;
}

const StackSpan* stack_of(VirtAddr rsp, const FaultAddressMap& map) {
    for (size_t i = 0; i < map.stack_count; ++i)
        if (in(rsp, map.stacks[i].guard, map.stacks[i].top)) return &map.stacks[i];
    return nullptr;
}

// book:begin classify-address
FaultVerdict classify_address(VirtAddr va, const FaultAddressMap& map) {
    FaultVerdict v;
    if (!va.is_canonical(map.depth)) return verdict(FaultCause::kNonCanonical, "non-canonical");
    if (va.value() < kPageSize) return verdict(FaultCause::kNullPage, "null-page");
    for (size_t i = 0; i < map.stack_count; ++i) {
        const StackSpan& s = map.stacks[i];
        if (in(va, s.guard, s.guard + kPageSize)) return verdict(FaultCause::kGuardPage, s.guard_name, s.name);
        if (in(va, s.guard + kPageSize, s.top)) return verdict(FaultCause::kUnknown, s.name);
    }
    const KernelImageGuards guards = kernel_image_guards(map.image);
    if (in(va, guards.below_image, guards.below_image + kPageSize)) return verdict(FaultCause::kGuardPage, "guard-below-image");
    if (in(va, guards.above_image, guards.above_image + kPageSize)) return verdict(FaultCause::kGuardPage, "guard-above-image");
    // The heap's first page is never mapped: its guard (kernel_heap.h, chapter 11).
    if (in(va, layout::kHeapBase, layout::kHeapBase + kPageSize)) return verdict(FaultCause::kGuardPage, "guard-heap");
    const KernelImageLayout& l = map.image;
    if (in(va, l.text_start, l.text_end)) return verdict(FaultCause::kUnknown, "text");
    if (in(va, l.rodata_start, l.rodata_end)) return verdict(FaultCause::kUnknown, "rodata");
    if (in(va, l.data_start, l.stack_guard)) return verdict(FaultCause::kUnknown, "data");
    for (const layout::Region& laid_out : layout::kRegions) {
        const layout::Region r = placed(laid_out);  // the window where this boot put it (chapter 16)
        if (!in(va, r.base, r.base + r.size)) continue;
        v.region = r.name;
        if (r.base == phys_window().base) {
            v.has_pa = true;
            v.pa = PhysAddr(va - r.base);
        }
        return v;
    }
    v.region = va.is_upper_half() ? "upper-half" : "lower-half";
    return v;
}
// book:end classify-address

// book:begin classify-page-fault
// lab:begin classify-page-fault
FaultVerdict classify_page_fault(VirtAddr va, const PageFaultError& e, const FaultAddressMap& map) {
    FaultVerdict v = classify_address(va, map);
    const bool in_text = v.region == Str("text"), in_rodata = v.region == Str("rodata");
    if (v.cause != FaultCause::kUnknown && v.cause != FaultCause::kGuardPage) return v;  // non-canonical, null page
    if (e.reserved_bit) v.cause = FaultCause::kReservedBit;  // the tables are damaged: say that first
    else if (e.protection_key) v.cause = FaultCause::kProtectionKey;
    else if (v.cause == FaultCause::kGuardPage) return v;
    else if (e.present && e.instruction_fetch) v.cause = FaultCause::kNxViolation;
    else if (e.present && e.write) v.cause = in_text ? FaultCause::kWriteToText
                                            : in_rodata ? FaultCause::kWriteToRodata : FaultCause::kWriteToReadOnly;
    else if (!e.present && v.has_pa && map.ranges && !is_ram(*map.ranges, v.pa)) v.cause = FaultCause::kPhysWindowHole;
    else if (!e.present) v.cause = FaultCause::kNotMapped;
    return v;
}
// lab:end classify-page-fault
// book:end classify-page-fault

// book:begin decode-memory-operand
MemoryOperand decode_memory_operand(const uint8_t* code, size_t length) {
    size_t i = 0;
    auto next = [&](uint8_t* out) {
        if (i >= length) return false;
        *out = code[i++];
        return true;
    };
    uint8_t byte = 0;
    // Legacy prefixes that do not change the address: operand size, LOCK,
    // REP, and the segment overrides that 64-bit mode ignores (CS DS ES SS).
    do {
        if (!next(&byte)) return {};
    } while (byte == 0x66 || byte == 0xF0 || byte == 0xF2 || byte == 0xF3 || byte == 0x2E || byte == 0x3E ||
             byte == 0x26 || byte == 0x36);
    uint8_t rex = 0;
    if ((byte & 0xF0) == 0x40) {
        rex = byte;
        if (!next(&byte)) return {};
    }
    if (byte == 0x0F) {  // two-byte opcodes: MOVZX, MOVSX, IMUL r, r/m
        if (!next(&byte) || !(byte == 0xB6 || byte == 0xB7 || byte == 0xBE || byte == 0xBF || byte == 0xAF)) return {};
    } else {
        // MOV r/m<->r, MOV r/m,imm, the ALU ops (ADD OR ADC SBB AND SUB XOR CMP) in
        // their r/m forms, group 1 with an immediate, TEST, INC/DEC/NOT/NEG groups.
        const bool alu = byte < 0x40 && (byte & 7) <= 3;
        const bool other = (byte >= 0x80 && byte <= 0x8B && byte != 0x82) || byte == 0xC6 || byte == 0xC7 ||
                           byte == 0xF6 || byte == 0xF7 || byte == 0xFE || byte == 0xFF;
        if (!alu && !other) return {};
    }
    uint8_t modrm = 0;
    if (!next(&modrm)) return {};
    const unsigned mod = modrm >> 6, rm = modrm & 7;
    if (mod == 3) return {};  // a register operand: no address
    MemoryOperand op;
    bool disp32 = mod == 2;
    if (rm == 4) {  // SIB follows
        uint8_t sib = 0;
        if (!next(&sib)) return {};
        op.scale = uint8_t(1u << (sib >> 6));
        const int index = ((sib >> 3) & 7) | ((rex & 0x2) << 2);
        op.index = index == 4 ? -1 : index;  // index 4 without REX.X means none
        if ((sib & 7) == 5 && mod == 0) disp32 = true;  // no base, disp32
        else op.base = (sib & 7) | ((rex & 0x1) << 3);
    } else if (rm == 5 && mod == 0) {
        return {};  // RIP-relative: the address is near the code, always canonical
    } else {
        op.base = int(rm) | ((rex & 0x1) << 3);
    }
    if (mod == 1) {
        uint8_t d = 0;
        if (!next(&d)) return {};
        op.displacement = int8_t(d);
    } else if (disp32) {
        uint32_t d = 0;
        for (unsigned k = 0; k < 4; ++k) {
            if (!next(&byte)) return {};
            d |= uint32_t(byte) << (8 * k);
        }
        op.displacement = int32_t(d);
    }
    op.ok = true;
    return op;
}
// book:end decode-memory-operand

uint64_t effective_address(const MemoryOperand& op, const uint64_t (&registers)[16]) {
    uint64_t address = uint64_t(op.displacement);
    if (op.base >= 0) address += registers[op.base];
    if (op.index >= 0) address += registers[op.index] * op.scale;
    return address;
}

const char* register_name(int number) {
    static constexpr const char* kNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                               "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    return number >= 0 && number < 16 ? kNames[number] : "none";
}

}  // namespace mm
