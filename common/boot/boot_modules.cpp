#include "boot/boot_modules.h"

#include "boot/boot_volume.h"
#include "boot/firmware_memory.h"
#include "boot/loader_log.h"
#include "support/units.h"

namespace boot {
namespace {

constexpr char16_t kModuleFolder[] = u"\\user";

// The name's ASCII form, or false when it is not printable ASCII or does not fit.
bool ascii_name(const CHAR16* wide_name, char (&out)[kModuleNameCapacity]) {
    size_t i = 0;
    for (; wide_name[i] != 0; ++i) {
        if (i + 1 == kModuleNameCapacity || wide_name[i] < 0x21 || wide_name[i] > 0x7e) return false;
        out[i] = char(wide_name[i]);
    }
    out[i] = '\0';
    return true;
}

bool ends_with_elf(const char* name) {
    size_t n = 0;
    while (name[n] != '\0') ++n;
    if (n < 5) return false;
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    return name[n - 4] == '.' && lower(name[n - 3]) == 'e' && lower(name[n - 2]) == 'l' && lower(name[n - 1]) == 'f';
}

bool name_before(const char* a, const char* b) {
    while (*a != '\0' && *a == *b) ++a, ++b;
    return uint8_t(*a) < uint8_t(*b);
}

[[noreturn]] void reject_module(EFI_HANDLE image, const char* field, const char* value, const char* rule,
                                EFI_STATUS status) {
    klog::error("loader").msg("module rejected").kv("field", field).kv("value", value).kv("rule", rule);
    loader_fail(image, status);
}

// The names of the *.elf files in the folder, sorted, in the handoff's table.
void list_module_names(EFI_HANDLE image, EFI_FILE_HANDLE folder, BootHandoff* handoff) {
    alignas(8) uint8_t buffer[sizeof(EFI_FILE_INFO) + 512];
    for (;;) {
        UINTN size = sizeof(buffer);
        const EFI_STATUS status = folder->Read(folder, &size, buffer);  // one entry per Read, size 0 at the end
        if (EFI_ERROR(status)) {
            klog::error("loader").msg("cannot list folder").kv("path", "\\user").kv("status", efi_status_text(status));
            loader_fail(image, status);
        }
        if (size == 0) return;
        const auto* info = reinterpret_cast<const EFI_FILE_INFO*>(buffer);
        if (info->Attribute & EFI_FILE_DIRECTORY) continue;
        char name[kModuleNameCapacity];
        if (!ascii_name(info->FileName, name))
            reject_module(image, "name", "(not shown)", "must be printable ASCII and at most 31 bytes", EFI_INVALID_PARAMETER);
        if (!ends_with_elf(name)) continue;
        if (handoff->module_count == kMaxBootModules)
            reject_module(image, "module_count", name, "at most kMaxBootModules (16) files in \\user", EFI_BAD_BUFFER_SIZE);
        // Insertion into the sorted table: the order is the names', not the directory's.
        uint32_t i = handoff->module_count++;
        for (; i > 0 && name_before(name, handoff->modules[i - 1].name); --i) handoff->modules[i] = handoff->modules[i - 1];
        handoff->modules[i] = {};
        CopyMem(handoff->modules[i].name, name, sizeof(name));
    }
}

// One module's file, read into pool memory (freed once copied).
FileContents read_module(EFI_HANDLE image, EFI_FILE_HANDLE root, const BootModule& module) {
    char16_t path[sizeof(kModuleFolder) / sizeof(char16_t) + kModuleNameCapacity] = {};
    size_t n = 0;
    for (; kModuleFolder[n] != 0; ++n) path[n] = kModuleFolder[n];
    path[n++] = u'\\';
    for (size_t i = 0; module.name[i] != '\0'; ++i) path[n++] = char16_t(module.name[i]);
    FileContents file{};
    const EFI_STATUS status = read_file(root, path, kMaxModuleFileSize, &file);
    if (EFI_ERROR(status)) {
        klog::error("loader").msg("cannot read module").kv("name", module.name).kv("status", efi_status_text(status));
        loader_fail(image, status);
    }
    if (file.size == 0) reject_module(image, "size", module.name, "a module must not be empty", EFI_LOAD_ERROR);
    return file;
}

}  // namespace

void read_boot_modules(EFI_HANDLE image, EFI_FILE_HANDLE root, BootHandoff* handoff) {
    handoff->module_count = 0;
    EFI_FILE_HANDLE folder = nullptr;
    const EFI_STATUS status = root->Open(root, &folder, wide(kModuleFolder), EFI_FILE_MODE_READ, 0);
    if (status == EFI_NOT_FOUND) return;  // no programs: zero modules
    if (EFI_ERROR(status)) {
        klog::error("loader").msg("cannot open folder").kv("path", "\\user").kv("status", efi_status_text(status));
        loader_fail(image, status);
    }
    list_module_names(image, folder, handoff);
    folder->Close(folder);
    if (handoff->module_count == 0) return;

    // book:begin module-block
    // All modules in one block of kBootModules pages, each on a page of its
    // own: the kernel keeps the block read-only in its phys-offset window as
    // one range, because programs run their text from these frames in place.
    FileContents files[kMaxBootModules] = {};
    uint64_t pages = 0;
    for (uint32_t i = 0; i < handoff->module_count; ++i) {
        files[i] = read_module(image, root, handoff->modules[i]);
        pages += pages_for(files[i].size);
    }
    const uint64_t block = allocate_loader_pages(image, EfiMemoryType::kBootModules, pages, "boot modules");
    uint64_t at = block;
    for (uint32_t i = 0; i < handoff->module_count; ++i) {
        BootModule& module = handoff->modules[i];
        module.physical_base = at;
        module.size = files[i].size;
        CopyMem(reinterpret_cast<void*>(at), files[i].data, files[i].size);
        FreePool(files[i].data);  // freed now, so the final map already shows it free
        at += pages_for(files[i].size) * kPageSize;
        klog::info("loader").msg("module").kv("name", module.name).kv("pa", klog::hex(module.physical_base))
            .kv("size", module.size);
    }
    // book:end module-block
}

}  // namespace boot
