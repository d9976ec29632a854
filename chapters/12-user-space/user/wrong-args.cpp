// Arguments the kernel refuses without ending the program: a write to a file
// descriptor other than the console, a write longer than one line, and a
// system call number that does not exist. Each comes back as -errno, with a
// `refused` line naming the field; the program checks each and exits 0.
#include "user/user.h"

int main() {
    static const char text[300] = "x";
    const int64_t bad_fd = user::write(2, text, 1);                        // -EBADF
    const int64_t too_long = user::write(1, text, sizeof(text));           // -EINVAL: more than 256 bytes
    const int64_t no_call = user::syscall3(abi::Syscall(99), 0, 0, 0);     // -ENOSYS
    const bool ok = bad_fd == -abi::kErrorBadFd && too_long == -abi::kErrorInvalid && no_call == -abi::kErrorNoSuchCall;
    if (ok) user::print("wrong-args: every refusal came back as its error");
    return ok ? 0 : 1;
}
