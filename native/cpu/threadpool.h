// One process-wide pool of worker threads for the kernels. The calling thread
// works too, so a pool of size n runs n tasks at once. Concurrent callers (two
// async ops on libuv threads) take turns: one parallel region at a time keeps
// every core on one op instead of thrashing caches between two.
#pragma once
#include <cstdint>
#include <functional>

namespace sparsenn {

// Default size: SPARSENN_THREADS if set, else the number of hardware threads.
int thread_count();
// Resize the pool (n >= 1). Safe to call between ops.
void set_thread_count(int n);

// Runs fn(task) for task in [0, n_tasks), spread over the pool; returns when all are done.
// Exceptions thrown by fn are rethrown here (the first one).
void parallel_for(int64_t n_tasks, const std::function<void(int64_t task)>& fn);

// Splits [0, n) into about `parts` contiguous ranges aligned to `align`,
// and runs fn(begin, end) for each in parallel.
void parallel_ranges(int64_t n, int64_t align, const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace sparsenn
