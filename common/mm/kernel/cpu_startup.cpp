#include "mm/kernel/cpu_startup.h"

#include "arch/x86/cpu.h"
#include "kernel/early_cpu.h"
#include "kernel/exception_tables.h"
#include "kernel/panic.h"
#include "kernel/user_mode.h"
#include "mm/memory_map_log.h"
#include "mm/acpi_table_window.h"
#include "mm/kernel/cpu_interrupts.h"
#include "mm/kernel/hpet_clock.h"
#include "mm/kernel/per_cpu.h"
#include "mm/kernel/silent_cpu_test.h"
#include "mm/kernel_stacks.h"
#include "mm/madt_cpus.h"
#include "mm/mapping_log.h"
#include "mm/mapping_policy.h"
#include "mm/phys_window.h"
#include "support/log.h"

namespace mm {
namespace {

OnlineCpus g_online;

// What every AP copies from the BSP before it runs kernel code: the same
// paging, protections and memory types, and which state XSAVE manages (XCR0,
// only with CR4.OSXSAVE: a program that uses AVX on one CPU may use it on all).
struct BspState {
    uint64_t cr0, cr4, efer, pat, kernel_cr3, xcr0;  // kernel_cr3: its root, a PML5 at five levels
} g_bsp;

constexpr uint64_t kCr0Monitor = 1ull << 1, kCr0Emulate = 1ull << 2, kCr0TaskSwitched = 1ull << 3,
                   kCr0NumericError = 1ull << 5;                                   // MP, EM, TS, NE
constexpr uint64_t kCr4Osfxsr = 1ull << 9, kCr4Osxmmexcpt = 1ull << 10, kCr4Osxsave = 1ull << 18;

uint64_t read_xcr0(uint64_t cr4) {
    if (!(cr4 & kCr4Osxsave)) return 0;  // XGETBV is #UD without it
    uint32_t low, high;
    asm volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return uint64_t(high) << 32 | low;
}

void write_xcr0(uint64_t value) {
    asm volatile("xsetbv" : : "a"(uint32_t(value)), "d"(uint32_t(value >> 32)), "c"(0) : "memory");
}

constexpr uint64_t kInitDelayUs = 10'000;   // SDM Vol. 3A, 8.4.4.1: 10 ms after INIT
constexpr uint64_t kSipiDelayUs = 200;      // and 200 µs after each SIPI
// How long an AP may take to say it is online: 1 s while it has not run a
// single instruction of the trampoline (a CPU that never answers is named
// after that), 10 s once it has (Linux waits as long for a slow one; under
// TCG on a loaded host an AP can take longer than 100 ms).
constexpr uint64_t kSilentTimeoutUs = 1'000'000;
constexpr uint64_t kStartedTimeoutUs = 10'000'000;
constexpr uint64_t kApStackOffset = kKernelStackCount * kKernelStackStride;  // after the four IST stacks
static_assert(kApStackOffset + kKernelStackStride <= kCpuStacksStride);
static_assert(kCpuStacksBase.value() + acpi::MadtCpus::kCapacity * kCpuStacksStride <=
              layout::kKernelStacksBase.value() + layout::kKernelStacksWindowSize);
static_assert(kernel_stack(kKernelStackCount - 1).top.value() <= kCpuStacksBase.value());  // chapter 10's stay below

uint64_t cpu_block(unsigned index) { return kCpuStacksBase.value() + (index - 1) * kCpuStacksStride; }

// The MADT's bytes: through the ACPI tables window where chapter 06 mapped
// its frames (reserved memory), else through the phys-offset window (ACPI
// reclaim and NVS memory are RAM there).
const uint8_t* madt_bytes(const MmioDevices& d) {
    const PhysAddr madt = d.addresses.madt;
    const PhysAddr page = madt.page_base();
    const PhysAddr last = PhysAddr(madt.value() + d.addresses.madt_length - 1).page_base();
    if (d.acpi_tables.contains(page) && d.acpi_tables.contains(last))
        return reinterpret_cast<const uint8_t*>(acpi::acpi_table_va(madt).value());
    return phys_to_pointer<uint8_t>(madt);
}

// An AP's IST stacks and kernel stack, each page from `frames`, its guard
// left unmapped. False (logged) when a frame or a mapping was refused.
bool map_cpu_stacks(KernelAddressSpace& space, BitmapFrameAllocator& frames, unsigned index, uint64_t (&ist)[7],
                    uint64_t* stack_top, uint64_t* stack_guard) {
    PhysWindowMemory tables;
    PageTableBuilder builder(space.root(), tables, frames, space.cpu().pages_1gib, space.depth());  // five levels too
    const MappingPolicy policy = fit_to_cpu(kKernelDataPolicy, space.cpu());
    auto map = [&](uint64_t bottom, uint64_t size) {
        for (uint64_t va = bottom; va < bottom + size; va += kPageSize) {
            const FrameResult frame = frames.alloc_frame();
            // Zeroed: no stale bytes on a kernel stack, and how deep it was
            // ever used can be read from it (the tests read it).
            if (frame.ok())
                for (PageTableEntry& word : tables.table_at(frame.frame())->entries) word.clear();
            if (!frame.ok() || !builder.map_range(VirtAddr(va), frame.frame(), kPageSize, policy).ok()) {
                klog::warn("smp").msg("cpu stack refused").kv("index", index).kv("va", klog::hex(va))
                    .kv("rule", frame.ok() ? "the builder must map it" : "needs a free frame");
                return false;
            }
        }
        return true;
    };
    const uint64_t block = cpu_block(index);
    for (uint64_t& slot : ist) slot = 0;
    for (size_t i = 0; i < kKernelStackCount; ++i) {
        const KernelStack s = kernel_stack(i);  // chapter 10's offsets, slots and vectors
        const uint64_t bottom = block + (s.bottom - layout::kKernelStacksBase);
        if (!map(bottom, kKernelStackSize)) return false;
        ist[s.ist - 1] = bottom + kKernelStackSize;
    }
    *stack_guard = block + kApStackOffset;
    if (!map(*stack_guard + kPageSize, kKernelStackSize)) return false;
    *stack_top = *stack_guard + kPageSize + kKernelStackSize;
    return true;
}

void log_online(const PerCpu& c, const char* role) {
    klog::info("smp").msg("cpu online").kv("index", c.index).kv("apic-id", c.report.apic_id)
        .kv("stack", klog::hex(c.report.rsp)).kv("gs", klog::hex(c.report.gs_base)).kv("cr3", klog::hex(c.report.cr3))
        .kv("tr", klog::hex(c.report.tr)).kv("role", role);
}

void report_self(PerCpu& c) {
    uint64_t rsp, tr = 0;
    asm volatile("mov %%rsp, %0" : "=r"(rsp));
    asm volatile("str %0" : "=r"(tr));
    c.report = {g_online.apic.id(), x86::rdmsr(x86::kMsrGsBase), rsp, x86::read_cr3(), tr};
}

// book:begin start-one-ap
// INIT, 10 ms, SIPI, 200 µs, SIPI; then up to 1 s for the AP to start (10 s
// to finish once it has) and say it is online. True when it did; otherwise
// the AP gets an INIT again, which puts it back into wait-for-SIPI, so a late
// one cannot run on the trampoline once it is armed for the next AP.
bool start_one(const Trampoline& t, const HpetClock& clock, PerCpu& c, uint64_t* waited_us) {
    const LocalApic& apic = g_online.apic;
    arm_trampoline(t, c.stack_top, reinterpret_cast<uint64_t>(&c));
    apic::Ipi sipi{};
    if (Violation v = apic::startup_ipi(c.apic_id, t.page, &sipi); !v.ok()) return false;
    if (Violation v = apic.send(apic::init_ipi(c.apic_id)); !v.ok()) {
        klog::warn("smp").msg("cpu not addressable").kv("index", c.index).kv("apic-id", c.apic_id)
            .kv("field", v.field).kv("value", v.value).kv("rule", v.rule);
        return false;
    }
    clock.wait_us(kInitDelayUs);
    const bool silent = test_keeps_cpu_silent(c.apic_id);  // the test hook: INIT, but never a SIPI
    for (int i = 0; i < 2 && !silent; ++i) {
        (void)apic.send(sipi);  // addressable: INIT was
        clock.wait_us(kSipiDelayUs);
    }
    const uint64_t start = clock.ticks();
    while (!__atomic_load_n(&c.online, __ATOMIC_ACQUIRE)) {
        *waited_us = clock.microseconds_since(start);
        const bool started = trampoline_stage(t) != 0 || c.entered;
        if (*waited_us > (started ? kStartedTimeoutUs : kSilentTimeoutUs)) {
            (void)apic.send(apic::init_ipi(c.apic_id));  // back to wait-for-SIPI: it stays off the trampoline
            clock.wait_us(kInitDelayUs);  // as at the start: the reset completes before the page is armed again
            return false;
        }
    }
    return true;
}
// book:end start-one-ap

}  // namespace

const OnlineCpus& online_cpus() { return g_online; }

OnlineCpus start_cpus(KernelAddressSpace& space, const MmioDevices& devices, BitmapFrameAllocator& frames,
                      const Trampoline& trampoline) {
    g_online = OnlineCpus{};
    g_online.apic = LocalApic(devices);
    const LocalApic& apic = g_online.apic;
    PerCpu& bsp = per_cpu(0);
    bsp.index = 0;
    set_gs_base(bsp);  // first: every later phase finds its CPU through GS, with one CPU as with many
    if (!apic.usable()) {
        bsp.online = 1;
        klog::warn("smp").msg("bsp only").kv("rule", "needs the local apic (none mapped)");
        return g_online;
    }
    const uint32_t bsp_id = apic.id();
    bsp.apic_id = bsp_id;
    install_interrupt_gates(apic);
    apic.enable();
    report_self(bsp);
    bsp.online = 1;
    log_online(bsp, "bsp");

    static acpi::MadtCpus cpus;  // 64 entries: .bss, not the stack
    const MmioDeviceAddresses& found = devices.addresses;  // chapter 06's reading of the tables
    if (found.madt.is_null()) {
        klog::warn("smp").msg("bsp only").kv("rule", "needs a madt");
        return g_online;
    }
    if (Violation v = acpi::read_madt_cpus(madt_bytes(devices), found.madt_length, bsp_id, &cpus); !v.ok()) {
        log_rejection("smp", "madt", v);
        klog::warn("smp").msg("bsp only").kv("rule", "needs a madt it can read");
        return g_online;
    }
    g_online.expected = unsigned(cpus.count);
    klog::info("smp").msg("madt").kv("revision", uint32_t(cpus.madt_revision)).kv("enabled", uint64_t(cpus.count))
        .kv("xapic-entries", cpus.xapic_entries).kv("x2apic-entries", cpus.x2apic_entries)
        .kv("online-capable", cpus.online_capable).kv("unusable", cpus.unusable).kv("invalid-ids", cpus.invalid_ids)
        .kv("duplicates", cpus.duplicates).kv("beyond-capacity", cpus.beyond_capacity)
        .kv("bsp-apic-id", bsp_id).kv("bsp-listed", cpus.bsp_listed);
    for (size_t i = 0; i < cpus.count; ++i)
        klog::info("smp").msg("cpu listed").kv("index", uint64_t(i)).kv("apic-id", cpus.cpu[i].apic_id)
            .kv("uid", cpus.cpu[i].uid).kv("entry", cpus.cpu[i].x2apic_entry ? "x2apic" : "xapic");
    if (cpus.count == 1) {
        klog::info("smp").msg("cpus").kv("online", uint64_t(1)).kv("expected", uint64_t(1));
        return g_online;
    }

    HpetClock& clock = g_online.clock;
    const char* refusal = trampoline.refusal;  // no page below 1 MiB: no AP can start
    if (refusal == nullptr) (void)clock.start(devices.hpet, &refusal);  // no clock: no SDM delays
    if (refusal != nullptr) {
        klog::warn("smp").msg("bsp only").kv("rule", refusal);
        return g_online;
    }
    klog::info("smp").msg("clock").kv("source", "hpet").kv("period-fs", clock.period_fs())
        .kv("init-delay-us", kInitDelayUs).kv("sipi-delay-us", kSipiDelayUs);
    g_bsp = {x86::read_cr0(), x86::read_cr4(), x86::rdmsr(x86::kMsrEfer), x86::rdmsr(x86::kMsrPat), space.root().value(),
             read_xcr0(x86::read_cr4())};
    install_trampoline(trampoline, space.root());

    for (unsigned i = 1; i < cpus.count; ++i) {
        PerCpu& c = per_cpu(i);
        c = PerCpu{};
        c.index = i;
        c.apic_id = cpus.cpu[i].apic_id;
        uint64_t ist[7];
        if (!map_cpu_stacks(space, frames, i, ist, &c.stack_top, &c.stack_guard)) continue;
        build_cpu_tables(c, ist);
        uint64_t waited_us = 0;
        if (!start_one(trampoline, clock, c, &waited_us)) {
            if (test_stalls_cpu(c.apic_id))
                klog::warn("smp").msg("stalled a cpu on request").kv("apic-id", c.apic_id)
                    .kv("stopped-itself", c.stalled != 0);
            klog::warn("smp").msg("cpu silent").kv("index", i).kv("apic-id", c.apic_id)
                .kv("stage", trampoline_stage(trampoline)).kv("entered", c.entered != 0)
                .kv("waited-s", waited_us / 1000000)  // whole seconds: the timeout it waited out, not the jitter
                .kv("rule", "must start within 1s of INIT-SIPI-SIPI and be online within 10s");
            continue;
        }
        log_online(c, "ap");
        klog::info("smp").msg("cpu stacks").kv("index", i).kv("stack-top", klog::hex(c.stack_top))
            .kv("guard", klog::hex(c.stack_guard)).kv("df-ist", klog::hex(c.tss.ist[0]))
            .kv("pf-ist", klog::hex(c.tss.ist[1])).kv("nmi-ist", klog::hex(c.tss.ist[2]))
            .kv("mc-ist", klog::hex(c.tss.ist[3]));
        ++g_online.count;
        g_online.mask = g_online.mask.with(i);
    }
    retire_trampoline(trampoline);
    klog::info("smp").msg("cpus").kv("online", uint64_t(g_online.count)).kv("expected", uint64_t(g_online.expected));
    return g_online;
}

namespace {

// What ring 3 relies on, as one CPU reads it on itself.
struct Ring3State {
    kernel::SyscallMsrs msrs;
    uint64_t cr0, cr4, efer, pat, xcr0;
    uint64_t user_data, user_code;  // its GDT's entries at the selectors SYSRET loads
    uint16_t gdt_limit;
};

Ring3State read_ring3_state() {
    Ring3State s{};
    s.msrs = kernel::read_syscall_msrs();
    s.cr0 = x86::read_cr0();
    s.cr4 = x86::read_cr4();
    s.efer = x86::rdmsr(x86::kMsrEfer);
    s.pat = x86::rdmsr(x86::kMsrPat);
    s.xcr0 = read_xcr0(s.cr4);
    kernel::DescriptorTableRegister gdtr{};
    asm volatile("sgdt %0" : "=m"(gdtr));
    s.gdt_limit = gdtr.limit;
    const auto* gdt = reinterpret_cast<const uint64_t*>(gdtr.base);
    if (gdtr.limit + 1u >= (kernel::kUserCodeSelector & ~3u) + 8u) {
        s.user_data = gdt[kernel::kUserDataSelector / 8];
        s.user_code = gdt[kernel::kUserCodeSelector / 8];
    }
    return s;
}

// Mailbox work, on the AP itself.
void prepare_this_cpu_for_ring3(void* report) {
    kernel::install_syscall_msrs();
    *static_cast<Ring3State*>(report) = read_ring3_state();
}

// The first field in which `ap` differs from `bsp`, or nullptr.
const char* ring3_difference(const Ring3State& ap, const Ring3State& bsp, uint64_t* value, uint64_t* expected) {
    const struct {
        const char* field;
        uint64_t ap, bsp;
    } fields[] = {{"star", ap.msrs.star, bsp.msrs.star},     {"lstar", ap.msrs.lstar, bsp.msrs.lstar},
                  {"fmask", ap.msrs.fmask, bsp.msrs.fmask},  {"kernel-gs-base", ap.msrs.kernel_gs_base, 0},
                  {"cr0", ap.cr0, bsp.cr0},                  {"cr4", ap.cr4, bsp.cr4},
                  {"efer", ap.efer, bsp.efer},               {"pat", ap.pat, bsp.pat},
                  {"xcr0", ap.xcr0, bsp.xcr0},
                  {"gdt-user-data", ap.user_data, kernel::kUserDataDescriptor},
                  {"gdt-user-code", ap.user_code, kernel::kUserCode64Descriptor}};
    for (const auto& f : fields)
        if (f.ap != f.bsp) {
            *value = f.ap;
            *expected = f.bsp;
            return f.field;
        }
    return nullptr;
}

}  // namespace

// book:begin prepare-ring3
void prepare_cpus_for_ring3() {
    const Ring3State bsp = read_ring3_state();
    KASSERT(bsp.msrs.sce);  // install_user_mode() ran here
    kernel::set_rsp0_slot_source(this_cpu_rsp0_slot);
    unsigned ready = 1;
    for (unsigned i = 1; i < CpuMask::kMaxCpus; ++i) {
        if (!g_online.mask.has(i)) continue;
        Ring3State ap{};
        run_on(i, prepare_this_cpu_for_ring3, &ap);
        uint64_t value = 0, expected = 0;
        if (const char* field = ring3_difference(ap, bsp, &value, &expected)) {
            klog::error("smp").msg("cpu ring3 refused").kv("index", i).kv("field", field).kv("value", klog::hex(value))
                .kv("bsp", klog::hex(expected)).kv("rule", "must equal the bsp's before it runs ring 3");
            kernel::fail();
        }
        klog::info("smp").msg("cpu ring3").kv("index", i).kv("star", klog::hex(ap.msrs.star))
            .kv("lstar", klog::hex(ap.msrs.lstar)).kv("fmask", klog::hex(ap.msrs.fmask)).kv("sce", ap.msrs.sce)
            .kv("smap", (ap.cr4 & x86::kCr4Smap) != 0).kv("smep", (ap.cr4 & x86::kCr4Smep) != 0)
            .kv("osfxsr", (ap.cr4 & kCr4Osfxsr) != 0).kv("osxmmexcpt", (ap.cr4 & kCr4Osxmmexcpt) != 0)
            .kv("wp", (ap.cr0 & x86::kCr0WriteProtect) != 0).kv("ne", (ap.cr0 & kCr0NumericError) != 0)
            .kv("mp", (ap.cr0 & kCr0Monitor) != 0).kv("em", (ap.cr0 & kCr0Emulate) != 0)
            .kv("ts", (ap.cr0 & kCr0TaskSwitched) != 0).kv("nxe", (ap.efer & x86::kEferNoExecute) != 0)
            .kv("cr0", klog::hex(ap.cr0)).kv("cr4", klog::hex(ap.cr4)).kv("efer", klog::hex(ap.efer))
            .kv("pat", klog::hex(ap.pat)).kv("xcr0", klog::hex(ap.xcr0))
            .kv("gdt-entries", uint64_t(ap.gdt_limit) / 8 + 1)  // the limit: 8 bytes an entry, less 1
            .kv("user-cs", klog::hex(kernel::kUserCodeSelector));
        ++ready;
    }
    klog::info("smp").msg("ring3").kv("cpus", uint64_t(ready)).kv("rsp0", "per-cpu");
}
// book:end prepare-ring3

// book:begin run-on
uint64_t start_on(unsigned index, CpuWork work, void* arg) {
    KASSERT(index != 0 && g_online.mask.has(index));
    PerCpu& c = per_cpu(index);
    KASSERT(c.work == nullptr);
    const uint64_t ticket = c.work_done + 1;
    c.work_arg = arg;
    __atomic_store_n(&c.work, work, __ATOMIC_RELEASE);
    (void)g_online.apic.send(apic::fixed_ipi(c.apic_id, kWakeVector));  // online: addressable
    return ticket;
}

void finish_on(unsigned index, uint64_t ticket, bool timed) {
    const PerCpu& c = per_cpu(index);
    const uint64_t start = g_online.clock.ticks();
    wait_with_interrupts([&] {
        while (__atomic_load_n(&c.work_done, __ATOMIC_ACQUIRE) < ticket) {
            asm volatile("pause");
            if (timed && g_online.clock.microseconds_since(start) > kStartedTimeoutUs) {  // a bug, not a slow CPU
                klog::error("smp").msg("work unfinished").kv("index", index).kv("apic-id", c.apic_id)
                    .kv("rule", "mailbox work must finish within 10s");
                kernel::fail();
            }
        }
    });
}

void run_on(unsigned index, CpuWork work, void* arg) {
    if (index == 0) wait_with_interrupts([&] { work(arg); });
    else finish_on(index, start_on(index, work, arg));
}
// book:end run-on

}  // namespace mm

