# Kernels: the shared runtime (common/kernel) compiled once, plus each chapter.
#
# Per chapter NN-name:
#   build/NN-name/kernel.elf        the kernel, with symbols for GDB
#   build/NN-name/esp/              EFI/BOOT/BOOTX64.EFI, kernel.elf (debug info stripped), cmdline.txt
#   build/NN-name/disk.img          FAT image of esp/, made with mtools (no root, no loop mounts)

KERNEL_CXXFLAGS := $(CXX_COMMON) -mcmodel=kernel -mno-red-zone -mgeneral-regs-only -fno-pic -fno-pie \
    -fno-omit-frame-pointer -Icommon/include -Icommon
# A chapter's own code also reaches the chapters it builds on, by folder:
# "05-paging/memory_manager.h" (tests/test_structure.py keeps it to the lineage).
CHAPTER_CXXFLAGS := $(KERNEL_CXXFLAGS) -Ichapters
KERNEL_ASFLAGS  := -Icommon/include
KERNEL_LDFLAGS  := -nostdlib -static -z max-page-size=0x1000 -z noexecstack --build-id=none -T common/kernel/kernel.ld

RUNTIME_SRCS := $(filter-out common/kernel/chapter_identity.cpp,$(wildcard common/kernel/*.cpp)) $(wildcard common/kernel/*.S)
RUNTIME_OBJS := $(patsubst common/kernel/%,$(BUILD)/common/kernel/%.o,$(RUNTIME_SRCS))

# The screen console's font (common/kernel/screen_font.h): a PSF file of
# Debian's console-setup-linux (scripts/install-deps.sh installs it), turned
# into a C++ array at build time and never committed.
SCREEN_FONT_PSF := /usr/share/consolefonts/Lat15-Fixed16.psf.gz
SCREEN_FONT_CPP := $(BUILD)/generated/screen_font.cpp
$(SCREEN_FONT_CPP): scripts/psf_to_cpp.py $(SCREEN_FONT_PSF)
	@mkdir -p $(dir $@)
	@echo "  FONT    $(SCREEN_FONT_PSF)"
	$(Q)$(PYTHON) scripts/psf_to_cpp.py $(SCREEN_FONT_PSF) $@
$(SCREEN_FONT_CPP).o: $(SCREEN_FONT_CPP)
	@echo "  CXX     $<"
	$(Q)$(CXX) $(KERNEL_CXXFLAGS) -MMD -MP -c $< -o $@
RUNTIME_OBJS += $(SCREEN_FONT_CPP).o

CHAPTERS := $(notdir $(patsubst %/,%,$(sort $(dir $(wildcard chapters/*/kernel_main.cpp)))))

# The runtime every chapter links (the base set) is common/kernel less the
# modules a chapter declares as its own (CHAPTER_NEW_RUNTIME in chapter.mk);
# a chapter links the base set and the runtime modules of its lineage.
CHAPTER_RUNTIME :=
$(foreach c,$(CHAPTERS),$(eval CHAPTER_NEW_RUNTIME :=)$(eval include chapters/$(c)/chapter.mk)\
    $(eval CHAPTER_RUNTIME += $$(CHAPTER_NEW_RUNTIME)))
RUNTIME_BASE_OBJS := $(filter-out $(foreach m,$(CHAPTER_RUNTIME),$(BUILD)/common/kernel/$(m).cpp.o),$(RUNTIME_OBJS))

