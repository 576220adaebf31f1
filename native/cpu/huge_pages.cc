#include "huge_pages.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace sparsenn {

int64_t advise_huge_pages(void* data, int64_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  if (bytes <= 0) return 0;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + uintptr_t(bytes)) & ~(kHuge - 1);
  if (end <= begin) return 0;
  void* p = reinterpret_cast<void*>(begin);
  if (madvise(p, end - begin, MADV_HUGEPAGE) != 0) return 0;
  // Pages that are already faulted in stay 4 KiB until khugepaged scans them (minutes); collapse
  // them now. Older kernels answer EINVAL, and the advice still applies to later faults.
  constexpr int kMadvCollapse = 25;  // MADV_COLLAPSE, absent from older headers
  (void)madvise(p, end - begin, kMadvCollapse);
  return int64_t(end - begin);
#else
  (void)data;
  (void)bytes;
  return 0;
#endif
}

}  // namespace sparsenn