// book:begin ap-entry
// Where an AP arrives from the trampoline, on its own stack, on the
// trampoline's tables. From here on it runs the kernel's code like the BSP.
extern "C" [[noreturn]] void ap_entry(void* arg) {
    using namespace mm;
    PerCpu& c = *static_cast<PerCpu*>(arg);
    __atomic_store_n(&c.entered, 1u, __ATOMIC_RELEASE);
    // Its own GDT, TSS, GS and the IDT first, while the trampoline's tables
    // (which map the kernel's half) are loaded: until then the GDTR names the
    // trampoline page and the IDTR is real mode's, and an NMI would find
    // neither once the identity page is gone.
    load_cpu_tables(c);
    load_interrupt_gates();
    if (test_stalls_cpu(c.apic_id)) stall_on_request(c);  // the tests' stalled CPU (silent_cpu_test.h)
    // The kernel's root (its PML5 at five levels): the identity page is gone.
    // Then CR4 as the BSP's: its LA57 is already this CPU's (the trampoline
    // set it before CR0.PG), and with paging on it could not change.
    x86::write_cr3(g_bsp.kernel_cr3);
    x86::write_cr4(g_bsp.cr4);
    if (g_bsp.cr4 & kCr4Osxsave) write_xcr0(g_bsp.xcr0);  // after CR4.OSXSAVE; INIT left x87 only
    x86::wrmsr(x86::kMsrEfer, g_bsp.efer);
    x86::write_cr0(g_bsp.cr0);
    x86::wrmsr(x86::kMsrPat, g_bsp.pat);  // the PAT is per CPU: WC for the framebuffer, as on the BSP
    g_online.apic.enable();
    report_self(c);
    __atomic_store_n(&c.online, 1u, __ATOMIC_RELEASE);

    // The idle loop: the mailbox under CLI, so a wake-up between the check
    // and the HLT is not lost (STI's one-instruction shadow covers HLT).
    for (;;) {
        asm volatile("cli" ::: "memory");
        const CpuWork work = __atomic_load_n(&c.work, __ATOMIC_ACQUIRE);
        if (work != nullptr) {
            c.work = nullptr;
            asm volatile("sti" ::: "memory");
            work(c.work_arg);
            __atomic_fetch_add(&c.work_done, 1, __ATOMIC_RELEASE);
            continue;
        }
        asm volatile("sti; hlt" ::: "memory");
    }
}
// book:end ap-entry