$(BUILD)/common/%.cpp.o: common/%.cpp | $(BUILD)/common/kernel/ $(BUILD)/common/mm/
	@mkdir -p $(dir $@)
	@echo "  CXX     $<"
	$(Q)$(CXX) $(KERNEL_CXXFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/common/%.S.o: common/%.S | $(BUILD)/common/kernel/
	@echo "  AS      $<"
	$(Q)$(CXX) $(KERNEL_ASFLAGS) -MMD -MP -c $< -o $@

# chapter_template(NAME): the rules for one chapter folder. Its chapter.mk
# names the chapter it builds on (CHAPTER_BASE, evaluated earlier: chapters go
# in order) and the common/mm modules and runtime modules it adds; its kernel
# links the base's modules and those.
define chapter_template
CHAPTER_BASE :=
CHAPTER_NEW_MODULES :=
CHAPTER_NEW_RUNTIME :=
CHAPTER_HOST_TESTS :=
CHAPTER_USER_PROGRAMS :=
CHAPTER_BASE_PROGRAMS :=
include chapters/$(1)/chapter.mk
$$(if $$(CHAPTER_BASE),$$(if $$(filter $$(CHAPTER_BASE),$$(CHAPTERS_SO_FAR)),,\
    $$(error chapters/$(1)/chapter.mk: CHAPTER_BASE $$(CHAPTER_BASE) is not a chapter before $(1))))
$(1)_MM_MODULES := $$(if $$(CHAPTER_BASE),$$($$(CHAPTER_BASE)_MM_MODULES)) $$(CHAPTER_NEW_MODULES)
$(1)_RUNTIME_MODULES := $$(if $$(CHAPTER_BASE),$$($$(CHAPTER_BASE)_RUNTIME_MODULES)) $$(CHAPTER_NEW_RUNTIME)
# The user programs on its image (mk/user.mk), \user\NAME.elf: its own, and
# those of its base it runs again (CHAPTER_BASE_PROGRAMS).
$$(foreach p,$$(CHAPTER_BASE_PROGRAMS),$$(if $$(filter $$(p),$$($$(CHAPTER_BASE)_USER_PROGRAMS)),,\
    $$(error chapters/$(1)/chapter.mk: CHAPTER_BASE_PROGRAMS names $$(p), not a program of $$(CHAPTER_BASE))))
$(1)_USER_PROGRAMS := $$(CHAPTER_USER_PROGRAMS)
$(1)_USER_ELFS := $$(strip $$(foreach p,$$(CHAPTER_USER_PROGRAMS),$(BUILD)/$(1)/user/$$(p).elf) \
    $$(foreach p,$$(CHAPTER_BASE_PROGRAMS),$(BUILD)/$$(CHAPTER_BASE)/user/$$(p).elf))
$$(if $$(CHAPTER_USER_PROGRAMS),$$(eval $$(call user_program_rules,$(1))))
CHAPTERS_SO_FAR += $(1)
$(1)_OBJS := $$(patsubst chapters/$(1)/%.cpp,$(BUILD)/$(1)/obj/%.o,$$(wildcard chapters/$(1)/*.cpp)) \
    $(BUILD)/$(1)/obj/chapter_identity.o \
    $$(foreach m,$$($(1)_MM_MODULES),$(BUILD)/common/mm/$$(m).cpp.o) \
    $$(foreach m,$$($(1)_RUNTIME_MODULES),$(BUILD)/common/kernel/$$(m).cpp.o)

$(BUILD)/$(1)/obj/%.o: chapters/$(1)/%.cpp | $(BUILD)/$(1)/obj/
	@echo "  CXX     $$<"
	$(Q)$$(CXX) $$(CHAPTER_CXXFLAGS) -Ichapters/$(1) -MMD -MP -c $$< -o $$@
# The options the chapter's sources read, for the kernel to name the others.
$(BUILD)/$(1)/generated/known_options.inc: $$(wildcard chapters/$(1)/*.cpp) $(RUNTIME_SRCS) \
        $$(foreach m,$$($(1)_MM_MODULES),common/mm/$$(m).cpp) chapters/$(1)/chapter.mk \
        scripts/known_options.py tests/harness/asked_outcome.py
	@mkdir -p $$(dir $$@)
	$(Q)$(PYTHON) scripts/known_options.py $(1) $$@
$(BUILD)/$(1)/obj/chapter_identity.o: common/kernel/chapter_identity.cpp $(BUILD)/$(1)/generated/known_options.inc | $(BUILD)/$(1)/obj/
	@echo "  CXX     $$< ($(1))"
	$(Q)$$(CXX) $$(KERNEL_CXXFLAGS) -DCHAPTER_NAME='"$(1)"' -I$(BUILD)/$(1) -MMD -MP -c $$< -o $$@

$(BUILD)/$(1)/kernel.elf: $$($(1)_OBJS) $(RUNTIME_BASE_OBJS) common/kernel/kernel.ld
	@echo "  LD      $$@"
	$(Q)$$(LD) $$(KERNEL_LDFLAGS) -o $$@ $$($(1)_OBJS) $(RUNTIME_BASE_OBJS)

# The image's cmdline.txt is empty: `make run CMDLINE=...` and the tests write
# theirs into the copy they boot, so a command line never rebuilds an image.
$(BUILD)/$(1)/disk.img: $(BUILD)/$(1)/kernel.elf $(LOADER_EFI) scripts/make-esp-image.sh $$($(1)_USER_ELFS) \
        chapters/$(1)/chapter.mk
	@echo "  IMAGE   $$@"
	$(Q)OBJCOPY=$(OBJCOPY) USER_ELFS="$$($(1)_USER_ELFS)" scripts/make-esp-image.sh $$@ $(LOADER_EFI) $(BUILD)/$(1)/kernel.elf

-include $$($(1)_OBJS:.o=.d)
endef

CHAPTERS_SO_FAR :=
$(foreach c,$(CHAPTERS),$(eval $(call chapter_template,$(c))))
CHAPTER_IMAGES := $(foreach c,$(CHAPTERS),$(BUILD)/$(c)/disk.img)

-include $(RUNTIME_OBJS:.o=.d)

# Flags live in these files: a change to them rebuilds every kernel object.
$(RUNTIME_OBJS) $(foreach c,$(CHAPTERS),$($(c)_OBJS)): mk/kernel.mk Makefile
