// Chapter 04: the kernel's own page tables.
//
// Until now the kernel ran on the loader's bootstrap tables. Here it builds a
// PML4 of its own in two named phases, identity_map_low_memory and
// map_kernel_image, checks the result with a software walk, loads it into
// CR3 and keeps running. From here on the loader's tables are never used.
//
// Which stack runs this code? entry.S moves to the kernel's own boot stack
// (.boot_stack in kernel.ld, inside the image's data segment) before calling
// C++, so the stack is part of map_kernel_image's "stack" span, and the page
// below it (__boot_stack_guard) is the one left unmapped. The loader's stack
// (memory type boot-stack) is no longer in use, though the identity map still
// covers it like all RAM.
#include "arch/x86/cpu.h"
#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "mm/cpu_paging_features.h"
#include "mm/identity_map.h"
#include "fault_injection.h"
#include "kernel/kernel.h"
#include "mm/kernel/boot_intake.h"
#include "mm/kernel_image_map.h"
#include "mm/kernel/linked_image.h"
#include "mm/kernel/ram_frame_exceptions.h"
#include "mm/mapping_log.h"
#include "mm/page_table_builder.h"
#include "mm/page_table_lookup.h"
#include "kernel/panic.h"
#include "mm/physical_memory.h"
#include "support/log.h"

