// load-gs: a program that loads GS itself, then makes system calls on every
// CPU (chapter 15).
//
// The kernel keeps each CPU's data at GS's base (mm/kernel/per_cpu.h). Any
// program may load GS with a selector of its own; its data selector 0x33 sets
// GS's base to the descriptor's, 0. A kernel that trusted GS on entry would
// then read its per-CPU block from address 0 in the next system call or
// fault. This one swaps the base on every entry from ring 3 (SWAPGS). So on
// each of 8 turns — each on the next CPU, so on every CPU of up to 8 — the
// program maps a page, touches it (a page fault from ring 3), unmaps it (a
// system call that asks which CPU it runs on) and yields, and each works as
// in any other program. The kernel does not reload GS on the way back, and
// the scheduler keeps the selector with the program from CPU to CPU: it is
// still there after every turn.
#include "user/memory.h"
#include "user/process.h"
#include "user/text.h"

namespace {

constexpr uint16_t kUserDataSelector = 0x33;  // the kernel's kUserDataSelector: GDT entry 6, RPL 3
constexpr uint64_t kPage = 4096, kTurns = 8;

uint16_t gs_selector() {
    uint16_t selector;
    asm volatile("mov %%gs, %0" : "=r"(selector));
    return selector;
}

}  // namespace

int main() {
    asm volatile("mov %0, %%gs" : : "r"(kUserDataSelector) : "memory");  // GS's base: 0, the descriptor's
    const uint16_t loaded = gs_selector();
    const int64_t written = user::Text().add("load-gs loaded gs=").hex(loaded).add(" base=0").print();
    uint64_t good_turns = 0;
    for (uint64_t turn = 0; turn < kTurns; ++turn) {
        const int64_t base = user::mmap(0, kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
        if (base < 0) return 10;
        volatile uint64_t* word = reinterpret_cast<volatile uint64_t*>(base);
        *word = 0x6a5 + turn;  // the first touch: a page fault in ring 3, handled with the kernel's GS
        const bool touched = *word == 0x6a5 + turn;
        const int64_t unmapped = user::munmap(uint64_t(base), kPage);
        const int64_t yielded = user::yield();  // to the next CPU
        good_turns += touched && unmapped == 0 && yielded == 0 && gs_selector() == kUserDataSelector;
    }
    user::Text().add("load-gs turns=").dec(kTurns).add(" good=").dec(good_turns).add(" gs-after=").hex(gs_selector())
        .print();
    return loaded == kUserDataSelector && written > 0 && good_turns == kTurns ? 0 : 1;
}
