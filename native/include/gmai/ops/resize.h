#pragma once
namespace gmai {
// Bicubic resize of an interleaved 8-bit image [H, W, C], bit-exact with Pillow's
// Image.resize(size, BICUBIC): separable, horizontal pass first into an 8-bit intermediate,
// support widened by the downscale factor (antialiasing), coefficients normalised per output
// pixel and rounded to 22-bit fixed point, each pass rounded and clipped to 0..255.
struct ResizeArgs {
  int64_t inH = 0, inW = 0, outH = 0, outW = 0, channels = 0;
  const uint8_t* src = nullptr;
  uint8_t* dst = nullptr;
};
// op `resizeBicubic` (listed in gmai/ops.h)
}  // namespace gmai
