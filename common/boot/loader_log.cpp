#include "boot/loader_log.h"

#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "arch/x86/uart16550.h"
#include "boot/boot_volume.h"
#include "boot/exit_codes.h"

namespace boot {
namespace {

constexpr x86::Uart16550 kSerial(x86::kCom1);
EFI_SYSTEM_TABLE* g_system_table = nullptr;  // nullptr once boot services have exited
EFI_HANDLE g_image = nullptr;  // for a failed KASSERT, which has no image to hand

void show_on_firmware_console(const char* text, size_t length) {
    // Not the log's own format on purpose: in QEMU the firmware console is also
    // on COM1, and this copy must not be parsed as a second log record.
    CHAR16 wide_text[160];
    size_t n = 0;
    for (const char* prefix = "loader: "; *prefix; ++prefix) wide_text[n++] = CHAR16(*prefix);
    for (size_t i = 0; i < length && n + 3 < sizeof(wide_text) / sizeof(wide_text[0]); ++i)
        if (text[i] != '\n') wide_text[n++] = CHAR16(text[i]);
    wide_text[n++] = '\r';
    wide_text[n++] = '\n';
    wide_text[n] = 0;
    g_system_table->ConOut->OutputString(g_system_table->ConOut, wide_text);
}

void loader_sink(klog::Level level, const char* text, size_t length) {
    kSerial.write(text, length);
    if (level >= klog::Level::kError && g_system_table != nullptr) {
        // Skip the "[ERROR loader]" tag: the screen copy is for people.
        size_t skip = 0;
        while (skip < length && text[skip] != ']') ++skip;
        skip = skip + 2 <= length ? skip + 2 : 0;
        show_on_firmware_console(text + skip, length - skip);
    }
}

}  // namespace

const char* efi_status_name(EFI_STATUS status) {
    switch (status) {
        case EFI_SUCCESS: return "success";
        case EFI_LOAD_ERROR: return "load-error";
        case EFI_INVALID_PARAMETER: return "invalid-parameter";
        case EFI_UNSUPPORTED: return "unsupported";
        case EFI_BUFFER_TOO_SMALL: return "buffer-too-small";
        case EFI_DEVICE_ERROR: return "device-error";
        case EFI_OUT_OF_RESOURCES: return "out-of-resources";
        case EFI_NOT_FOUND: return "not-found";
        case EFI_ACCESS_DENIED: return "access-denied";
        case EFI_VOLUME_CORRUPTED: return "volume-corrupted";
        case EFI_BAD_BUFFER_SIZE: return "bad-buffer-size";
        case kEfiIsADirectory: return "is-a-directory";
        default: return nullptr;
    }
}

const char* efi_status_text(EFI_STATUS status) {
    if (const char* name = efi_status_name(status)) return name;
    static char text[19];  // "0x" + 16 digits; the loader is single-threaded
    text[0] = '0';
    text[1] = 'x';
    for (int i = 0; i < 16; ++i) text[2 + i] = "0123456789abcdef"[(status >> (60 - 4 * i)) & 0xF];
    text[18] = '\0';
    return text;
}

void init_loader_log(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table) {
    kSerial.init();
    g_image = image;
    g_system_table = system_table;
    klog::set_sink(loader_sink);
}

void loader_log_boot_services_exited() { g_system_table = nullptr; }


void loader_fail(EFI_HANDLE image, EFI_STATUS status) {
    klog::error("loader").msg("boot stopped").kv("exit", "failure");
    x86::outb(kDebugExitPort, uint8_t(ExitCode::kFailure));
    // Still running: there is no debug-exit device, as on real hardware.
    if (g_system_table != nullptr) {
        g_system_table->BootServices->Stall(10 * 1000 * 1000);  // let a human read the screen
        g_system_table->BootServices->Exit(image, status, 0, nullptr);
    }
    x86::halt_forever();
}

}  // namespace boot

// The common/mm code the loader links (the page-table builder) checks its
// assumptions with KASSERT: in the loader a failed one stops the boot by name.
void kassert_failed(const char* expression, const char* file, int line) {
    klog::error("loader").msg("assertion failed").kv("expression", expression).kv("file", file).kv("line", uint64_t(line));
    boot::loader_fail(boot::g_image, EFI_ABORTED);
}

// The vtables of mm::FrameSource and mm::PhysicalMemoryAccess name this for
// their pure virtual slots; it is only reached through a broken object.
extern "C" void __cxa_pure_virtual() { kassert_failed("pure virtual function called", __FILE__, __LINE__); }