namespace {

mm::IdentityMappedMemory g_tables;  // tables are reached at their physical address

// Probes for the checks before and after the switch: one object in each
// section of the image.
const char kRodataProbe[] = "a string in .rodata";
volatile uint64_t g_data_probe = 0x0000'c0de'cafe'f00dull;  // .data: read back after the switch
volatile uint64_t g_bss_probe;                     // .bss

uint64_t current_rsp() {
    uint64_t rsp;
    asm volatile("mov %%rsp, %0" : "=r"(rsp));
    return rsp;
}

void log_cpu(mm::CpuPagingFeatures cpu) {
    klog::info("paging").msg("cpu").kv("nx", cpu.no_execute).kv("page1gb", cpu.pages_1gib)
        .kv("bootstrap-cr3", klog::hex(x86::read_cr3()));
    // fit_to_cpu() drops NX from every policy then: rodata and data stay
    // read-only and writable, but every mapped page is also executable.
    if (!cpu.no_execute) klog::warn("paging").msg("no NX: every mapped page is executable");
}

// ---- the check before the switch --------------------------------------------

struct Expectation {
    const char* what;
    mm::VirtAddr va;
    bool present;
    mm::PhysAddr pa;         // where va must land (when present)
    mm::MappingPolicy policy;  // whose leaf flags it must carry (when present)
};

// What the new tables say about `e.va` must be exactly what the phases meant:
// same frame, same rights, or, for a guard, nothing at all.
void check(mm::PhysAddr pml4, const Expectation& e, mm::CpuPagingFeatures cpu) {
    const mm::Translation t = mm::translate(pml4, g_tables, e.va);
    const mm::MappingPolicy policy = mm::fit_to_cpu(e.policy, cpu);
    const uint64_t expected_flags = t.present ? mm::leaf_entry_flags(policy, t.page_size) : 0;
    const bool ok = t.present == e.present && (!e.present || (t.pa == e.pa && t.flags == expected_flags));
    if (!ok) {
        klog::error("paging").msg("check failed").kv("what", e.what).kv("va", klog::hex(e.va))
            .kv("present", t.present).kv("pa", klog::hex(t.pa)).kv("expected-pa", klog::hex(e.pa))
            .kv("flags", mm::flags_text(t.flags, mm::leaf_level(t.page_size)).text)
            .kv("expected-flags", mm::flags_text(expected_flags, mm::leaf_level(t.page_size)).text);
        kernel::fail();
    }
    klog::info("paging").msg("check").kv("what", e.what).kv("va", klog::hex(e.va)).kv("present", t.present)
        .kv("pa", klog::hex(t.pa)).kv("page", klog::size(t.present ? mm::bytes(t.page_size) : 0))
        .kv("flags", mm::flags_text(t.flags, mm::leaf_level(t.page_size)).text);
}

void check_before_switch(mm::PhysAddr pml4, const mm::HandoffView& handoff, mm::CpuPagingFeatures cpu) {
    const mm::KernelPlacement placement = handoff.kernel;
    const mm::KernelImageGuards guards = mm::kernel_image_guards(kernel::linked_image_layout());
    // pa of an image address: the loader's rule (kernel_image_span.h).
    auto image = [&](uint64_t va) { return placement.physical_base + (va - placement.virtual_base.value()); };
    const uint64_t text_start = kernel::linked_image_layout().text_start.value();  // fixed by kernel.ld
    const uint64_t code = reinterpret_cast<uint64_t>(&kernel_main);
    const uint64_t text = reinterpret_cast<uint64_t>(kRodataProbe);
    const uint64_t bss = reinterpret_cast<uint64_t>(&g_bss_probe);
    const uint64_t rsp = current_rsp();
    const mm::MappingPolicy identity = mm::identity_low_memory_policy();
    const mm::MappingPolicy none = {};
    const Expectation expectations[] = {
        {"text-start", mm::VirtAddr(text_start), true, image(text_start), mm::kKernelTextPolicy},
        {"kernel_main", mm::VirtAddr(code), true, image(code), mm::kKernelTextPolicy},
        {"rodata-string", mm::VirtAddr(text), true, image(text), mm::kKernelRodataPolicy},
        {"bss-variable", mm::VirtAddr(bss), true, image(bss), mm::kKernelDataPolicy},
        {"stack", mm::VirtAddr(rsp), true, image(rsp), mm::kKernelDataPolicy},
        {"handoff", mm::VirtAddr(handoff.address.value()), true, handoff.address, identity},
        {"pml4", mm::VirtAddr(pml4.value()), true, pml4, identity},
        {"page-0", mm::VirtAddr(0), false, {}, none},
        {"guard-below-image", guards.below_image, false, {}, none},
        {"guard-boot-stack", guards.boot_stack, false, {}, none},
        {"guard-above-image", guards.above_image, false, {}, none},
    };
    for (const Expectation& e : expectations) check(pml4, e, cpu);
}

// ---- the switch ----------------------------------------------------------------

// book:begin switch-cr3
// Loads the new PML4. Everything the next instruction touches must be mapped
// in it: the code (text span), the stack (stack span), the console (port I/O,
// no memory), the GDT and IDT (rodata and data spans), and the tables
// themselves and the handoff (the identity map). check_before_switch proved
// each of these with a software walk. The CR3 load drops the loader's
// translations; a global one the firmware left (with CR4.PGE on) would
// survive it, so that is dropped too.
void switch_to(mm::PhysAddr pml4) {
    x86::write_cr3(pml4.value());
    const bool had_global_pages = x86::drop_global_translations();
    klog::info("paging").msg("switched").kv("cr3", klog::hex(x86::read_cr3())).kv("pml4", klog::hex(pml4))
        .kv("global-pages", had_global_pages ? "flushed" : "off");
}
// book:end switch-cr3

// Called through a pointer, so the call really goes to the text span.
[[gnu::noinline]] uint64_t add_one(uint64_t value) { return value + 1; }
uint64_t (*volatile g_call_probe)(uint64_t) = add_one;

// Runs on the new tables only: data, code and stack all still answer.
void prove_still_running() {
    g_bss_probe = g_call_probe(g_data_probe);
    klog::info("paging").msg("still running").kv("data-probe", klog::hex(g_data_probe))
        .kv("call-result", klog::hex(g_bss_probe)).kv("rsp", klog::hex(current_rsp()))
        .kv("rodata", *static_cast<const volatile char*>(kRodataProbe) == 'a');
}

void log_table_frames(const mm::PageTableBuilder& builder, const mm::BootFrameAllocator& frames, size_t reserve_before) {
    const uint64_t tables = builder.stats().tables_created + 1;  // + the PML4
    const uint64_t from_reserve = reserve_before - frames.reserve_len();
    klog::info("frames").msg("page tables").kv("frames", tables).kv("from-reserve", from_reserve)
        .kv("from-general", tables - from_reserve).kv("reserve-left", uint64_t(frames.reserve_len()))
        .kv("handed-out", frames.frames_handed_out());
}

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& handoff) {
    mm::BootIntake& intake = mm::start_boot_memory(handoff);
    const size_t reserve_before = intake.frames.reserve_len();

    const mm::KernelImageLayout layout = kernel::linked_image_layout();
    const mm::KernelPlacement placement = kernel::checked_kernel_placement(intake.handoff.kernel);

    const mm::CpuPagingFeatures cpu = mm::read_cpu_paging_features();
    log_cpu(cpu);
    const mm::FrameResult pml4 = mm::PageTableBuilder::create_pml4(g_tables, intake.frames);
    if (!pml4.ok()) {
        klog::error("paging").msg("no frame for the pml4");
        kernel::fail();
    }
    mm::PageTableBuilder builder(pml4.frame(), g_tables, intake.frames, cpu.pages_1gib);
    // The image's text and rodata stay read-only in the identity map too: no frame is writable
    // through one address and executable through another (mm/ram_run_mapper.h).
    const mm::FrameExceptions exceptions = kernel::ram_frame_exceptions(intake.handoff);
    if (!mm::identity_map_low_memory(builder, intake.memory.ranges, exceptions, cpu).ok()) kernel::fail();
    if (!mm::map_kernel_image(builder, layout, placement, cpu).ok()) kernel::fail();
    remap_if_requested(builder, layout, placement, cpu);  // test.remap: fault_injection.cpp

    check_before_switch(builder.root(), intake.handoff, cpu);
    switch_to(builder.root());
    prove_still_running();
    log_table_frames(builder, intake.frames, reserve_before);
}
// book:end kernel-main
