# Chapter 13 maps a program's memory on first touch: per-process regions
# (user_regions), what a fault in one means (demand_fault), unmapping and
# reprotecting live pages (user_page_changes), and in the kernel the running
# process's memory (kernel/process_memory) and the TLBs that may cache it
# (kernel/process_tlb), the first-touch path
# (kernel/demand_faults), mmap/munmap/mprotect (kernel/memory_syscalls), the
# runner (kernel/demand_processes) and the tests' hold point at exit
# (kernel/vm_hold), on chapter 12's kernel.
CHAPTER_BASE := 12-user-space
CHAPTER_NEW_MODULES := user_regions demand_fault user_page_changes kernel/process_memory kernel/process_tlb kernel/demand_faults \
    kernel/memory_syscalls kernel/demand_processes kernel/vm_hold
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := demand_paging_test
# The programs on its disk image, \user\NAME.elf (chapters/13-demand-paging/user/NAME.cpp, mk/user.mk).
CHAPTER_USER_PROGRAMS := sparse mmap-rules grow-stack no-region write-rodata exec-data stack-overflow \
    protect-then-write
