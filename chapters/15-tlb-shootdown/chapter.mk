# Chapter 15 runs the kernel on every CPU and keeps their TLBs consistent:
# the MADT's processors (madt_cpus), the ICR's encodings (apic_icr), CPU sets
# (cpu_mask.h) and the shootdown's bookkeeping (shootdown_batch); in the
# kernel each CPU's local APIC (kernel/local_apic), the HPET as a clock
# (kernel/hpet_clock), the real-mode trampoline (kernel/ap_trampoline),
# per-CPU data through GS (kernel/per_cpu), the IDT's IPI gates
# (kernel/cpu_interrupts), the bring-up phase and the mailbox
# (kernel/cpu_startup) with its test hook (kernel/silent_cpu_test), the
# IPI transport (kernel/tlb_shootdown), the stale read shown
# (kernel/stale_read), the scripted unmaps (kernel/shootdown_script) and
# chapter 14's processes on every CPU (kernel/process_cpus) with its test
# hook (kernel/lazy_cpus_test), on chapter 14's kernel.
CHAPTER_BASE := 14-copy-on-write
CHAPTER_NEW_MODULES := madt_cpus apic_icr shootdown_batch kernel/local_apic kernel/hpet_clock kernel/ap_trampoline \
    kernel/per_cpu kernel/cpu_interrupts kernel/cpu_startup kernel/silent_cpu_test kernel/tlb_shootdown \
    kernel/stale_read kernel/shootdown_script kernel/process_cpus \
    kernel/lazy_cpus_test
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := tlb_shootdown_test
# The programs on its disk image: its own (chapters/15-tlb-shootdown/user/NAME.cpp,
# mk/user.mk), and two of chapter 14's, which now run on every CPU.
CHAPTER_USER_PROGRAMS := hop load-gs
CHAPTER_BASE_PROGRAMS := fork-cow children
