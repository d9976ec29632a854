# Chapter 14 clones an address space copy-on-write: per-frame reference
# counts beside the frame allocator (frame_ref_counts, kernel/frame_counts),
# the clone and the write fault that breaks the sharing (copy_on_write,
# cow_write_fault), frames given back at their last reference (counted_pages),
# the audit of what is shared (cow_audit, user_leaves), and in the kernel a
# cooperative scheduler (kernel/scheduler), fork/yield/wait
# (kernel/process_syscalls), the fault path (kernel/cow_faults), the runner
# (kernel/forking_processes) and the tests' hooks (kernel/cow_hold,
# kernel/fork_oom_test), on chapter 13's kernel.
CHAPTER_BASE := 13-demand-paging
CHAPTER_NEW_MODULES := frame_ref_counts copy_on_write cow_write_fault counted_pages cow_audit user_leaves \
    kernel/frame_counts kernel/scheduler kernel/process_syscalls kernel/cow_faults kernel/forking_processes \
    kernel/cow_hold kernel/fork_oom_test
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := copy_on_write_test
# The programs on its disk image, \user\NAME.elf (chapters/14-copy-on-write/user/NAME.cpp, mk/user.mk).
CHAPTER_USER_PROGRAMS := children fork-cow orphan wait-rules
