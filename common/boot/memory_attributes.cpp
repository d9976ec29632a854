#include "boot/memory_attributes.h"

#include "boot/loader_log.h"
#include "support/units.h"

namespace boot {
namespace {

// UEFI 2.10's EFI_MEMORY_ATTRIBUTE_PROTOCOL: not in GNU-EFI's headers.
struct MemoryAttributeProtocol {
    EFI_STATUS(EFIAPI* get_attributes)(MemoryAttributeProtocol*, EFI_PHYSICAL_ADDRESS, UINT64, UINT64*);
    EFI_STATUS(EFIAPI* set_attributes)(MemoryAttributeProtocol*, EFI_PHYSICAL_ADDRESS, UINT64, UINT64);
    EFI_STATUS(EFIAPI* clear_attributes)(MemoryAttributeProtocol*, EFI_PHYSICAL_ADDRESS, UINT64, UINT64);
};

EFI_GUID kMemoryAttributeProtocolGuid = {0xf4560cf6, 0x40ec, 0x4b4a, {0xa1, 0x92, 0xbf, 0x1d, 0x57, 0xd0, 0xb1, 0x89}};
constexpr UINT64 kMemoryXp = 0x4000;   // EFI_MEMORY_XP: not executable
constexpr UINT64 kMemoryRo = 0x20000;  // EFI_MEMORY_RO: read-only

[[noreturn]] void refused(EFI_HANDLE image, const char* purpose, const char* step, EFI_STATUS status) {
    klog::error("loader").msg("page protection refused").kv("purpose", purpose).kv("field", step).kv(
        "value", efi_status_text(status)).kv("rule", "the firmware must let this page be read-only and executable");
    loader_fail(image, EFI_ERROR(status) ? status : EFI_ACCESS_DENIED);
}

}  // namespace

PageProtection make_page_read_only_executable(EFI_HANDLE image, uint64_t page, const char* purpose) {
    MemoryAttributeProtocol* protocol = nullptr;
    if (EFI_ERROR(BS->LocateProtocol(&kMemoryAttributeProtocolGuid, nullptr, reinterpret_cast<void**>(&protocol))) ||
        protocol == nullptr)
        return PageProtection::kNoProtocol;
    // Read-only first, then executable: the page is never writable and executable at once.
    if (const EFI_STATUS s = protocol->set_attributes(protocol, page, kPageSize, kMemoryRo); EFI_ERROR(s))
        refused(image, purpose, "set-ro", s);
    if (const EFI_STATUS s = protocol->clear_attributes(protocol, page, kPageSize, kMemoryXp); EFI_ERROR(s))
        refused(image, purpose, "clear-xp", s);
    UINT64 attributes = 0;
    if (const EFI_STATUS s = protocol->get_attributes(protocol, page, kPageSize, &attributes); EFI_ERROR(s))
        refused(image, purpose, "get", s);
    if (attributes & kMemoryXp) refused(image, purpose, "xp-after-clear", EFI_ACCESS_DENIED);
    return PageProtection::kSetByProtocol;
}

}  // namespace boot
