#include "boot/boot_volume.h"

#include "boot/loader_log.h"

namespace boot {

EFI_LOADED_IMAGE* loaded_image(EFI_HANDLE image) {
    EFI_LOADED_IMAGE* loaded = nullptr;
    const EFI_STATUS status = BS->HandleProtocol(image, &LoadedImageProtocol, reinterpret_cast<void**>(&loaded));
    if (EFI_ERROR(status) || loaded == nullptr) {
        klog::error("loader").msg("no loaded-image protocol").kv("status", efi_status_text(status));
        loader_fail(image, EFI_ERROR(status) ? status : EFI_NOT_FOUND);
    }
    return loaded;
}

EFI_FILE_HANDLE open_boot_volume(EFI_HANDLE image, const EFI_LOADED_IMAGE& loaded) {
    EFI_FILE_HANDLE root = LibOpenRoot(loaded.DeviceHandle);
    if (root == nullptr) {
        klog::error("loader").msg("boot device has no readable file system");
        loader_fail(image, EFI_NOT_FOUND);
    }
    return root;
}

EFI_STATUS read_file(EFI_FILE_HANDLE root, const char16_t* path, uint64_t max_size, FileContents* out) {
    *out = {nullptr, 0};
    EFI_FILE_HANDLE file = nullptr;
    EFI_STATUS status = root->Open(root, &file, wide(path), EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(status)) return status;

    EFI_FILE_INFO* info = LibFileInfo(file);
    if (info == nullptr) {
        file->Close(file);
        return EFI_DEVICE_ERROR;
    }
    const bool directory = (info->Attribute & EFI_FILE_DIRECTORY) != 0;
    const uint64_t size = info->FileSize;
    FreePool(info);
    if (directory) {  // Read() on a directory lists it, and FAT says "device error" when asked for bytes
        file->Close(file);
        return kEfiIsADirectory;
    }
    if (size > max_size) {
        file->Close(file);
        return EFI_BAD_BUFFER_SIZE;
    }

    // One spare byte so text files can be NUL-terminated by the caller.
    auto* data = static_cast<uint8_t*>(AllocatePool(size + 1));
    if (data == nullptr) {
        file->Close(file);
        return EFI_OUT_OF_RESOURCES;
    }
    UINTN read_size = size;
    status = file->Read(file, &read_size, data);
    file->Close(file);
    if (!EFI_ERROR(status) && read_size != size) status = EFI_DEVICE_ERROR;  // short read
    if (EFI_ERROR(status)) {
        FreePool(data);
        return status;
    }
    *out = {data, size};
    return EFI_SUCCESS;
}

}  // namespace boot
