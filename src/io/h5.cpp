// HDF5 file layer (see h5.h). HDF5's C API is used directly and kept private to this file:
// ids are held by RAII handles, every fallible call goes through BSTACK_H5_CHECK, and HDF5's
// automatic error printing is switched off once so users see only bstack::Error messages.
#include "src/io/h5.h"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

namespace bstack {

namespace {

void silence_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

// The innermost HDF5 error description on the current stack ("" when none).
std::string hdf5_reason() {
  std::string out;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        auto* s = static_cast<std::string*>(data);
        if (n == 0 && e->desc) *s = e->desc;
        return 0;
      },
      &out);
  H5Eclear2(H5E_DEFAULT);
  return out;
}

[[noreturn]] void h5_fail(const std::string& file, const std::string& what, const char* call) {
  const std::string reason = hdf5_reason();
  fail("{}: {}{} [{}]", file, what, reason.empty() ? "" : " (" + reason + ")", call);
}

}  // namespace

// Turns a negative HDF5 return into a bstack::Error naming the file, the action and the call.
#define BSTACK_H5_CHECK(call, file, what)                            \
  ([&] {                                                             \
    auto r_ = (call);                                                \
    if (r_ < 0) h5_fail((file), (what), #call);                      \
    return r_;                                                       \
  }())

namespace {

// Owns one HDF5 id and closes it with the matching H5xclose.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer close) : id_(id), close_(close) {}
  Id(Id&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = H5I_INVALID_HID;
    return *this;
  }
  ~Id() { reset(); }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t get() const { return id_; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

hid_t file_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_IEEE_F32LE;
    case DType::f64: return H5T_IEEE_F64LE;
    case DType::i8: return H5T_STD_I8LE;
    case DType::i32: return H5T_STD_I32LE;
    case DType::i64: return H5T_STD_I64LE;
  }
  return H5T_STD_I8LE;
}

hid_t memory_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
    case DType::i8: return H5T_NATIVE_INT8;
    case DType::i32: return H5T_NATIVE_INT32;
    case DType::i64: return H5T_NATIVE_INT64;
  }
  return H5T_NATIVE_INT8;
}

// The DType stored in a dataset type, or nullopt-like false for anything bstack doesn't write.
bool dtype_of_type(hid_t type, DType* out) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT && size == 4) *out = DType::f32;
  else if (cls == H5T_FLOAT && size == 8) *out = DType::f64;
  else if (cls == H5T_INTEGER && size == 1 && H5Tget_sign(type) == H5T_SGN_2) *out = DType::i8;
  else if (cls == H5T_INTEGER && size == 4) *out = DType::i32;
  else if (cls == H5T_INTEGER && size == 8) *out = DType::i64;
  else return false;
  return true;
}

// "a/b/c" -> "a/b/c" without leading/trailing slashes; "" and "/" -> "/".
std::string clean_path(const std::string& p) {
  size_t b = p.find_first_not_of('/');
  if (b == std::string::npos) return "/";
  size_t e = p.find_last_not_of('/');
  return p.substr(b, e - b + 1);
}

// Whether every component of `path` exists as a link under the file.
bool link_exists(hid_t file, const std::string& path) {
  if (path == "/") return true;
  size_t pos = 0;
  while (true) {
    const size_t slash = path.find('/', pos);
    const std::string prefix = path.substr(0, slash);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

Id open_object(hid_t file, const std::string& file_name, const std::string& object) {
  const std::string p = clean_path(object);
  if (!link_exists(file, p)) fail("{}: no object '{}' in the file", file_name, object);
  return Id(BSTACK_H5_CHECK(H5Oopen(file, p.c_str(), H5P_DEFAULT), file_name,
                            "cannot open '" + object + "'"),
            H5Oclose);
}

Id link_create_plist(const std::string& file_name) {
  Id lcpl(BSTACK_H5_CHECK(H5Pcreate(H5P_LINK_CREATE), file_name, "property list"), H5Pclose);
  BSTACK_H5_CHECK(H5Pset_create_intermediate_group(lcpl.get(), 1), file_name, "property list");
  return lcpl;
}

}  // namespace

int64_t Array::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// ---- writer ---------------------------------------------------------------------------------

struct H5Writer::Impl {
  Id file;
  bool committed = false;
};

H5Writer::H5Writer(std::string path, std::string format, int64_t version)
    : impl_(std::make_unique<Impl>()), path_(std::move(path)) {
  silence_hdf5();
  tmp_ = fmt::format("{}.tmp.{}", path_, static_cast<long>(::getpid()));
  const hid_t f = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    hdf5_reason();
    const auto dir = std::filesystem::path(path_).parent_path();
    fail("{}: cannot create the file{}", path_,
         !dir.empty() && !std::filesystem::is_directory(dir)
             ? fmt::format(" (directory '{}' does not exist)", dir.string())
             : " (check the directory exists and is writable)");
  }
  impl_->file = Id(f, H5Fclose);
  attr("/", "format", format);
  attr("/", "version", version);
}

