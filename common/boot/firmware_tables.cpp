#include "boot/firmware_tables.h"

#include "boot/loader_log.h"

namespace boot {

void collect_framebuffer(BootHandoff* handoff) {
    handoff->framebuffer_format = PixelFormat::kNone;
    EFI_GRAPHICS_OUTPUT_PROTOCOL* gop = nullptr;
    EFI_STATUS status = BS->LocateProtocol(&GraphicsOutputProtocol, nullptr, reinterpret_cast<void**>(&gop));
    if (EFI_ERROR(status) || gop == nullptr || gop->Mode == nullptr || gop->Mode->Info == nullptr) {
        klog::warn("loader").msg("no graphics output").kv("status", efi_status_text(status));
        return;
    }
    const EFI_GRAPHICS_OUTPUT_MODE_INFORMATION& info = *gop->Mode->Info;
    handoff->framebuffer_width = info.HorizontalResolution;
    handoff->framebuffer_height = info.VerticalResolution;
    handoff->framebuffer_stride = info.PixelsPerScanLine;
    handoff->framebuffer_format = PixelFormat(info.PixelFormat);
    if (info.PixelFormat != PixelBltOnly) {  // BltOnly has no linear framebuffer to hand over
        handoff->framebuffer_base = gop->Mode->FrameBufferBase;
        handoff->framebuffer_size = gop->Mode->FrameBufferSize;
    }
    if (info.PixelFormat == PixelBitMask)  // the only format whose layout the masks describe
        handoff->framebuffer_masks = {info.PixelInformation.RedMask, info.PixelInformation.GreenMask,
                                      info.PixelInformation.BlueMask, info.PixelInformation.ReservedMask};
    klog::info("loader")
        .msg("framebuffer")
        .kv("base", klog::hex(handoff->framebuffer_base))
        .kv("size", klog::size(handoff->framebuffer_size))
        .kv("width", handoff->framebuffer_width)
        .kv("height", handoff->framebuffer_height)
        .kv("stride", handoff->framebuffer_stride)
        .kv("format", uint32_t(handoff->framebuffer_format));
}

void collect_rsdp(BootHandoff* handoff) {
    // UEFI 2.10, 4.6 "EFI Configuration Table": ACPI 2.0+ tables carry
    // EFI_ACPI_20_TABLE_GUID; the 1.0 GUID is the fallback for old firmware.
    EFI_GUID acpi20 = ACPI_20_TABLE_GUID;
    EFI_GUID acpi10 = ACPI_TABLE_GUID;
    void* table = nullptr;
    if (!EFI_ERROR(LibGetSystemConfigurationTable(&acpi20, &table)) && table != nullptr) {
        handoff->rsdp_revision = 2;
    } else if (!EFI_ERROR(LibGetSystemConfigurationTable(&acpi10, &table)) && table != nullptr) {
        handoff->rsdp_revision = 0;
    } else {
        klog::warn("loader").msg("no ACPI RSDP in the configuration table");
        return;
    }
    handoff->rsdp = reinterpret_cast<uint64_t>(table);
    klog::info("loader").msg("acpi").kv("rsdp", klog::hex(handoff->rsdp)).kv("revision", handoff->rsdp_revision);
}

}  // namespace boot
