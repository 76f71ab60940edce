// Pillow-exact bicubic resampling (see ops/resize.h). The coefficient computation follows
// Pillow's published algorithm (libImaging/Resample.c): same support, same centre, same
// normalisation and fixed-point rounding, so results match to the bit.
#include <cmath>
#include <cstring>
#include <vector>

#include "gmai/ops.h"

namespace gmai::cpu {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x) {  // Keys cubic with a = -0.5
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// For each output index: first input index, count, and `ksize` fixed-point weights.
struct Coefficients {
  int64_t ksize = 0;
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;
};

Coefficients coefficients(int64_t inSize, int64_t outSize) {
  const double scale = double(inSize) / double(outSize);
  const double filterScale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filterScale;
  Coefficients c;
  c.ksize = int64_t(std::ceil(support)) * 2 + 1;
  c.first.resize(size_t(outSize));
  c.count.resize(size_t(outSize));
  c.weights.assign(size_t(outSize * c.ksize), 0);
  std::vector<double> w(size_t(c.ksize));
  for (int64_t xx = 0; xx < outSize; ++xx) {
    const double center = (double(xx) + 0.5) * scale;
    int64_t xmin = int64_t(center - support + 0.5);  // truncation toward zero, as C's (int)
    if (xmin < 0) xmin = 0;
    int64_t xmax = int64_t(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    double total = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      w[size_t(x)] = bicubic((double(x + xmin) - center + 0.5) / filterScale);
      total += w[size_t(x)];
    }
    for (int64_t x = 0; x < xmax; ++x) {
      const double v = total != 0.0 ? w[size_t(x)] / total : w[size_t(x)];
      const double fixed = v * double(1 << kPrecisionBits);
      c.weights[size_t(xx * c.ksize + x)] = int32_t(fixed < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    c.first[size_t(xx)] = xmin;
    c.count[size_t(xx)] = xmax;
  }
  return c;
}

inline uint8_t clip8(int64_t v) {
  if (v >= (int64_t(1) << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return uint8_t(v >> kPrecisionBits);
}

// out[y, x, ch] = Σ in[y, first[x] + k, ch] · w[x, k]
void horizontal(const Context& ctx, const uint8_t* in, int64_t h, int64_t inW, uint8_t* out, int64_t outW,
                int64_t channels, const Coefficients& c) {
  ctx.pool->parallelFor(h, 16, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      const uint8_t* row = in + y * inW * channels;
      for (int64_t x = 0; x < outW; ++x) {
        const int32_t* w = &c.weights[size_t(x * c.ksize)];
        const int64_t x0 = c.first[size_t(x)], n = c.count[size_t(x)];
        for (int64_t ch = 0; ch < channels; ++ch) {
          int64_t acc = int64_t(1) << (kPrecisionBits - 1);
          for (int64_t k = 0; k < n; ++k) acc += int64_t(row[(x0 + k) * channels + ch]) * w[k];
          out[(y * outW + x) * channels + ch] = clip8(acc);
        }
      }
    }
  });
}

// out[y, x, ch] = Σ in[first[y] + k, x, ch] · w[y, k]
void vertical(const Context& ctx, const uint8_t* in, int64_t w, uint8_t* out, int64_t outH, int64_t channels,
              const Coefficients& c) {
  const int64_t rowLen = w * channels;
  ctx.pool->parallelFor(outH, 8, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      const int32_t* wt = &c.weights[size_t(y * c.ksize)];
      const int64_t first = c.first[size_t(y)], n = c.count[size_t(y)];
      for (int64_t i = 0; i < rowLen; ++i) {
        int64_t acc = int64_t(1) << (kPrecisionBits - 1);
        for (int64_t k = 0; k < n; ++k) acc += int64_t(in[(first + k) * rowLen + i]) * wt[k];
        out[y * rowLen + i] = clip8(acc);
      }
    }
  });
}

}  // namespace

void resizeBicubic(const Context& ctx, const ResizeArgs& a) {
  const bool needH = a.outW != a.inW, needV = a.outH != a.inH;
  if (!needH && !needV) {  // Pillow leaves a same-size image untouched
    std::memcpy(a.dst, a.src, size_t(a.inH * a.inW * a.channels));
    return;
  }
  const Coefficients ch = needH ? coefficients(a.inW, a.outW) : Coefficients{};
  const Coefficients cv = needV ? coefficients(a.inH, a.outH) : Coefficients{};
  if (!needV) { horizontal(ctx, a.src, a.inH, a.inW, a.dst, a.outW, a.channels, ch); return; }
  if (!needH) { vertical(ctx, a.src, a.inW, a.dst, a.outH, a.channels, cv); return; }
  // Horizontal pass only over the input rows the vertical pass reads (as Pillow does).
  const int64_t rowFirst = cv.first.front();
  const int64_t rowLast = cv.first.back() + cv.count.back();
  std::vector<uint8_t> tmp(size_t((rowLast - rowFirst) * a.outW * a.channels));
  horizontal(ctx, a.src + rowFirst * a.inW * a.channels, rowLast - rowFirst, a.inW, tmp.data(), a.outW, a.channels, ch);
  Coefficients shifted = cv;
  for (auto& f : shifted.first) f -= rowFirst;
  vertical(ctx, tmp.data(), a.outW, a.dst, a.outH, a.channels, shifted);
}

}  // namespace gmai::cpu