H5Writer::~H5Writer() {
  if (!impl_->committed) {
    impl_->file.reset();
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

void H5Writer::write(const std::string& name_in, const ArrayRef& a) {
  BSTACK_CHECK(!impl_->committed, "{}: write('{}') after commit()", path_, name_in);
  const std::string name = clean_path(name_in);
  BSTACK_CHECK(name != "/", "{}: a dataset needs a name", path_);
  BSTACK_CHECK(!link_exists(impl_->file.get(), name), "{}: '{}' is written twice", path_, name);
  const int rank = static_cast<int>(a.shape.size());
  std::vector<hsize_t> dims(a.shape.begin(), a.shape.end());
  int64_t numel = 1;
  for (int64_t d : a.shape) {
    BSTACK_CHECK(d >= 0, "{}: '{}' has a negative dimension", path_, name);
    numel *= d;
  }
  const std::string what = "cannot write '" + name + "'";
  Id space(rank == 0 ? BSTACK_H5_CHECK(H5Screate(H5S_SCALAR), path_, what)
                     : BSTACK_H5_CHECK(H5Screate_simple(rank, dims.data(), nullptr), path_, what),
           H5Sclose);
  Id dcpl(BSTACK_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE), path_, what), H5Pclose);
  if (rank > 0 && numel > 0) {
    // Chunks of at most ~1 MiB, split along the first dim; Fletcher-32 checksums each chunk.
    std::vector<hsize_t> chunk = dims;
    const int64_t row_bytes = static_cast<int64_t>(dtype_size(a.dtype)) * (numel / a.shape[0]);
    chunk[0] = static_cast<hsize_t>(std::clamp<int64_t>((1 << 20) / std::max<int64_t>(row_bytes, 1),
                                                        1, a.shape[0]));
    BSTACK_H5_CHECK(H5Pset_chunk(dcpl.get(), rank, chunk.data()), path_, what);
    BSTACK_H5_CHECK(H5Pset_fletcher32(dcpl.get()), path_, what);
  }
  Id lcpl = link_create_plist(path_);
  Id ds(BSTACK_H5_CHECK(H5Dcreate2(impl_->file.get(), name.c_str(), file_type(a.dtype), space.get(),
                                   lcpl.get(), dcpl.get(), H5P_DEFAULT),
                        path_, what),
        H5Dclose);
  if (numel > 0)
    BSTACK_H5_CHECK(H5Dwrite(ds.get(), memory_type(a.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data),
                    path_, what);
}

namespace {
// Opens `object` for an attribute, creating it as a group when it does not exist yet.
Id object_for_attr(hid_t file, const std::string& file_name, const std::string& object) {
  const std::string p = clean_path(object);
  if (!link_exists(file, p)) {
    Id lcpl = link_create_plist(file_name);
    Id g(BSTACK_H5_CHECK(H5Gcreate2(file, p.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                         file_name, "cannot create group '" + p + "'"),
         H5Gclose);
  }
  return open_object(file, file_name, p);
}

void write_attr(hid_t obj, const std::string& file, const std::string& key, hid_t type,
                const void* value) {
  const std::string what = "cannot write attribute '" + key + "'";
  if (H5Aexists(obj, key.c_str()) > 0) BSTACK_H5_CHECK(H5Adelete(obj, key.c_str()), file, what);
  Id space(BSTACK_H5_CHECK(H5Screate(H5S_SCALAR), file, what), H5Sclose);
  Id at(BSTACK_H5_CHECK(H5Acreate2(obj, key.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                        file, what),
        H5Aclose);
  BSTACK_H5_CHECK(H5Awrite(at.get(), type, value), file, what);
}
}  // namespace

void H5Writer::attr(const std::string& object, const std::string& key, int64_t value) {
  Id obj = object_for_attr(impl_->file.get(), path_, object);
  write_attr(obj.get(), path_, key, H5T_NATIVE_INT64, &value);
}

void H5Writer::attr(const std::string& object, const std::string& key, double value) {
  Id obj = object_for_attr(impl_->file.get(), path_, object);
  write_attr(obj.get(), path_, key, H5T_NATIVE_DOUBLE, &value);
}

void H5Writer::attr(const std::string& object, const std::string& key, const std::string& value) {
  Id obj = object_for_attr(impl_->file.get(), path_, object);
  Id type(BSTACK_H5_CHECK(H5Tcopy(H5T_C_S1), path_, "string type"), H5Tclose);
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  BSTACK_H5_CHECK(H5Tset_size(type.get(), padded.size()), path_, "string type");
  BSTACK_H5_CHECK(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), path_, "string type");
  write_attr(obj.get(), path_, key, type.get(), padded.data());
}

void H5Writer::commit() {
  BSTACK_CHECK(!impl_->committed, "{}: commit() called twice", path_);
  BSTACK_H5_CHECK(H5Fflush(impl_->file.get(), H5F_SCOPE_GLOBAL), path_, "cannot flush");
  impl_->file.reset();
  // fsync the data before the rename makes it visible, so a power cut leaves old or new.
  const int fd = ::open(tmp_.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    fail("{}: cannot rename {} into place: {}", path_, tmp_, std::strerror(errno));
  impl_->committed = true;
}

// ---- reader ---------------------------------------------------------------------------------

struct H5Reader::Impl {
  Id file;
};

H5Reader::H5Reader(std::string path, std::string expected_format, int64_t min_version,
                   int64_t max_version)
    : impl_(std::make_unique<Impl>()), path_(std::move(path)) {
  silence_hdf5();
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) fail("{}: no such file", path_);
  if (!std::filesystem::is_regular_file(path_, ec)) fail("{}: not a regular file", path_);
  if (H5Fis_hdf5(path_.c_str()) <= 0) {
    hdf5_reason();
    fail("{}: truncated or not an HDF5 file", path_);
  }
  const hid_t f = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    const std::string reason = hdf5_reason();
    fail("{}: truncated or not an HDF5 file{}", path_, reason.empty() ? "" : " (" + reason + ")");
  }
  impl_->file = Id(f, H5Fclose);
  if (!has_attr("/", "format"))
    fail("{}: not a bstack file (no 'format' attribute; expected '{}')", path_, expected_format);
  format_ = attr_string("/", "format");
  if (format_ != expected_format)
    fail("{}: format is '{}', expected '{}'", path_, format_, expected_format);
  if (!has_attr("/", "version")) fail("{}: no 'version' attribute", path_);
  version_ = attr_int("/", "version");
  if (version_ < min_version || version_ > max_version)
    fail("{}: {} version {} is not supported (this build reads versions {} to {})", path_, format_,
         version_, min_version, max_version);
}

H5Reader::~H5Reader() = default;

bool H5Reader::has(const std::string& name) const {
  return link_exists(impl_->file.get(), clean_path(name));
}

std::vector<std::string> H5Reader::list(const std::string& group) const {
  Id g = open_object(impl_->file.get(), path_, group);
  std::vector<std::string> names;
  hsize_t idx = 0;
  BSTACK_H5_CHECK(H5Literate(
                      g.get(), H5_INDEX_NAME, H5_ITER_INC, &idx,
                      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
                        static_cast<std::vector<std::string>*>(data)->push_back(name);
                        return 0;
                      },
                      &names),
                  path_, "cannot list '" + group + "'");
  std::sort(names.begin(), names.end());
  return names;
}

