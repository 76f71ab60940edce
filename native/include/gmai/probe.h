// Machine probes for benchmarks: what this CPU can do at best, to express kernel timings as a
// fraction of it (roofline). Each runs on every thread of the pool and blocks the caller.
#pragma once
#include <cstddef>
#include <cstdint>

#include "gmai/context.h"

namespace gmai::cpu {

struct ProbeResult {
  double value;     // GFLOP/s or GB/s
  double seconds;   // time of the best run
  const char* isa;  // instruction set the probe used
};

// fp32 FMA throughput, all threads: independent FMA chains in registers, best of `reps`.
ProbeResult probeFmaPeak(const Context& ctx, int64_t itersPerThread, int reps);

// Streaming read bandwidth, all threads: sums a `bytes` buffer (make it >> L3), best of `reps`.
ProbeResult probeReadBandwidth(const Context& ctx, size_t bytes, int reps);

}  // namespace gmai::cpu
