// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. A draw is a pure function of (key, counter), so the token drawn for
// (seed, sequence, step) is the same whatever the batch composition, row order, thread count
// or backend. Checked against the Random123 known-answer vectors in test/sampling.test.js.
// Header-only and free of std:: so both backends include it (native/common).
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define GMAI_HOST_DEVICE __host__ __device__
#else
#define GMAI_HOST_DEVICE
#endif

namespace gmai::philox {

struct Block { uint32_t v[4]; };

GMAI_HOST_DEVICE inline Block philox4x32_10(Block ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) { k0 += kWeyl0; k1 += kWeyl1; }
    uint64_t p0 = uint64_t(kMul0) * ctr.v[0];
    uint64_t p1 = uint64_t(kMul1) * ctr.v[2];
    Block next;
    next.v[0] = uint32_t(p1 >> 32) ^ ctr.v[1] ^ k0;
    next.v[1] = uint32_t(p1);
    next.v[2] = uint32_t(p0 >> 32) ^ ctr.v[3] ^ k1;
    next.v[3] = uint32_t(p0);
    ctr = next;
  }
  return ctr;
}

// A uniform double in [0, 1) with 53 random bits. Key = seed; counter = (step, stream), both
// 64-bit, so every (seed, stream, step) triple has its own block.
GMAI_HOST_DEVICE inline double uniform(uint64_t seed, uint64_t stream, uint64_t step) {
  Block ctr{{uint32_t(step), uint32_t(step >> 32), uint32_t(stream), uint32_t(stream >> 32)}};
  Block out = philox4x32_10(ctr, uint32_t(seed), uint32_t(seed >> 32));
  uint64_t bits = (uint64_t(out.v[0]) << 32 | out.v[1]) >> 11;
  return double(bits) * (1.0 / 9007199254740992.0);  // 2^-53
}

}  // namespace gmai::philox