Array H5Reader::read(const std::string& name_in) const {
  const std::string name = clean_path(name_in);
  if (!has(name)) fail("{}: no dataset '{}' in the file", path_, name_in);
  const std::string what = "cannot read dataset '" + name + "'";
  Id ds(BSTACK_H5_CHECK(H5Dopen2(impl_->file.get(), name.c_str(), H5P_DEFAULT), path_, what),
        H5Dclose);
  Id type(BSTACK_H5_CHECK(H5Dget_type(ds.get()), path_, what), H5Tclose);
  Array a;
  if (!dtype_of_type(type.get(), &a.dtype))
    fail("{}: dataset '{}' has an element type bstack does not read", path_, name);
  Id space(BSTACK_H5_CHECK(H5Dget_space(ds.get()), path_, what), H5Sclose);
  const int rank = BSTACK_H5_CHECK(H5Sget_simple_extent_ndims(space.get()), path_, what);
  std::vector<hsize_t> dims(rank);
  if (rank > 0) BSTACK_H5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), path_, what);
  a.shape.assign(dims.begin(), dims.end());
  a.bytes.resize(static_cast<size_t>(a.numel()) * dtype_size(a.dtype));
  if (a.numel() > 0 &&
      H5Dread(ds.get(), memory_type(a.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.bytes.data()) < 0) {
    const std::string reason = hdf5_reason();
    fail("{}: dataset '{}' is corrupt: its data cannot be read{}", path_, name,
         reason.empty() ? "" : " (" + reason + ")");
  }
  return a;
}

