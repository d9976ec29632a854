#include "mm/kernel/kernel_heap.h"

#include <new>

#include "mm/mapping_log.h"
#include "mm/page_table_builder.h"
#include "kernel/panic.h"
#include "support/log.h"

namespace mm {
namespace {

// book:begin heap-backend
// Growing the heap: a fresh frame per page, mapped RW+NX by the builder. The
// frames and the page tables needed are checked up front, so a grow either
// maps every page or none (a refused grow is an allocation failure, reported
// by operator new).
class KernelHeapBackend final : public HeapBackend {
public:
    KernelHeapBackend(PhysAddr pml4, PhysicalMemoryAccess& tables, BitmapFrameAllocator& frames, CpuPagingFeatures cpu,
                      PagingDepth depth)
        : frames_(frames), builder_(pml4, tables, frames, cpu.pages_1gib, depth), policy_(fit_to_cpu(kHeapPolicy, cpu)) {}

    bool grow(uint64_t at, uint64_t bytes) override {
        const uint64_t pages = bytes / kPageSize;
        // At worst one new PT per 2 MiB, plus a PD and a PDPT.
        const uint64_t tables = pages / 512 + 3;
        if (frames_.stats().free < pages + tables) return false;
        for (uint64_t i = 0; i < pages; ++i) {
            const FrameResult frame = frames_.alloc_frame();
            KASSERT(frame.ok());
            const MapResult mapped = builder_.map_range(VirtAddr(at + i * kPageSize), frame.frame(), kPageSize, policy_);
            if (!mapped.ok()) {
                klog::error("heap").msg("grow rejected").kv("va", klog::hex(mapped.where))
                    .kv("rule", describe(mapped.status));
                kernel::fail();
            }
        }
        klog::debug("heap").msg("grow").kv("va", klog::hex(at)).kv("bytes", klog::size(bytes))
            .kv("tables", builder_.stats().tables_created);
        return true;
    }

    const PageTableBuilder& builder() const { return builder_; }
    const MappingPolicy& policy() const { return policy_; }

private:
    BitmapFrameAllocator& frames_;
    PageTableBuilder builder_;  // the same builder as every phase; only its FrameSource differs
    MappingPolicy policy_;
};
// book:end heap-backend

HeapAllocator g_heap;
KernelHeapBackend* g_backend = nullptr;

}  // namespace

// book:begin create-heap
void create_heap(KernelAddressSpace& space, BitmapFrameAllocator& frames) {
    static KernelHeapBackend backend(space.root(), space.tables(), frames, space.cpu(), space.depth());  // constructed here, once
    g_backend = &backend;
    g_heap.init(kHeapStart.value(), kHeapCapacity, backend);
    if (!g_heap.grow(kHeapInitialBytes)) {
        klog::error("heap").msg("no memory for the first heap pages");
        kernel::fail();
    }
    const MapStats& mapped = backend.builder().stats();
    page_counts(klog::info("paging").msg("phase create_heap").kv("va", klog::hex(kHeapStart))
                    .kv("guard", klog::hex(kHeapGuard)), mapped)
        .kv("flags", flags_text(leaf_entry_flags(backend.policy(), PageSize::k4KiB)).text)
        .kv("frames-from", "bitmap");
}
// book:end create-heap

HeapAllocator& kernel_heap() { return g_heap; }
uint64_t kernel_heap_tables() { return g_backend ? g_backend->builder().stats().tables_created : 0; }

void log_heap_stats(const char* when) {
    const HeapStats s = g_heap.stats();
    klog::info("heap").msg("stats").kv("when", when).kv("mapped", klog::size(s.committed)).kv("used", s.used)
        .kv("live", s.live).kv("free-blocks", s.free_blocks).kv("allocations", s.allocations).kv("frees", s.frees)
        .kv("grows", s.grows).kv("failures", s.failures);
}

bool free_or_log(void* payload) {
    const HeapFreeStatus status = g_heap.free(payload);
    if (status == HeapFreeStatus::kOk) return true;
    klog::error("heap").msg("free rejected").kv("ptr", klog::hex(reinterpret_cast<uint64_t>(payload)))
        .kv("reason", name(status)).kv("rule", describe(status));
    return false;
}

void free_or_stop(void* payload) {
    if (!free_or_log(payload)) kernel::fail();
}

}  // namespace mm

// ---- operator new and delete ------------------------------------------------

namespace {

// book:begin operator-new
// The kernel has no exceptions (-fno-exceptions): a new that cannot be
// satisfied says so, with the size, and stops the kernel. It never returns
// null, which the compiler assumes of a throwing operator new anyway.
void* allocate_or_panic(size_t size, size_t alignment) {
    if (mm::g_backend == nullptr) kernel::panic("operator new before create_heap");
    if (void* p = mm::g_heap.allocate(size, alignment)) return p;
    klog::error("heap").msg("allocation failed").kv("size", uint64_t(size)).kv("align", uint64_t(alignment))
        .kv("mapped", klog::size(mm::g_heap.stats().committed));
    kernel::panic("operator new: out of memory");
}

// The nothrow forms return null, and say so in the log.
void* allocate_or_null(size_t size, size_t alignment) {
    void* p = mm::g_backend ? mm::g_heap.allocate(size, alignment) : nullptr;
    if (p == nullptr)
        klog::warn("heap").msg("allocation failed").kv("size", uint64_t(size)).kv("align", uint64_t(alignment))
            .kv("returns", "null");
    return p;
}

void release(void* p) {
    if (p != nullptr) mm::free_or_stop(p);  // delete of null does nothing, by the standard
}

// A sized delete must name the size the object was allocated with.
void release_sized(void* p, size_t size) {
    uint64_t allocated = 0;
    if (p != nullptr && mm::g_heap.requested_size(p, &allocated) && allocated != size) {
        klog::error("heap").msg("sized delete with the wrong size").kv("ptr", klog::hex(reinterpret_cast<uint64_t>(p)))
            .kv("size", uint64_t(size)).kv("allocated", allocated);
        kernel::fail();
    }
    release(p);  // anything else wrong with p, free() names
}
// book:end operator-new

constexpr size_t kDefault = mm::HeapAllocator::kAlignment;

}  // namespace

void* operator new(size_t size) { return allocate_or_panic(size, kDefault); }
void* operator new[](size_t size) { return allocate_or_panic(size, kDefault); }
void* operator new(size_t size, std::align_val_t a) { return allocate_or_panic(size, size_t(a)); }
void* operator new[](size_t size, std::align_val_t a) { return allocate_or_panic(size, size_t(a)); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return allocate_or_null(size, kDefault); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return allocate_or_null(size, kDefault); }
void* operator new(size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate_or_null(size, size_t(a));
}
void* operator new[](size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate_or_null(size, size_t(a));
}

void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, size_t size) noexcept { release_sized(p, size); }
void operator delete[](void* p, size_t size) noexcept { release_sized(p, size); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, size_t size, std::align_val_t) noexcept { release_sized(p, size); }
void operator delete[](void* p, size_t size, std::align_val_t) noexcept { release_sized(p, size); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
