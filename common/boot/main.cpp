// BOOTX64.EFI: loads \kernel.elf and hands the machine over to it.
//
// Read top to bottom, efi_main is the boot contract of DESIGN.md:
//   1. read \cmdline.txt and \kernel.elf from the boot volume; validate and place the kernel;
//      read the user programs, \user\*.elf, as boot modules (none without a \user folder)
//   2. collect what only the firmware knows (GOP framebuffer, ACPI RSDP)
//   3. allocate everything the kernel is handed (boot stack, map buffer, bootstrap tables)
//   4. take the final memory map and exit boot services (nothing allocated after)
//   5. load CR3 (at four levels, or five when the command line asks and the CPU can)
//      and jump to the kernel with the handoff, through a trampoline page
// Every page handed over is allocated under one of our own memory types, so the
// kernel can find it in the map by name.
#include "boot/handoff.h"
#include "boot/uefi_memory.h"
#include "boot/boot_modules.h"
#include "boot/boot_volume.h"
#include "boot/bootstrap_paging.h"
#include "arch/x86/cpu.h"
#include "boot/efi.h"
#include "boot/enter_kernel.h"
#include "boot/final_memory_map.h"
#include "boot/firmware_memory.h"
#include "boot/firmware_tables.h"
#include "boot/kernel_file_check.h"
#include "boot/handover_trampoline.h"
#include "boot/kernel_image.h"
#include "boot/la57_imitation.h"
#include "boot/loader_log.h"
#include "boot/paging_handover.h"
#include "boot/paging_mode.h"
#include "support/command_line.h"
#include "support/units.h"

namespace boot {
namespace {

constexpr uint64_t kBootStackSize = 64 * KiB;

void log_start(EFI_SYSTEM_TABLE* system_table, const EFI_LOADED_IMAGE& loaded) {
    char vendor[48] = {};
    for (size_t i = 0; i + 1 < sizeof(vendor) && system_table->FirmwareVendor[i]; ++i)
        vendor[i] = char(system_table->FirmwareVendor[i] & 0x7f);
    // image-base: where BOOTX64.EFI runs, for GDB's add-symbol-file (README, "Debugging").
    klog::info("loader")
        .msg("start")
        .kv("firmware", vendor)
        .kv("uefi", klog::hex(system_table->Hdr.Revision))
        .kv("image-base", klog::hex(reinterpret_cast<uint64_t>(loaded.ImageBase)));
}

// Our tables are 4-level; a firmware that left 5-level paging on is left
// through the handover trampoline at the jump (paging_mode.h), unless the
// kernel's command line asks for five levels (paging_handover.h).
void check_firmware_paging(EFI_HANDLE image) {
    const uint64_t cr4 = x86::read_cr4();
    if (const Violation v = check_paging_mode(cr4, x86::cpu_has_la57()); !v.ok()) {
        klog::error("loader").msg("unsupported paging mode").kv("field", v.field).kv("value", v.value).kv(
            "cpu-la57", x86::cpu_has_la57()).kv("rule", v.rule);
        loader_fail(image, EFI_UNSUPPORTED);
    }
    if (paging_levels(cr4) == 5)
        klog::info("loader").msg("firmware paging").kv("levels", 5).kv("via", "trampoline");
}

// \cmdline.txt is optional; when present it must fit the handoff and be text.
void read_command_line(EFI_HANDLE image, EFI_FILE_HANDLE root, BootHandoff* handoff) {
    FileContents file{};
    const EFI_STATUS status = read_file(root, u"\\cmdline.txt", 64 * KiB, &file);
    if (status == EFI_NOT_FOUND) return;
    if (EFI_ERROR(status)) {
        klog::error("loader").msg("cannot read file").kv("path", "\\cmdline.txt").kv("status", efi_status_text(status));
        loader_fail(image, status);
    }
    uint64_t length = file.size;
    while (length > 0 && (file.data[length - 1] == '\n' || file.data[length - 1] == '\r' || file.data[length - 1] == ' '))
        --length;
    if (length >= kCommandLineCapacity) {
        klog::error("loader").msg("command line rejected").kv("field", "cmdline.txt").kv("value", length).kv(
            "rule", "must be at most 255 bytes");
        loader_fail(image, EFI_BAD_BUFFER_SIZE);
    }
    for (uint64_t i = 0; i < length; ++i) {
        char c = char(file.data[i]);
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
        if (c < 0x20 || c > 0x7e) {
            klog::error("loader").msg("command line rejected").kv("field", "cmdline.txt").kv("value", klog::hex(uint8_t(c))).kv(
                "rule", "must be printable ASCII");
            loader_fail(image, EFI_INVALID_PARAMETER);
        }
        handoff->command_line[i] = c;
    }
    FreePool(file.data);
}

LoadedKernel read_and_load_kernel(EFI_HANDLE image, EFI_FILE_HANDLE root) {
    FileContents file{};
    const EFI_STATUS status = read_file(root, u"\\kernel.elf", kMaxKernelFileSize, &file);
    if (EFI_ERROR(status)) {
        klog::error("loader").msg("cannot read kernel").kv("path", "\\kernel.elf").kv("status", efi_status_text(status));
        loader_fail(image, status);
    }
    klog::info("loader").msg("read kernel").kv("path", "\\kernel.elf").kv("size", file.size);
    const LoadedKernel kernel = load_kernel_image(image, "\\kernel.elf", file.data, file.size);
    FreePool(file.data);  // freed now, so the final map already shows it free
    return kernel;
}

void dump_memory_map(const FinalMemoryMap& map) {
    for_each_descriptor(map.address, map.size, map.descriptor_size, [](const EfiMemoryDescriptor& d) {
        klog::info("loader")
            .msg("map")
            .kv("type", memory_type_name(d.type))
            .kv("start", klog::hex(d.physical_start))
            .kv("pages", d.number_of_pages)
            .kv("attribute", klog::hex(d.attribute));
    });
}

}  // namespace
}  // namespace boot

