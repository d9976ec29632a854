// Chapter 01: the kernel is running. What did the loader hand us?
//
// Nothing here allocates or maps memory yet: the kernel runs on the loader's
// bootstrap page tables and only reads the handoff, then reports it. Every
// later chapter starts from these facts.
#include "arch/x86/cpu.h"
#include "boot/handoff.h"
#include "fault_injection.h"
#include "kernel/image_layout.h"
#include "kernel/kernel.h"
#include "support/log.h"

namespace {

// A global with a constructor whose value only exists at run time: if the
// runtime forgot .init_array, `cr3` would still be zero in kernel_main.
struct ConstructorProbe {
    uint64_t cr3 = x86::read_cr3();
};
ConstructorProbe g_constructor_probe;


// The RSDP starts with the 8 bytes "RSD PTR " (ACPI 6.5, 5.2.5.3). Reading them
// proves the pointer is real: the bootstrap tables identity-map all RAM.
bool rsdp_signature_ok(uint64_t rsdp) {
    const char* signature = reinterpret_cast<const char*>(rsdp);
    return rsdp != 0 && Str(signature, 8) == Str("RSD PTR ");
}

void report_handoff(const boot::BootHandoff& h) {
    klog::info("handoff").msg("header").kv("magic", klog::hex(h.magic)).kv("version", h.version).kv("size", h.size);
    klog::info("handoff")
        .msg("memory map")
        .kv("address", klog::hex(h.memory_map))
        .kv("size", h.memory_map_size)
        .kv("descriptor-size", h.descriptor_size)
        .kv("descriptor-version", h.descriptor_version)
        .kv("entries", h.descriptor_size ? h.memory_map_size / h.descriptor_size : 0);
    klog::info("handoff")
        .msg("framebuffer")
        .kv("base", klog::hex(h.framebuffer_base))
        .kv("size", klog::size(h.framebuffer_size))
        .kv("width", h.framebuffer_width)
        .kv("height", h.framebuffer_height)
        .kv("stride", h.framebuffer_stride)
        .kv("format", boot::pixel_format_name(h.framebuffer_format));
    klog::info("handoff")
        .msg("acpi")
        .kv("rsdp", klog::hex(h.rsdp))
        .kv("revision", h.rsdp_revision)
        .kv("signature", rsdp_signature_ok(h.rsdp) ? "ok" : "bad");
    klog::info("handoff")
        .msg("kernel")
        .kv("pa", klog::hex(h.kernel_physical_base))
        .kv("va", klog::hex(h.kernel_virtual_base))
        .kv("size", klog::size(h.kernel_size));
    klog::info("handoff")
        .msg("bootstrap")
        .kv("pml4", klog::hex(h.bootstrap_pml4))
        .kv("stack", klog::hex(h.boot_stack_base))
        .kv("stack-size", klog::size(h.boot_stack_size))
        .kv("loader-image-base", klog::hex(h.loader_image_base));
    klog::info("handoff").msg("command line").kv("text", h.command_line);
}

void report_image() {
    for (unsigned i = 0; i < kernel::kImageSectionCount; ++i) {
        const kernel::ImageSection s = kernel::image_sections(i);
        klog::info("kernel").msg("section").kv("name", s.name).kv("va", klog::hex(s.start)).kv("size", klog::size(s.end - s.start));
    }
}

// What the loader switched on before the jump, read back from the CPU itself.
void report_cpu() {
    klog::info("cpu")
        .msg("state")
        .kv("cr3", klog::hex(x86::read_cr3()))
        .kv("wp", (x86::read_cr0() & x86::kCr0WriteProtect) != 0)
        .kv("nxe", (x86::rdmsr(x86::kMsrEfer) & x86::kEferNoExecute) != 0)
        .kv("la57", (x86::read_cr4() & x86::kCr4La57) != 0);
}

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& handoff) {
    klog::info("kernel").msg("hello from the higher half").kv("chapter", kernel::kChapterName);
    klog::info("kernel").msg("global constructors").kv("ran", g_constructor_probe.cr3 == x86::read_cr3());
    fail_if_requested();  // test.fail: fault injection, beside the story (fault_injection.cpp)
    report_handoff(handoff);
    report_image();
    report_cpu();
}
// book:end kernel-main
