// Chapter 09: verify the address space.
//
// Chapter 08's kernel builds its address space and leaves the lower half.
// This one then reads its own live tables back through the phys-offset
// window, with one walker: every region is held against what its phase meant
// to map (frames, rights, memory type, page sizes; guard pages absent), every
// entry against the rules no kernel page may break (W^X, no user page, no
// stale non-present entry, no table reachable twice), and the whole is
// printed as merged ranges. A broken rule is named and ends the boot with the
// failure code.
#include "boot/handoff.h"
#include "boot_frame_allocator.h"
#include "boot_memory.h"
#include "kernel.h"
#include "kernel/boot_intake.h"
#include "kernel/phys_window_check.h"
#include "memory_manager.h"
#include "memory_map_log.h"
#include "panic.h"
#include "phys_window.h"
#include "support/log.h"

namespace {

mm::BootMemory g_memory;          // in .bss: the range list is too big for the stack
mm::BootFrameAllocator g_frames;  // every page-table frame comes from here

[[noreturn]] void fail() { kernel::exit_kernel(boot::ExitCode::kFailure); }

// ---- after the identity map --------------------------------------------------

// Everything the rest of the boot needs, reached at upper-half addresses only:
// the handoff (the command line is read from it), the memory map (validated
// again at its window address, and it must normalise to the same ranges), and
// the kernel's own code, data and stack, which never were in the lower half.
void prove_upper_half_only(const boot::BootHandoff& handoff) {
    static mm::BootMemory again;
    const mm::PhysAddr handoff_pa = mm::window_to_phys(&handoff);
    const uint8_t* map = mm::phys_to_pointer<const uint8_t>(mm::PhysAddr(handoff.memory_map));
    if (Violation v = mm::load_boot_memory(handoff, handoff_pa, map, &again); !v.ok()) {
        mm::log_rejection("remap", "handoff at its window address", v);
        fail();
    }
    bool same = again.ranges.count() == g_memory.ranges.count();
    for (size_t i = 0; same && i < again.ranges.count(); ++i)
        same = again.ranges[i].start == g_memory.ranges[i].start && again.ranges[i].end == g_memory.ranges[i].end &&
               again.ranges[i].kind == g_memory.ranges[i].kind;
    if (!same) {
        klog::error("remap").msg("memory map differs at its window address");
        fail();
    }
    klog::info("remap").msg("upper half only").kv("handoff-va", klog::hex(reinterpret_cast<uint64_t>(&handoff)))
        .kv("map-va", klog::hex(reinterpret_cast<uint64_t>(map))).kv("ranges", uint64_t(again.ranges.count()))
        .kv("ranges-equal", same).kv("cmdline", Str(kernel::command_line().value("probe")))
        .kv("reserve", uint64_t(g_frames.reserve_len()));
}

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& loader_handoff) {
    mm::start_boot_memory(loader_handoff, g_memory, g_frames);

    MemoryManager memory(loader_handoff, g_memory, g_frames);
    memory.activate();
    mm::check_phys_window(g_memory.ranges, g_frames);
    const boot::BootHandoff& handoff = memory.remap_handoff();  // loader_handoff is a low address: done with it
    memory.remove_identity_map();
    prove_upper_half_only(handoff);

    if (const Str bad = kernel::command_line().value("test.bad-mapping"); !bad.empty()) memory.install_bad_mapping(bad);
    const bool verified = memory.verify();
    memory.report();  // also after a failure: the ranges show what is wrong
    if (!verified) fail();
}
// book:end kernel-main
