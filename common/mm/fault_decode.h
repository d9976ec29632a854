// Fault decoding: what a page fault's error code says, and what the faulting
// address is (chapter 10). Pure functions of their inputs, so the host tests
// hold them against a table of cases; the kernel's handlers only print them.
//
// The page-fault error code (SDM Vol. 3A, 4.7, Figure 4-12):
//
//   bit 0  P     0: the page was not present; 1: a protection violation
//   bit 1  W/R   the access was a write
//   bit 2  U/S   the access came from user mode (CPL 3)
//   bit 3  RSVD  a reserved bit was set in some paging-structure entry
//   bit 4  I/D   the access was an instruction fetch (NX or SMEP)
//   bit 5  PK    a protection key forbade it
//   bit 6  SS    a shadow-stack access
//   bit 15 SGX   an SGX access-control violation
//
// CR2 holds the linear address. The classification names the likely cause:
// the null page, the guard page of *which* stack, a write to the kernel's
// text or rodata, an instruction fetch from an NX page, a hole in the
// phys-offset window (an address whose physical page is not RAM), or an
// address that is not canonical (that one is a #GP, not a #PF: CR2 stays as
// it was, and the #GP handler asks about a register's value instead).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/paging_depth.h"
#include "mm/kernel_image_span.h"
#include "mm/memory_ranges.h"
#include "mm/phys_addr.h"
#include "mm/virt_addr.h"

namespace mm {

// book:begin page-fault-error
struct PageFaultError {
    bool present;            // P
    bool write;              // W/R
    bool user;               // U/S
    bool reserved_bit;       // RSVD
    bool instruction_fetch;  // I/D
    bool protection_key;     // PK
    bool shadow_stack;       // SS
    bool sgx;                // SGX
};

constexpr PageFaultError decode_page_fault_error(uint64_t code) {
    auto bit = [code](unsigned n) { return ((code >> n) & 1) != 0; };
    return {bit(0), bit(1), bit(2), bit(3), bit(4), bit(5), bit(6), bit(15)};
}

// One word for the kind of access: an instruction fetch is neither a read
// nor a write to the page's data, so I/D wins over W/R.
constexpr const char* access_name(const PageFaultError& e) {
    return e.instruction_fetch ? "execute" : e.write ? "write" : "read";
}
// book:end page-fault-error

enum class FaultCause : uint8_t {
    kNonCanonical,     // bits 63..47 are not all equal: #GP (or #SS), never translated
    kReservedBit,      // RSVD: a damaged paging-structure entry
    kProtectionKey,    // PK
    kNullPage,         // below 4 KiB: a null pointer plus a small offset
    kGuardPage,        // a page left unmapped below a stack or around the image
    kWriteToText,      // a write to present, read-only kernel code
    kWriteToRodata,    // a write to present, read-only kernel constants
    kWriteToReadOnly,  // a write to some other present, read-only page
    kNxViolation,      // an instruction fetch from a present page with NX set
    kPhysWindowHole,   // inside the phys-offset window, but the physical page is not RAM
    kNotMapped,        // not present, none of the above
    kUnknown,          // present, and none of the above explains it
};
const char* fault_cause_name(FaultCause cause);

// A stack and the unmapped page below it: [guard + 4 KiB, top) is the stack.
struct StackSpan {
    const char* name;        // "boot", "df-ist", …
    const char* guard_name;  // "guard-boot-stack", "guard-df-ist", …
    VirtAddr guard;
    VirtAddr top;
};

// Everything the classifier knows about the address space.
struct FaultAddressMap {
    static constexpr size_t kMaxStacks = 8;
    KernelImageLayout image;  // text, rodata, data, the boot stack and its guard
    StackSpan stacks[kMaxStacks];
    size_t stack_count = 0;
    const MemoryRangeList* ranges = nullptr;  // what is RAM; null: window holes are not told apart
    PagingDepth depth = PagingDepth::kFourLevel;  // what "canonical" means: 48 bits, or 57 (chapter 16)
};

// The map for the running layout: the image (whose boot stack is "boot") and
// the IST stacks of kernel_stacks.h.
FaultAddressMap make_fault_address_map(const KernelImageLayout& image, const MemoryRangeList* ranges);

struct [[nodiscard]] FaultVerdict {
    FaultCause cause = FaultCause::kUnknown;
    const char* region = "";        // where the address lies: "text", "guard-boot-stack", "phys-window", …
    const char* stack = nullptr;    // kGuardPage: the stack whose guard it is; nullptr for the image's guards
    bool has_pa = false;            // the address is in the phys-offset window:
    PhysAddr pa;                    //   the physical address it stands for
};

// Where `address` lies, and the cause of a fault at it when the address
// alone tells (non-canonical, null page, guard page); else cause kUnknown.
FaultVerdict classify_address(VirtAddr address, const FaultAddressMap& map);

// The cause of a page fault at CR2 = `address` with error code `error`.
FaultVerdict classify_page_fault(VirtAddr address, const PageFaultError& error, const FaultAddressMap& map);

// The stack `rsp` points into (a guard counts as its stack's), or nullptr.
const StackSpan* stack_of(VirtAddr rsp, const FaultAddressMap& map);

// A #GP pushes no address (SDM Vol. 3A, 6.15 "Interrupt 13"): for a
// non-canonical access the error code is 0 and CR2 is untouched. The address
// is in the faulting instruction's memory operand, so the handler decodes
// that operand, for the common forms only: optional legacy prefixes and REX,
// a one-byte MOV/ALU/TEST opcode or a two-byte MOVZX/MOVSX/IMUL, then
// ModRM, SIB and displacement. Anything else (FS/GS, RIP-relative, 32-bit
// addressing, string instructions, a register operand) is not decoded.
// book:begin memory-operand
struct MemoryOperand {
    bool ok = false;   // decoded: the fields below hold
    int base = -1;     // register number (0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp, 5 rbp, 6 rsi, 7 rdi, 8-15 r8-r15), -1 none
    int index = -1;    // same numbering, -1 none
    uint8_t scale = 1; // 1, 2, 4, 8
    int64_t displacement = 0;
};

MemoryOperand decode_memory_operand(const uint8_t* code, size_t length);

// base + index * scale + displacement, from the registers in the same numbering.
uint64_t effective_address(const MemoryOperand& operand, const uint64_t (&registers)[16]);
// book:end memory-operand

// "rax" … "r15".
const char* register_name(int number);

}  // namespace mm
