// Binding of the Pillow-exact bicubic resize over uint8 [H, W, C] tensors.
#include "dispatch.h"
#include "gmai/ops.h"

namespace gmai {
namespace {

// resizeBicubic(src [H, W, C] uint8, dst [outH, outW, C] uint8)
Napi::Value resizeBicubic(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* src = tensorArg(info[0], "src");
  auto* dst = tensorArg(info[1], "dst");
  requireDtype(src, "src", {DType::U8}); requireDtype(dst, "dst", {DType::U8});
  requireSameDevice({{src, "src"}, {dst, "dst"}});
  if (src->shape().size() != 3 || dst->shape().size() != 3)
    throw std::invalid_argument("resizeBicubic: 'src' and 'dst' must be [height, width, channels]");
  ResizeArgs a;
  a.inH = src->shape()[0]; a.inW = src->shape()[1]; a.channels = src->shape()[2];
  a.outH = dst->shape()[0]; a.outW = dst->shape()[1];
  if (dst->shape()[2] != a.channels) throw std::invalid_argument("resizeBicubic: 'dst' has a different number of channels than 'src'");
  if (a.inH < 1 || a.inW < 1 || a.outH < 1 || a.outW < 1 || a.channels < 1)
    throw std::invalid_argument("resizeBicubic: images must have at least one pixel and one channel");
  a.src = static_cast<const uint8_t*>(src->data()); a.dst = static_cast<uint8_t*>(dst->data());
  GMAI_CALL_CPU_ONLY(env, src, resizeBicubic, a);
  return env.Undefined();
}

}  // namespace

GMAI_ADDON_MODULE(image_api) {
  exports.Set("resizeBicubic", Napi::Function::New(env, resizeBicubic, "resizeBicubic"));
}

}  // namespace gmai