// book:begin efi-main
extern "C" EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table) {
    using namespace boot;
    InitializeLib(image, system_table);
    init_loader_log(image, system_table);
    const EFI_LOADED_IMAGE& loaded = *loaded_image(image);
    log_start(system_table, loaded);
    BS->SetWatchdogTimer(0, 0, 0, nullptr);  // the 5-minute boot watchdog would reset a slow boot
    check_firmware_paging(image);

    // 1. Files from the boot volume.
    auto* handoff = reinterpret_cast<BootHandoff*>(
        allocate_loader_pages(image, EfiMemoryType::kBootHandoff, pages_for(sizeof(BootHandoff)), "handoff"));
    EFI_FILE_HANDLE root = open_boot_volume(image, loaded);
    read_command_line(image, root, handoff);
    const CommandLine command_line(handoff->command_line);
    klog::info("loader").msg("command line").kv("text", handoff->command_line);
    if (command_line.has("loader.check-kernels")) check_kernel_files(image, root);
    const LoadedKernel kernel = read_and_load_kernel(image, root);
    read_boot_modules(image, root, handoff);
    root->Close(root);

    // 2. What only the firmware knows.
    collect_framebuffer(handoff);
    collect_rsdp(handoff);

    // 3. Everything else the kernel is handed.
    const uint64_t stack = allocate_loader_pages(image, EfiMemoryType::kBootStack, kBootStackSize / kPageSize, "boot stack");
    const MemoryMapBuffer map_buffer = allocate_memory_map_buffer(image);
    uint64_t framebuffer_end = 0;  // a sum that wraps is refused as the largest end there is
    if (__builtin_add_overflow(handoff->framebuffer_base, handoff->framebuffer_size, &framebuffer_end))
        framebuffer_end = ~uint64_t(0);
    const uint64_t identity_top = bootstrap_identity_top(image, map_buffer, framebuffer_end);
    const HandoverTrampoline trampoline = install_handover_trampoline(image);
    const BootstrapTables tables = build_bootstrap_tables(image, identity_top, kernel, trampoline);
    const PagingHandover paging =  // paging=5, for a kernel whose note says it follows five levels: chapter 16
        choose_paging_handover(image, command_line, tables, kernel.layout.paging_levels);
    // A test hook, beside the story: play a firmware that left 5-level paging on (la57_imitation.h).
    const La57Imitation la57 = command_line.has("loader.test-la57") ? prepare_la57_imitation(image) : La57Imitation{};

    handoff->magic = kHandoffMagic;
    handoff->version = kHandoffVersion;
    handoff->size = sizeof(BootHandoff);
    handoff->kernel_physical_base = kernel.physical_base;
    handoff->kernel_size = kernel.layout.span;
    handoff->kernel_virtual_base = kernel.layout.virtual_base;
    handoff->bootstrap_pml4 = tables.pml4;
    handoff->boot_stack_base = stack;
    handoff->boot_stack_size = kBootStackSize;
    handoff->loader_image_base = reinterpret_cast<uint64_t>(loaded.ImageBase);

    // 4. The final map. From here on only COM1 works: no firmware console.
    klog::info("loader").msg("exiting boot services");
    const FinalMemoryMap map = exit_boot_services(image, map_buffer);
    handoff->memory_map = map.address;
    handoff->memory_map_size = map.size;
    handoff->memory_map_capacity = map.capacity;
    handoff->descriptor_size = map.descriptor_size;
    handoff->descriptor_version = map.descriptor_version;
    klog::info("loader")
        .msg("boot services exited")
        .kv("attempts", map.attempts)
        .kv("map-entries", map.size / map.descriptor_size)
        .kv("descriptor-size", map.descriptor_size);
    if (command_line.has("loader.dump-map")) dump_memory_map(map);
    if (la57.pml5) apply_la57_imitation(la57, trampoline);

    // 5. Into the kernel.
    klog::info("loader")
        .msg("jump to kernel")
        .kv("entry", klog::hex(kernel.layout.entry))
        .kv("handoff", klog::hex(reinterpret_cast<uint64_t>(handoff)));
    enter_kernel(trampoline, paging, stack + kBootStackSize, kernel.layout.entry, handoff);
}
// book:end efi-main