namespace {
Id open_attr(hid_t file, const std::string& file_name, const std::string& object,
             const std::string& key) {
  Id obj = open_object(file, file_name, object);
  if (H5Aexists(obj.get(), key.c_str()) <= 0)
    fail("{}: no attribute '{}' on '{}'", file_name, key, object);
  return Id(BSTACK_H5_CHECK(H5Aopen(obj.get(), key.c_str(), H5P_DEFAULT), file_name,
                            "cannot open attribute '" + key + "'"),
            H5Aclose);
}

H5T_class_t attr_class(const Id& at, const std::string& file, const std::string& key) {
  Id type(BSTACK_H5_CHECK(H5Aget_type(at.get()), file, "attribute '" + key + "'"), H5Tclose);
  return H5Tget_class(type.get());
}
}  // namespace

bool H5Reader::has_attr(const std::string& object, const std::string& key) const {
  const std::string p = clean_path(object);
  if (!link_exists(impl_->file.get(), p)) return false;
  Id obj = open_object(impl_->file.get(), path_, p);
  const htri_t r = H5Aexists(obj.get(), key.c_str());
  if (r < 0) hdf5_reason();
  return r > 0;
}

int64_t H5Reader::attr_int(const std::string& object, const std::string& key) const {
  Id at = open_attr(impl_->file.get(), path_, object, key);
  if (attr_class(at, path_, key) != H5T_INTEGER)
    fail("{}: attribute '{}' on '{}' is not an integer", path_, key, object);
  int64_t v = 0;
  BSTACK_H5_CHECK(H5Aread(at.get(), H5T_NATIVE_INT64, &v), path_, "cannot read attribute '" + key + "'");
  return v;
}

double H5Reader::attr_double(const std::string& object, const std::string& key) const {
  Id at = open_attr(impl_->file.get(), path_, object, key);
  const H5T_class_t cls = attr_class(at, path_, key);
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    fail("{}: attribute '{}' on '{}' is not a number", path_, key, object);
  double v = 0;
  BSTACK_H5_CHECK(H5Aread(at.get(), H5T_NATIVE_DOUBLE, &v), path_, "cannot read attribute '" + key + "'");
  return v;
}

std::string H5Reader::attr_string(const std::string& object, const std::string& key) const {
  Id at = open_attr(impl_->file.get(), path_, object, key);
  Id type(BSTACK_H5_CHECK(H5Aget_type(at.get()), path_, "attribute '" + key + "'"), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0)
    fail("{}: attribute '{}' on '{}' is not a fixed-length string", path_, key, object);
  std::string s(H5Tget_size(type.get()), '\0');
  BSTACK_H5_CHECK(H5Aread(at.get(), type.get(), s.data()), path_, "cannot read attribute '" + key + "'");
  s.erase(s.find_last_not_of('\0') + 1);
  return s;
}

}  // namespace bstack
