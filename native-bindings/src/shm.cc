// corral_shm: maps a POSIX shared-memory segment and hands it to JS as a real SharedArrayBuffer,
// so Atomics on it are hardware atomics shared by every process that maps the same segment.
//
// Why the V8 API and not N-API: N-API can only wrap foreign memory in a plain ArrayBuffer;
// only v8::SharedArrayBuffer::NewBackingStore accepts an external pointer plus a deleter.
//
// There is deliberately no explicit unmap: the backing store's deleter munmaps when the last
// JS view is collected, so no live TypedArray can ever point at unmapped memory.

#include <node.h>
#include <v8.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace corral_shm {

using v8::ArrayBuffer;
using v8::BackingStore;
using v8::Boolean;
using v8::Context;
using v8::Exception;
using v8::FunctionCallbackInfo;
using v8::Isolate;
using v8::Local;
using v8::Object;
using v8::SharedArrayBuffer;
using v8::String;
using v8::Value;

static void Throw(Isolate* isolate, const std::string& what, int err) {
  std::string msg = what;
  if (err != 0) {
    msg += ": ";
    msg += std::strerror(err);
  }
  Local<Value> e = Exception::Error(String::NewFromUtf8(isolate, msg.c_str()).ToLocalChecked());
  if (err != 0) {
    // Expose errno so JS can branch on e.g. EEXIST / ENOENT without parsing the message.
    Local<Context> ctx = isolate->GetCurrentContext();
    Local<Object> obj = e.As<Object>();
    obj->Set(ctx, String::NewFromUtf8Literal(isolate, "errno"), v8::Integer::New(isolate, err)).FromMaybe(false);
    const char* code = nullptr;
    switch (err) {
      case EEXIST: code = "EEXIST"; break;
      case ENOENT: code = "ENOENT"; break;
      case EACCES: code = "EACCES"; break;
      case EINVAL: code = "EINVAL"; break;
      case ENOMEM: code = "ENOMEM"; break;
      case ENOSPC: code = "ENOSPC"; break;
      case EMFILE: code = "EMFILE"; break;
      case ENAMETOOLONG: code = "ENAMETOOLONG"; break;
      default: break;
    }
    if (code != nullptr) {
      obj->Set(ctx, String::NewFromUtf8Literal(isolate, "code"),
                     String::NewFromUtf8(isolate, code).ToLocalChecked()).FromMaybe(false);
    }
  }
  isolate->ThrowException(e);
}

static void Unmap(void* data, size_t length, void* /*deleter_data*/) {
  munmap(data, length);
}

// open(name: string, size: number, create: boolean): SharedArrayBuffer
static void Open(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 3 || !args[0]->IsString() || !args[1]->IsNumber() || !args[2]->IsBoolean()) {
    Throw(isolate, "corral_shm.open(name: string, size: number, create: boolean)", 0);
    return;
  }
  String::Utf8Value name(isolate, args[0]);
  double sizeD = args[1].As<v8::Number>()->Value();
  bool create = args[2].As<Boolean>()->Value();
  if (!(sizeD > 0) || sizeD > 9007199254740991.0 || sizeD != static_cast<double>(static_cast<size_t>(sizeD))) {
    Throw(isolate, "corral_shm.open: size must be a positive integer", 0);
    return;
  }
  size_t size = static_cast<size_t>(sizeD);
  std::string label = std::string("shm ") + *name;

  int fd = create ? shm_open(*name, O_CREAT | O_EXCL | O_RDWR, 0600) : shm_open(*name, O_RDWR, 0);
  if (fd < 0) {
    Throw(isolate, label + (create ? ": shm_open(create)" : ": shm_open(attach)"), errno);
    return;
  }
  if (create) {
    // ftruncate on a fresh object zero-fills it: every table starts empty.
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
      int err = errno;
      close(fd);
      shm_unlink(*name);
      Throw(isolate, label + ": ftruncate", err);
      return;
    }
  } else {
    struct stat st;
    if (fstat(fd, &st) != 0) {
      int err = errno;
      close(fd);
      Throw(isolate, label + ": fstat", err);
      return;
    }
    if (static_cast<size_t>(st.st_size) < size) {
      close(fd);
      Throw(isolate, label + ": segment is " + std::to_string(st.st_size) + " bytes, expected at least " +
                         std::to_string(size), 0);
      return;
    }
  }
  void* ptr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int mapErr = errno;
  close(fd);  // the mapping keeps the object alive; the fd is no longer needed
  if (ptr == MAP_FAILED) {
    if (create) shm_unlink(*name);
    Throw(isolate, label + ": mmap", mapErr);
    return;
  }
  std::unique_ptr<BackingStore> store =
      SharedArrayBuffer::NewBackingStore(ptr, size, Unmap, nullptr);
  Local<SharedArrayBuffer> sab = SharedArrayBuffer::New(isolate, std::move(store));
  args.GetReturnValue().Set(sab);
}

// unlink(name: string): boolean — false when the name did not exist.
static void Unlink(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsString()) {
    Throw(isolate, "corral_shm.unlink(name: string)", 0);
    return;
  }
  String::Utf8Value name(isolate, args[0]);
  if (shm_unlink(*name) == 0) {
    args.GetReturnValue().Set(true);
    return;
  }
  int err = errno;
  if (err == ENOENT) {
    args.GetReturnValue().Set(false);
    return;
  }
  Throw(isolate, std::string("shm ") + *name + ": shm_unlink", err);
}

}  // namespace corral_shm

// Context-aware so worker_threads (piscina) may load it too; the addon holds no global state.
NODE_MODULE_INIT(/* exports, module, context */) {
  using v8::Isolate;
  using v8::String;
  Isolate* isolate = context->GetIsolate();
  exports->Set(context, String::NewFromUtf8Literal(isolate, "open"),
                     v8::FunctionTemplate::New(isolate, corral_shm::Open)->GetFunction(context).ToLocalChecked()).FromMaybe(false);
  exports->Set(context, String::NewFromUtf8Literal(isolate, "unlink"),
                     v8::FunctionTemplate::New(isolate, corral_shm::Unlink)->GetFunction(context).ToLocalChecked()).FromMaybe(false);
}
