# User programs (chapter 12 on): small freestanding C++ programs that the
# loader reads from \user\*.elf on the ESP as boot modules.
#
# A chapter names its programs in chapter.mk (CHAPTER_USER_PROGRAMS: hello,
# read-kernel, …); each is chapters/NN-name/user/NAME.cpp, linked with the
# user runtime (common/user: crt0.S, user.h) by common/user/user.ld into
#   build/NN-name/user/NAME.elf
# and mk/kernel.mk puts them on the chapter's disk image. Not kernel code: no
# -mcmodel=kernel, no kernel headers; the one thing shared with the kernel is
# the system-call interface, common/include/abi/syscalls.h.

USER_CXXFLAGS := -std=c++20 -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics \
    -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables -nostdlib \
    -fno-pic -fno-pie -fno-delete-null-pointer-checks -mgeneral-regs-only -O2 -g -Wall -Wextra -Werror=return-type -Icommon/include -Icommon
USER_LDFLAGS := -nostdlib -static -no-pie -z max-page-size=0x1000 -z noexecstack --build-id=none -T common/user/user.ld

USER_RUNTIME_OBJS := $(BUILD)/user-runtime/crt0.S.o

$(BUILD)/user-runtime/crt0.S.o: common/user/crt0.S mk/user.mk
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CXX) -c $< -o $@

# user_program_rules(CHAPTER): build/CHAPTER/user/NAME.elf from chapters/CHAPTER/user/NAME.cpp.
define user_program_rules
$(BUILD)/$(1)/user/%.o: chapters/$(1)/user/%.cpp mk/user.mk
	@mkdir -p $$(dir $$@)
	@echo "  CXX     $$< (user)"
	$(Q)$$(CXX) $$(USER_CXXFLAGS) -MMD -MP -c $$< -o $$@
$(BUILD)/$(1)/user/%.elf: $(BUILD)/$(1)/user/%.o $(USER_RUNTIME_OBJS) common/user/user.ld
	@echo "  LD      $$@"
	$(Q)$$(LD) $$(USER_LDFLAGS) -o $$@ $(USER_RUNTIME_OBJS) $$<
-include $(BUILD)/$(1)/user/*.d
# Kept: deleted as intermediates, they were rebuilt by the next make (once the
# .d files name them), relinking every program and remaking the disk image.
.PRECIOUS: $(BUILD)/$(1)/user/%.o
endef
