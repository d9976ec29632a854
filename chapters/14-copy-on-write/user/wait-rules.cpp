// wait()'s rules: no child, a status pointer outside the user half, one into
// the program's own text (read-only: the kernel's copy to it faults), one
// where nothing is mapped; each is refused by name and returns the error
// below, and the child stays to be waited for until a good pointer comes.
#include "abi/memory_syscalls.h"
#include "user/process.h"
#include "user/text.h"

constexpr int kChildCode = 3;

int main() {
    const int64_t no_child = user::wait(nullptr);                              // -ECHILD
    const int64_t pid = user::fork();
    if (pid < 0) return 10;
    if (pid == 0) return kChildCode;
    auto* kernel = reinterpret_cast<int64_t*>(0xFFFF'8000'0000'0000ull);
    const int64_t kernel_pointer = user::wait(kernel);                         // -EFAULT, at once
    auto* text = reinterpret_cast<int64_t*>(reinterpret_cast<uint64_t>(&main) & ~uint64_t(7));
    const int64_t text_pointer = user::wait(text);                             // waits, then -EFAULT
    auto* nowhere = reinterpret_cast<int64_t*>(0x2000'0000'0000ull);
    const int64_t unmapped = user::wait(nowhere);                              // -EFAULT
    int64_t status = 0;
    const int64_t waited = user::wait(&status);                                // the child, at last
    const int64_t again = user::wait(&status);                                 // -ECHILD
    user::Text().add("no-child=").sdec(no_child).add(" kernel-pointer=").sdec(kernel_pointer).add(" text=")
        .sdec(text_pointer).add(" unmapped=").sdec(unmapped).add(" waited=").sdec(waited).add(" status=")
        .sdec(status).add(" again=").sdec(again).print();
    const bool ok = no_child == -abi::kErrorNoChild && kernel_pointer == -abi::kErrorFault &&
                    text_pointer == -abi::kErrorFault && unmapped == -abi::kErrorFault && waited == pid &&
                    status == kChildCode && again == -abi::kErrorNoChild;
    return ok ? 0 : 1;
}
