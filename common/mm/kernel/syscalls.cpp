#include "mm/kernel/syscalls.h"

#include "abi/syscalls.h"
#include "mm/kernel/processes.h"
#include "mm/kernel/sysret_hazard_test.h"
#include "mm/kernel/user_hold.h"
#include "mm/user_layout.h"
#include "support/log.h"
#include "support/str.h"

namespace mm {
namespace {

// book:begin kill-for-pointer
// A system call given a pointer the program may not pass: the program is
// killed, as a fault of its own would kill it. The report names the call,
// the argument, its value and the rule.
[[noreturn]] void kill_for_pointer(const Process& p, const char* call, const Violation& v, const char* rule,
                                   uint64_t fault_address) {
    {  // the line is written when it goes out of scope: before leave_user, which does not return
        klog::Line line = klog::warn("user");
        line.msg("killed").kv("pid", p.pid).kv("name", p.name).kv("rule", rule).kv("call", call).kv("field", v.field)
            .kv("value", klog::hex(v.value));
        if (fault_address != 0) line.kv("addr", klog::hex(fault_address));
        line.kv("why", v.rule);
    }
    kernel::leave_user({kernel::UserEnd::kKilled, -1});
}
// book:end kill-for-pointer

int64_t refuse(const Process& p, const char* call, const char* field, uint64_t value, const char* rule, int64_t error) {
    klog::warn("user").msg("refused").kv("pid", p.pid).kv("name", p.name).kv("call", call).kv("field", field)
        .kv("value", klog::hex(value)).kv("rule", rule).kv("returns", int(-error));
    return -error;
}

// book:begin sys-write
int64_t sys_write(const Process& p, uint64_t fd, uint64_t buffer, uint64_t count) {
    if (fd != 1) return refuse(p, "write", "fd", fd, "must be 1 (the console)", abi::kErrorBadFd);
    if (Violation v = check_user_range("buffer", buffer, count); !v.ok()) kill_for_pointer(p, "write", v, "bad-user-pointer", 0);
    if (count > abi::kMaxWriteBytes) return refuse(p, "write", "count", count, "must be at most 256", abi::kErrorInvalid);
    char text[abi::kMaxWriteBytes];
    uint64_t fault = 0;
    if (Violation v = copy_from_user(text, buffer, count, &fault); !v.ok())
        kill_for_pointer(p, "write", v, "user-pointer-fault", fault);
    // One log line: a trailing newline ends it, anything unprintable is a dot.
    uint64_t shown = count;
    while (shown > 0 && (text[shown - 1] == '\n' || text[shown - 1] == '\r')) --shown;
    for (uint64_t i = 0; i < shown; ++i)
        if (text[i] < 0x20 || text[i] > 0x7e || text[i] == '"') text[i] = '.';
    klog::info("user").msg("write").kv("pid", p.pid).kv("name", p.name).kv("bytes", count).kv("text", Str(text, shown));
    return int64_t(count);
}
// book:end sys-write

}  // namespace

// book:begin copy-from-user-impl
Violation copy_from_user(void* to, uint64_t user_address, uint64_t bytes, uint64_t* fault_address) {
    if (Violation v = check_user_range("buffer", user_address, bytes); !v.ok()) return v;
    const uint64_t left = kernel::copy_user_bytes(to, reinterpret_cast<const void*>(user_address), bytes, fault_address);
    if (left != 0) return reject("buffer", user_address, "the copy from the program faulted: not mapped, or not readable");
    return accept();
}
// book:end copy-from-user-impl

Violation copy_to_user(uint64_t user_address, const void* from, uint64_t bytes, uint64_t* fault_address) {
    if (Violation v = check_user_range("buffer", user_address, bytes); !v.ok()) return v;
    const uint64_t left = kernel::copy_user_bytes(reinterpret_cast<void*>(user_address), from, bytes, fault_address);
    if (left != 0) return reject("buffer", user_address, "the copy to the program faulted: not mapped, or not writable");
    return accept();
}

// book:begin handle-syscall
int64_t handle_syscall(kernel::SyscallFrame& frame) {
    const Process* p = current_process();
    KASSERT(p != nullptr);
    hold_in_program_if_requested(*p);  // user.hold=NAME: tests read QEMU's view under this CR3 (user_hold.h)
    damage_sysret_rip_if_requested(*p, frame);  // test.sysret-rip=NAME (sysret_hazard_test.h)
    switch (abi::Syscall(frame.number)) {
        case abi::Syscall::kWrite: return sys_write(*p, frame.arg[0], frame.arg[1], frame.arg[2]);
        case abi::Syscall::kExit: kernel::leave_user({kernel::UserEnd::kExit, int64_t(frame.arg[0])});
        case abi::Syscall::kGetPid:
            klog::info("user").msg("getpid").kv("pid", p->pid).kv("name", p->name);
            return int64_t(p->pid);
    }
    return refuse(*p, "syscall", "number", frame.number, "must be write (1), exit (2) or getpid (3)", abi::kErrorNoSuchCall);
}
// book:end handle-syscall

}  // namespace mm
