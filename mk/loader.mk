# BOOTX64.EFI: the GNU-EFI loader, shared by every chapter.
#
# GNU-EFI builds a UEFI application as an ELF shared object (position
# independent, relocated at load time by GNU-EFI's _relocate) and then converts
# it to PE32+ with objcopy. The sections kept by objcopy are the ones the
# linker script /usr/lib/elf_x86_64_efi.lds produces.

EFI_INC     := /usr/include/efi
EFI_LIB     := /usr/lib
EFI_CRT0    := $(EFI_LIB)/crt0-efi-x86_64.o
EFI_LDS     := $(EFI_LIB)/elf_x86_64_efi.lds

LOADER_DIR  := common/boot
LOADER_OUT  := $(BUILD)/loader
LOADER_SRCS := $(wildcard $(LOADER_DIR)/*.cpp)
LOADER_ASM_SRCS := $(wildcard $(LOADER_DIR)/*.S)
# The kernel's typed page-table pieces, shared so the bootstrap tables are
# built by the same builder and policies as the kernel's (bootstrap_mappings.h).
LOADER_MM_SRCS := common/mm/page_table_builder.cpp common/mm/page_table_entry.cpp common/mm/mtrr.cpp \
    common/mm/memory_ranges.cpp
LOADER_OBJS := $(patsubst $(LOADER_DIR)/%.cpp,$(LOADER_OUT)/%.o,$(LOADER_SRCS)) \
    $(patsubst $(LOADER_DIR)/%.S,$(LOADER_OUT)/%.o,$(LOADER_ASM_SRCS)) \
    $(patsubst common/mm/%.cpp,$(LOADER_OUT)/mm/%.o,$(LOADER_MM_SRCS))
LOADER_EFI  := $(LOADER_OUT)/BOOTX64.EFI

# -fpic: the firmware loads us anywhere. -fshort-wchar: CHAR16 strings.
# -mno-red-zone: firmware interrupt handlers run on our stack.
# -fno-zero-initialized-in-bss: GNU-EFI's linker script collects only plain .bss,
# not the .bss.* sections of C++ inline variables, and objcopy would drop those.
# -fvisibility=hidden: every symbol is addressed PC-relative. Otherwise C++ inline
# variables (STB_GNU_UNIQUE) are reached through GOT slots with R_X86_64_GLOB_DAT
# relocations, which GNU-EFI's _relocate ignores: they would point nowhere.
# GNU_EFI_USE_MS_ABI: call firmware functions directly with the ms_abi attribute.
LOADER_CXXFLAGS := $(CXX_COMMON) -fpic -fvisibility=hidden -fno-zero-initialized-in-bss -fshort-wchar -mno-red-zone -mgeneral-regs-only \
    -DGNU_EFI_USE_MS_ABI -DEFI_FUNCTION_WRAPPER \
    -I$(EFI_INC) -I$(EFI_INC)/x86_64 -I$(EFI_INC)/protocol -Icommon/include -Icommon -I$(LOADER_DIR)

$(LOADER_OUT)/%.o: $(LOADER_DIR)/%.cpp | $(LOADER_OUT)/
	@echo "  CXX     $<"
	$(Q)$(CXX) $(LOADER_CXXFLAGS) -MMD -MP -c $< -o $@

$(LOADER_OUT)/%.o: $(LOADER_DIR)/%.S | $(LOADER_OUT)/
	@echo "  AS      $<"
	$(Q)$(CXX) $(LOADER_CXXFLAGS) -MMD -MP -c $< -o $@

# After linking, refuse any relocation but R_X86_64_RELATIVE: GNU-EFI's
# _relocate applies only those, so any other kind would be silently wrong.
$(LOADER_OUT)/loader.so: $(LOADER_OBJS)
	@echo "  LD      $@"
	$(Q)$(LD) -nostdlib -znocombreloc -T $(EFI_LDS) -shared -Bsymbolic -L$(EFI_LIB) \
	    $(EFI_CRT0) $^ -o $@.tmp -lefi -lgnuefi
	@if readelf -rW $@.tmp | grep -E '^[0-9a-f]+ +[0-9a-f]+ R_X86_64_' | grep -v R_X86_64_RELATIVE; then \
	    echo "error: $@ has relocations GNU-EFI cannot apply (see above)" >&2; rm -f $@.tmp; exit 1; fi
	$(Q)mv $@.tmp $@

$(LOADER_EFI): $(LOADER_OUT)/loader.so
	@echo "  EFI     $@"
	$(Q)$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela -j .rel.* -j .rela.* \
	    -j .reloc --target=efi-app-x86_64 --subsystem=10 $< $@

$(LOADER_OUT)/mm/%.o: common/mm/%.cpp
	@mkdir -p $(dir $@)
	@echo "  CXX     $<"
	$(Q)$(CXX) $(LOADER_CXXFLAGS) -MMD -MP -c $< -o $@

-include $(LOADER_OBJS:.o=.d)

# Flags live in these files: a change to them rebuilds the loader.
$(LOADER_OBJS): mk/loader.mk Makefile
