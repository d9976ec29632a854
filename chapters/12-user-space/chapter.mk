# Chapter 12 gives the lower half to one program at a time: the user-ELF
# reader (user_elf), the lower half's layout and the user-range check
# (user_layout), a process's page tables (user_address_space) and their audit
# (user_audit), the kernel half shared by every process (kernel/kernel_half),
# the processes and their system calls and faults (kernel/processes,
# kernel/syscalls, kernel/user_faults, and the tests' hold point
# kernel/user_hold and SYSRET-hazard hook kernel/sysret_hazard_test), on
# chapter 11's kernel.
CHAPTER_BASE := 11-heap
CHAPTER_NEW_MODULES := user_elf user_layout user_address_space user_audit kernel/kernel_half kernel/processes \
    kernel/syscalls kernel/user_faults kernel/user_hold kernel/sysret_hazard_test
# The ring-3 plumbing in the runtime: user segments, SYSCALL/SYSRET, the user copy.
CHAPTER_NEW_RUNTIME := user_mode
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := user_space_test
# The programs on its disk image, \user\NAME.elf (chapters/12-user-space/user/NAME.cpp, mk/user.mk).
CHAPTER_USER_PROGRAMS := hello null-read read-kernel write-text exec-stack privileged kernel-pointer wild-pointer \
    wild-length wrong-args
