// HDF5 files: named arrays (f32, f64, i8, i32, i64) and scalar/string attributes in groups.
// The one file layer behind checkpoints, profiles, traces and the tuning cache.
//
// Every file carries root attributes `format` (string) and `version` (int64); a reader
// names the format and version range it accepts. Writes go to `<path>.tmp.<pid>.<n>` in the
// same directory and are renamed over `path` on commit(), so a crash never leaves a half file
// and an earlier good file survives (a killed writer may leave its .tmp file behind). Arrays
// are stored chunked (<= 1 MiB per chunk) with the Fletcher-32 checksum filter, and the file's
// metadata (HDF5 1.10 format) is checksummed too, so flipped bytes are reported on read
// instead of returned. Equal content gives byte-identical files (no timestamps).
//
// Leaves out on purpose: partial reads/writes (hyperslabs), appending to or editing an
// existing file, compression, array-valued attributes. Errors are bstack::Error naming the
// file, the object and the problem; HDF5's own error stack is never printed, on any thread.
// HDF5 itself stays private to h5.cpp.
#pragma once

#include "src/dtype.h"
#include "src/error.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bstack {

// A row-major contiguous array to write (not owned).
struct ArrayRef {
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
};

// An array read from a file (owned bytes, row-major).
struct Array {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::vector<std::byte> bytes;
  int64_t numel() const;
  template <class T> const T* as() const {
    BSTACK_CHECK(dtype == dtype_of<T>, "Array: holds {}, requested {}", dtype_name(dtype),
                 dtype_name(dtype_of<T>));
    return reinterpret_cast<const T*>(bytes.data());
  }
};

class H5Writer {
 public:
  H5Writer(std::string path, std::string format, int64_t version);
  ~H5Writer();  // without commit(): removes the temporary file, leaves `path` untouched
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  // `name` is a slash-separated path ("model/fc1/weight"); missing groups are created.
  void write(const std::string& name, const ArrayRef& a);
  template <class T> void write(const std::string& name, const std::vector<T>& v,
                                const std::vector<int64_t>& shape) {
    write(name, ArrayRef{dtype_of<T>, shape, v.data()});
  }
  // Attributes on "/" (the file), a group or a dataset; groups are created when missing.
  void attr(const std::string& object, const std::string& key, int64_t value);
  void attr(const std::string& object, const std::string& key, double value);
  void attr(const std::string& object, const std::string& key, const std::string& value);
  void attr(const std::string& object, const std::string& key, const char* value) {
    attr(object, key, std::string(value));
  }
  // Flushes, closes, fsyncs and renames the temporary file over `path`.
  void commit();
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_, tmp_;
};

class H5Reader {
 public:
  // Opens `path` and checks format == expected_format, min_version <= version <= max_version.
  H5Reader(std::string path, std::string expected_format, int64_t min_version, int64_t max_version);
  ~H5Reader();
  H5Reader(const H5Reader&) = delete;
  H5Reader& operator=(const H5Reader&) = delete;

  bool has(const std::string& name) const;               // a dataset or group exists
  std::vector<std::string> list(const std::string& group) const;  // member names, sorted
  Array read(const std::string& name) const;
  template <class T> std::vector<T> read_vector(const std::string& name) const {
    Array a = read(name);
    BSTACK_CHECK(a.dtype == dtype_of<T>, "{}: dataset '{}' holds {}, expected {}", path_, name,
                 dtype_name(a.dtype), dtype_name(dtype_of<T>));
    const T* p = a.as<T>();
    return std::vector<T>(p, p + a.numel());
  }
  bool has_attr(const std::string& object, const std::string& key) const;
  int64_t attr_int(const std::string& object, const std::string& key) const;
  double attr_double(const std::string& object, const std::string& key) const;
  std::string attr_string(const std::string& object, const std::string& key) const;
  const std::string& format() const { return format_; }
  int64_t version() const { return version_; }
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_, format_;
  int64_t version_ = 0;
};

}  // namespace bstack
