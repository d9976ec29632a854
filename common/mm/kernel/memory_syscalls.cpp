#include "mm/kernel/memory_syscalls.h"

#include "abi/memory_syscalls.h"
#include "arch/x86/cpu.h"
#include "abi/syscalls.h"
#include "mm/kernel/process_memory.h"
#include "mm/kernel/processes.h"
#include "mm/kernel/syscalls.h"
#include "mm/kernel/vm_hold.h"
#include "mm/demand_fault.h"
#include "kernel/panic.h"
#include "support/log.h"

namespace mm {
namespace {

struct Call {
    const Process& p;
    ProcessMemory& m;
    const char* name;
};

int64_t refuse(const Call& c, const char* field, uint64_t value, const char* rule, int64_t error) {
    klog::warn("vm").msg("refused").kv("pid", c.p.pid).kv("name", c.p.name).kv("call", c.name).kv("field", field)
        .kv("value", klog::hex(value)).kv("rule", rule).kv("returns", int(-error));
    return -error;
}

// book:begin check-range
// The rules every call shares for [address, address + length). Returns 0, or
// the refusal's -error.
int64_t check_range(const Call& c, uint64_t address, uint64_t length) {
    if (address % kPageSize != 0) return refuse(c, "address", address, "must be 4 KiB aligned", abi::kErrorInvalid);
    if (length == 0) return refuse(c, "length", length, "must not be zero", abi::kErrorInvalid);
    if (length % kPageSize != 0) return refuse(c, "length", length, "must be a multiple of 4 KiB", abi::kErrorInvalid);
    if (length > kUserLimit.value() - kUserLowest.value())
        return refuse(c, "length", length, "larger than the user half (or wrapped)", abi::kErrorNoMemory);
    if (address < kUserLowest.value() || address > kUserLimit.value() - length)
        return refuse(c, "address", address, "the range must lie within [0x400000, 0x7ffffffff000)", abi::kErrorNoMemory);
    return 0;
}
// book:end check-range

int64_t check_prot(const Call& c, uint64_t prot) {
    if (prot & ~(abi::kProtRead | abi::kProtWrite | abi::kProtExec))
        return refuse(c, "prot", prot, "only PROT_READ, PROT_WRITE and PROT_EXEC", abi::kErrorInvalid);
    if (!(prot & abi::kProtRead))
        return refuse(c, "prot", prot, "must include PROT_READ: a present x86 page can always be read", abi::kErrorInvalid);
    if ((prot & abi::kProtWrite) && (prot & abi::kProtExec))
        return refuse(c, "prot", prot, "not PROT_WRITE with PROT_EXEC (W^X)", abi::kErrorInvalid);
    return 0;
}

// book:begin sys-mmap
int64_t sys_mmap(const Call& c, uint64_t address, uint64_t length, uint64_t prot_and_flags) {
    const uint64_t prot = prot_and_flags & 0xF, flags = prot_and_flags & ~uint64_t(0xF);
    if (flags & ~(abi::kMapFixed | abi::kMapAnonymous))
        return refuse(c, "flags", flags, "only MAP_FIXED and MAP_ANONYMOUS", abi::kErrorInvalid);
    if (!(flags & abi::kMapAnonymous))
        return refuse(c, "flags", flags, "must include MAP_ANONYMOUS: a program's files are its ELF segments",
                      abi::kErrorInvalid);
    if (const int64_t e = check_prot(c, prot)) return e;
    if (prot & abi::kProtExec)  // no frame writable in one mapping and executable in another (the window)
        return refuse(c, "prot", prot, describe(RegionStatus::kExecuteNotFile), abi::kErrorAccess);
    const bool fixed = flags & abi::kMapFixed;
    if (!fixed && address != 0)
        return refuse(c, "address", address, "must be 0 without MAP_FIXED: the kernel chooses", abi::kErrorInvalid);
    if (const int64_t e = check_range(c, fixed ? address : kUserLowest.value(), length)) return e;
    const uint64_t start = fixed ? address : c.m.regions.find_free(length);
    if (start == 0) return refuse(c, "length", length, describe(RegionStatus::kNoRoom), abi::kErrorNoMemory);
    const UserRegion region{start, start + length, uint8_t(prot), RegionKind::kAnonymous};
    if (const RegionStatus s = c.m.regions.add(region); s != RegionStatus::kOk)
        return refuse(c, s == RegionStatus::kOverlaps ? "address" : "regions", start, describe(s),
                      s == RegionStatus::kOverlaps ? abi::kErrorExists : abi::kErrorNoMemory);
    klog::info("vm").msg("mmap").kv("pid", c.p.pid).kv("name", c.p.name).kv("start", klog::hex(start))
        .kv("length", klog::hex(length)).kv("prot", rights_name(uint8_t(prot))).kv("fixed", fixed);
    return int64_t(start);
}
// book:end sys-mmap

// book:begin sys-munmap
int64_t sys_munmap(const Call& c, uint64_t address, uint64_t length) {
    // The process changing its pages is the one whose tables are loaded
    // here; its ProcessTlb invalidates this CPU's TLB and, from chapter 15
    // on, every other CPU's that may still hold them, before flush() returns.
    KASSERT((x86::read_cr3() & ~0xFFFull) == c.m.space.root().value());
    if (const int64_t e = check_range(c, address, length)) return e;
    if (const RegionStatus s = c.m.regions.remove(address, address + length); s != RegionStatus::kOk)
        return refuse(c, "address", address, describe(s),
                      s == RegionStatus::kStackRange ? abi::kErrorInvalid : abi::kErrorNoMemory);
    // The regions are gone first: a page is never refilled while it goes.
    ReleasedFrames freed;
    const uint64_t invlpg_before = c.m.tlb.invalidations();
    const VirtAddr end(address + length);
    for (VirtAddr va = c.m.space.next_present(VirtAddr(address), end); va < end;
         va = c.m.space.next_present(va + kPageSize, end)) {
        UnmappedPage page;
        c.m.space.unmap_page(va, c.m.tlb, &page).flush();  // before the frame or a table is reused
        c.m.owner.release(c.m.space, page, freed);
    }
    klog::info("vm").msg("munmap").kv("pid", c.p.pid).kv("name", c.p.name).kv("start", klog::hex(address))
        .kv("length", klog::hex(length)).kv("pages", freed.pages).kv("tables", freed.tables)
        .kv("borrowed", freed.borrowed).kv("invlpg", c.m.tlb.invalidations() - invlpg_before);
    if (freed.refused != 0) {
        klog::error("vm").msg("frames refused on munmap").kv("pid", c.p.pid).kv("refused", freed.refused);
        kernel::fail();
    }
    return 0;
}
// book:end sys-munmap

// book:begin sys-mprotect
int64_t sys_mprotect(const Call& c, uint64_t address, uint64_t length, uint64_t prot) {
    KASSERT((x86::read_cr3() & ~0xFFFull) == c.m.space.root().value());  // as in sys_munmap
    if (const int64_t e = check_range(c, address, length)) return e;
    if (const int64_t e = check_prot(c, prot)) return e;
    if (const RegionStatus s = c.m.regions.protect(address, address + length, uint8_t(prot)); s != RegionStatus::kOk)
        return refuse(c, s == RegionStatus::kFileWritable || s == RegionStatus::kExecuteNotFile ? "prot" : "address",
                      s == RegionStatus::kFileWritable || s == RegionStatus::kExecuteNotFile ? prot : address, describe(s),
                      s == RegionStatus::kFileWritable || s == RegionStatus::kExecuteNotFile ? abi::kErrorAccess
                      : s == RegionStatus::kStackRange ? abi::kErrorInvalid
                                                       : abi::kErrorNoMemory);
    const uint64_t wanted = region_leaf_flags(uint8_t(prot));
    const uint64_t invlpg_before = c.m.tlb.invalidations();
    uint64_t changed = 0;
    const VirtAddr end(address + length);
    for (VirtAddr va = c.m.space.next_present(VirtAddr(address), end); va < end;
         va = c.m.space.next_present(va + kPageSize, end)) {
        const PageTableEntry& leaf = *c.m.space.leaf(va);
        const uint64_t flags = c.m.owner.protect_flags(leaf, wanted);  // wanted, unless the frame is shared (ch. 14)
        if ((leaf.raw() & kProtectedLeafBits) == flags) continue;  // already so: nothing to invalidate
        c.m.space.protect_page(va, flags, c.m.tlb).flush();
        ++changed;
    }
    klog::info("vm").msg("mprotect").kv("pid", c.p.pid).kv("name", c.p.name).kv("start", klog::hex(address))
        .kv("length", klog::hex(length)).kv("prot", rights_name(uint8_t(prot))).kv("changed", changed)
        .kv("invlpg", c.m.tlb.invalidations() - invlpg_before);
    return 0;
}
// book:end sys-mprotect

}  // namespace

int64_t handle_memory_syscall(kernel::SyscallFrame& frame) {
    const Process* p = current_process();
    ProcessMemory* m = current_memory();
    KASSERT(p != nullptr && m != nullptr);
    switch (abi::MemorySyscall(frame.number)) {
        case abi::MemorySyscall::kMmap: return sys_mmap({*p, *m, "mmap"}, frame.arg[0], frame.arg[1], frame.arg[2]);
        case abi::MemorySyscall::kMunmap: return sys_munmap({*p, *m, "munmap"}, frame.arg[0], frame.arg[1]);
        case abi::MemorySyscall::kMprotect:
            return sys_mprotect({*p, *m, "mprotect"}, frame.arg[0], frame.arg[1], frame.arg[2]);
    }
    if (abi::Syscall(frame.number) == abi::Syscall::kWrite) hold_with_usage_if_requested(*p, *m);  // vm.hold=NAME
    return handle_syscall(frame);
}

}  // namespace mm
