#include "faults_on_request.h"

#include <stdint.h>

#include "kernel/kernel.h"
#include "kernel/exception_tables.h"
#include "mm/kernel_stacks.h"
#include "kernel/panic.h"
#include "mm/phys_window.h"
#include "kernel/recovery_point.h"
#include "support/log.h"
#include "support/str.h"

// The deliberate faults. Outside the anonymous namespace so that their names
// are easy to find with nm and addr2line; each value goes through opaque() so
// that the compiler emits the access as written instead of reasoning about it.
namespace fault_on_request {

mm::PhysAddr g_ram_end;  // where RAM ends: the window has a hole there

template <typename T>
T opaque(T value) {
    asm volatile("" : "+r"(value));
    return value;
}

// book:begin fault-targets
extern const char kReadOnlyMessage[];
const char kReadOnlyMessage[] = "rodata: read-only and not executable";  // .rodata
alignas(16) uint8_t g_code_in_data[16] = {0xC3};                         // .data: a `ret`, on an NX page

struct ListNode {
    uint64_t key, value;
    ListNode* next;  // at offset 0x10
};

[[gnu::noinline]] void null_dereference() {
    ListNode* node = opaque<ListNode*>(nullptr);
    ListNode* volatile next = node->next;  // reads address 0x10
    (void)next;
}

[[gnu::noinline]] void write_to_text() { *opaque(reinterpret_cast<volatile uint8_t*>(&write_to_text)) = 0xCC; }

[[gnu::noinline]] void write_to_rodata() { *opaque(const_cast<volatile char*>(kReadOnlyMessage)) = 'R'; }

[[gnu::noinline]] void execute_data() { reinterpret_cast<void (*)()>(opaque(&g_code_in_data[0]))(); }

// Each call takes over 512 bytes of the boot stack until the next one lands
// on its guard page. The asm after the call keeps it from being a tail call.
[[gnu::noinline]] uint64_t recurse(uint64_t depth) {
    volatile uint8_t frame[512];
    frame[0] = uint8_t(depth);
    if (depth == opaque(~uint64_t(0))) return 0;  // never: the stop the compiler cannot see through
    const uint64_t below = recurse(depth + 1);
    asm volatile("" ::: "memory");
    return below + frame[0];
}

// Bits 63..48 not copies of bit 47: the CPU refuses the address before paging.
[[gnu::noinline]] void non_canonical() {
    *opaque(reinterpret_cast<volatile uint64_t*>(0xDEAD'0000'0000'1000ull)) = 1;
}

[[gnu::noinline]] void touch_ist_guard() {
    const mm::KernelStack nmi = mm::kernel_stack(mm::KernelStackId::kNmi);
    *opaque(reinterpret_cast<volatile uint64_t*>(nmi.bottom.value() - 8)) = 1;  // the last word of its guard page
}

// The first page past the end of RAM, through the window: not RAM, not mapped.
[[gnu::noinline]] void read_window_hole() {
    const mm::PhysAddr pa = g_ram_end;
    (void)*opaque(mm::phys_to_pointer<volatile uint64_t>(pa));
}
// book:end fault-targets

// Every value test.fault= knows, in the order test.fault=all tries them.
constexpr Str kFaults[] = {"null",          "write-text",    "write-rodata", "exec-data",   "stack-overflow",
                           "non-canonical", "ist-guard",     "window-hole",  "double-fault"};
constexpr uint8_t kPageFaultVector = 14;

// Faults as `what` says. Returns only if the fault did not happen.
void fault(Str what) {
    klog::warn("fault").msg("faulting on request").kv("test.fault", what);
    if (what == Str("null")) null_dereference();
    else if (what == Str("write-text")) write_to_text();
    else if (what == Str("write-rodata")) write_to_rodata();
    else if (what == Str("exec-data")) execute_data();
    else if (what == Str("stack-overflow")) (void)recurse(0);
    else if (what == Str("non-canonical")) non_canonical();
    else if (what == Str("ist-guard")) touch_ist_guard();
    else if (what == Str("window-hole")) read_window_hole();
    else if (what == Str("double-fault")) {
        kernel::remove_idt_gate(kPageFaultVector);  // delivering the next #PF faults (#NP) -> #DF
        null_dereference();
    } else kernel::panic("unknown test.fault value");
}

// test.fault=WHAT: the fault ends the kernel with its PANIC report.
[[noreturn]] void fault_once(Str what) {
    fault(what);
    kernel::panic("test.fault: the fault did not happen");
}

// book:begin fault-every-way
// test.fault=all: every fault in turn, each under a recovery point, so that
// one boot shows every report (at ERROR: the kernel goes on). What a fault
// leaves behind is repaired before the next: the double fault's missing #PF
// gate. The overflowed boot stack needs nothing, since the recovery point
// resets RSP. Then the boot ends with the failure code, as a single fault
// ends it; a fault that did not happen is an error.
[[noreturn]] void fault_every_way() {
    uint64_t recovered = 0;
    for (Str what : kFaults) {
        const bool returned = kernel::run_at_recovery_point([](void* w) { fault(*static_cast<Str*>(w)); }, &what);
        if (what == Str("double-fault")) kernel::restore_idt_gate(kPageFaultVector);
        if (returned) klog::error("fault").msg("the fault did not happen").kv("test.fault", what);
        else ++recovered;
    }
    klog::info("fault").msg("every fault tried").kv("kinds", uint64_t(sizeof(kFaults) / sizeof(Str)))
        .kv("recovered", recovered);
    kernel::fail();
}
// book:end fault-every-way

void fault_if_requested(const mm::MemoryRangeList& ranges) {
    g_ram_end = ranges.ram_end();
    const Str what = kernel::command_line().value("test.fault");
    if (what == Str("all")) fault_every_way();
    if (!what.empty()) fault_once(what);
}

}  // namespace fault_on_request
