#include "boot/kernel_file_check.h"

#include "boot/boot_volume.h"
#include "boot/elf_image.h"
#include "boot/kernel_image.h"
#include "boot/loader_log.h"

namespace boot {
namespace {

constexpr char16_t kFolder[] = u"\\check-kernels";
constexpr size_t kMaxPath = 128;

// A file's name from the directory, as a UEFI path and as log text. False when
// it does not fit, or is not ASCII (FAT long names may hold any UCS-2).
bool make_path(const CHAR16* name, char16_t (&path)[kMaxPath], char (&text)[kMaxPath]) {
    size_t length = 0;
    for (const char16_t* c = kFolder; *c; ++c, ++length) path[length] = *c;
    path[length++] = u'\\';
    for (const CHAR16* c = name; *c; ++c, ++length) {
        if (length + 1 >= kMaxPath || *c > 0x7e || *c < 0x20) return false;
        path[length] = char16_t(*c);
    }
    path[length] = 0;
    for (size_t i = 0; i <= length; ++i) text[i] = char(path[i]);
    return true;
}

// "." and "..": the folder itself and its parent, not entries to check.
bool is_dot_entry(const CHAR16* name) {
    return name[0] == u'.' && (name[1] == 0 || (name[1] == u'.' && name[2] == 0));
}

// The next entry of an open directory into *info (grown as needed); false at the end.
bool next_entry(EFI_HANDLE image, EFI_FILE_HANDLE folder, EFI_FILE_INFO** info, UINTN* capacity) {
    UINTN size = *capacity;
    EFI_STATUS status = folder->Read(folder, &size, *info);
    if (status == EFI_BUFFER_TOO_SMALL) {
        FreePool(*info);
        *capacity = size;
        *info = static_cast<EFI_FILE_INFO*>(AllocatePool(*capacity));
        if (*info == nullptr) {
            klog::error("loader").msg("cannot read folder").kv("status", efi_status_text(EFI_OUT_OF_RESOURCES));
            loader_fail(image, EFI_OUT_OF_RESOURCES);
        }
        status = folder->Read(folder, &size, *info);
    }
    if (EFI_ERROR(status)) {
        klog::error("loader").msg("cannot read folder").kv("status", efi_status_text(status));
        loader_fail(image, status);
    }
    return size != 0;  // a read of 0 bytes is the end of the directory
}

}  // namespace

void check_kernel_files(EFI_HANDLE image, EFI_FILE_HANDLE root) {
    EFI_FILE_HANDLE folder = nullptr;
    const EFI_STATUS status = root->Open(root, &folder, wide(kFolder), EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(status)) {
        klog::error("loader").msg("cannot read folder").kv("path", "\\check-kernels").kv("status", efi_status_text(status));
        loader_fail(image, status);
    }
    UINTN capacity = SIZE_OF_EFI_FILE_INFO + kMaxPath * sizeof(CHAR16);
    auto* info = static_cast<EFI_FILE_INFO*>(AllocatePool(capacity));
    if (info == nullptr) {
        klog::error("loader").msg("cannot read folder").kv("status", efi_status_text(EFI_OUT_OF_RESOURCES));
        loader_fail(image, EFI_OUT_OF_RESOURCES);
    }
    uint64_t files = 0, accepted = 0, rejected = 0, unreadable = 0;
    while (next_entry(image, folder, &info, &capacity)) {
        if (is_dot_entry(info->FileName)) continue;
        // A folder is put through read_file like a file, which refuses it as
        // it would refuse a folder named \kernel.elf: by name.
        ++files;
        char16_t path[kMaxPath];
        char text[kMaxPath];
        if (!make_path(info->FileName, path, text)) {
            klog::error("loader").msg("cannot read kernel").kv("path", "\\check-kernels\\?").kv("status", "bad-name");
            ++unreadable;
            continue;
        }
        FileContents file{};
        if (const EFI_STATUS read = read_file(root, path, kMaxKernelFileSize, &file); EFI_ERROR(read)) {
            klog::error("loader").msg("cannot read kernel").kv("path", text).kv("status", efi_status_text(read));
            ++unreadable;
            continue;
        }
        elf::KernelImageLayout layout{};
        if (const elf::Violation v = elf::parse_kernel_elf(file.data, file.size, &layout); !v.ok()) {
            log_kernel_rejection(text, v);
            ++rejected;
        } else {
            klog::info("loader").msg("kernel.elf accepted").kv("path", text).kv("entry", klog::hex(layout.entry))
                .kv("segments", uint64_t(layout.segment_count)).kv("span", klog::hex(layout.span));
            ++accepted;
        }
        FreePool(file.data);
    }
    FreePool(info);
    folder->Close(folder);
    klog::info("loader").msg("kernel files checked").kv("files", files).kv("accepted", accepted)
        .kv("rejected", rejected).kv("unreadable", unreadable);
    loader_fail(image, EFI_ABORTED);
}

}  // namespace boot
