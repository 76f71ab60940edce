// mapFile(path) -> { handle, byteLength }: maps a whole file into memory as one uint8 tensor
// [byteLength].
// Tensors cut out of it with view() share the mapping's Storage, so the mapping lives until the
// last of them is disposed; munmap happens in the Storage's release. POSIX only: this is the
// one place to port for Windows (CreateFileMapping / MapViewOfFile).
//
// The file is opened read-only. The pages are mapped MAP_PRIVATE with PROT_WRITE so that a
// kernel writing into a mapped tensor gets copy-on-write pages instead of a SIGSEGV; the file
// on disk is never modified. MAP_NORESERVE keeps a large mapping from being charged against
// the commit limit as if every page were about to be copied.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "registry.h"
#include "tensor.h"

namespace gmai {
namespace {

std::string errnoText(int err) { return std::strerror(err); }

std::shared_ptr<Storage> mapWholeFile(Napi::Env env, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throwError(env, "cannot open '" + path + "': " + errnoText(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throwError(env, "cannot stat '" + path + "': " + errnoText(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throwError(env, "'" + path + "' is not a regular file");
  }
  auto storage = std::make_shared<Storage>();
  storage->bytes = size_t(st.st_size);
  if (storage->bytes == 0) {  // mmap rejects length 0; an empty storage says the same thing
    ::close(fd);
    return storage;
  }
  void* p = ::mmap(nullptr, storage->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps its own reference to the file
  if (p == MAP_FAILED) throwError(env, "cannot memory-map '" + path + "': " + errnoText(err));
  storage->data = p;
  storage->release = [p, bytes = storage->bytes] { ::munmap(p, bytes); };
  return storage;
}

Napi::Value mapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throwTypeError(env, "mapFile: 'path' must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  auto storage = mapWholeFile(env, path);
  // File-backed pages are page cache the kernel can drop, not heap. `storage` is passed as a
  // copy (not moved) on purpose: wrap() sees a second reference and so does not report the
  // file size to V8 as external memory.
  Napi::Object out = Napi::Object::New(env);
  out.Set("handle", TensorHandle::wrap(env, storage, 0, DType::U8, {int64_t(storage->bytes)}));
  out.Set("byteLength", Napi::Number::New(env, double(storage->bytes)));
  return out;
}

}  // namespace

GMAI_ADDON_MODULE(mmap_api) {
  exports.Set("mapFile", Napi::Function::New(env, mapFile, "mapFile"));
}

}  // namespace gmai
