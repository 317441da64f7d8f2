// HDF5 file layer (see h5.h). HDF5's C API is used directly and kept private to this file.
//
// How it stays safe:
// - Every HDF5 id is held by an RAII `Id`, so a throw never leaks one.
// - Every fallible call goes through BSTACK_H5_CHECK, which turns a negative return into a
//   bstack::Error naming the file, the object and the call, plus HDF5's innermost reason.
// - HDF5's automatic error printing is switched off for each thread before its first HDF5
//   call (see `Entry`), so users see only bstack::Error messages, never HDF5's stack.
// - Files are written with the 1.10 file format (H5F_LIBVER_V110): its superblock, object
//   headers (which hold the attributes and 0-d arrays) and chunk indexes carry checksums, so
//   a corrupted file is reported instead of misread or crashing the reader. Array data is
//   chunked with the Fletcher-32 filter. Such files need HDF5 >= 1.10 to read (any current h5py).
// - Writes go to a temporary file renamed over the target on commit() (write, fsync, rename,
//   fsync the directory), so readers see the old file or the new one, never a half file.
#include "src/io/h5.h"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

namespace bstack {

namespace {

#ifndef H5_HAVE_THREADSAFE
// A library built without --enable-threadsafe must not be entered from two threads at once.
std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex m;
  return m;
}
#endif

// Declared first in every public entry point. A thread-safe HDF5 keeps the error stack, and
// with it the auto-print switch, per thread (H5E.c: H5E__get_my_stack), so silencing it once
// per process (std::call_once) would leave every other thread printing HDF5's stack.
class Entry {
 public:
  Entry() {
    thread_local bool silenced = false;
    if (!silenced) {
      H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
      silenced = true;
    }
  }

#ifndef H5_HAVE_THREADSAFE
 private:
  std::lock_guard<std::recursive_mutex> lock_{hdf5_mutex()};
#endif
};

// The innermost (most specific) HDF5 error description on this thread's stack, "" when none;
// clears the stack.
std::string hdf5_reason() {
  std::string out;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        if (n == 0 && e->desc) *static_cast<std::string*>(data) = e->desc;
        return 0;
      },
      &out);
  H5Eclear2(H5E_DEFAULT);
  return out;
}

std::string in_parens(const std::string& s) { return s.empty() ? "" : " (" + s + ")"; }

[[noreturn]] void h5_fail(const std::string& file, const std::string& what, const char* call) {
  const std::string reason = hdf5_reason();
  const bool corrupt = reason.find("checksum") != std::string::npos;
  fail("{}: {}{}{} [{}]", file, corrupt ? "file is corrupt: " : "", what, in_parens(reason), call);
}

}  // namespace

// Evaluates an HDF5 call; a negative result throws "file: what (HDF5's reason) [call]".
#define BSTACK_H5_CHECK(call, file, what)       \
  ([&] {                                        \
    auto r_ = (call);                           \
    if (r_ < 0) h5_fail((file), (what), #call); \
    return r_;                                  \
  }())

namespace {

// Owns one HDF5 id and closes it with the matching H5xclose.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer close) : id_(id), close_(close) {}
  Id(Id&& o) noexcept : id_(o.release()), close_(o.close_) {}
  Id& operator=(Id&& o) noexcept {
    reset();
    close_ = o.close_;
    id_ = o.release();
    return *this;
  }
  ~Id() { reset(); }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t release() {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }
  hid_t get() const { return id_; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// ---- element types ----------------------------------------------------------------------------

hid_t file_type(DType t) {  // always little-endian on disk
  switch (t) {
    case DType::f32: return H5T_IEEE_F32LE;
    case DType::f64: return H5T_IEEE_F64LE;
    case DType::i8: return H5T_STD_I8LE;
    case DType::i32: return H5T_STD_I32LE;
    case DType::i64: return H5T_STD_I64LE;
  }
  fail("h5: invalid dtype {}", static_cast<int>(t));
}

hid_t memory_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
    case DType::i8: return H5T_NATIVE_INT8;
    case DType::i32: return H5T_NATIVE_INT32;
    case DType::i64: return H5T_NATIVE_INT64;
  }
  fail("h5: invalid dtype {}", static_cast<int>(t));
}

// The DType of a stored element type; false for types bstack does not write (unsigned
// integers, other sizes, compounds, strings).
bool dtype_of_type(hid_t type, DType* out) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT && size == 4) *out = DType::f32;
  else if (cls == H5T_FLOAT && size == 8) *out = DType::f64;
  else if (cls != H5T_INTEGER || H5Tget_sign(type) != H5T_SGN_2) return false;
  else if (size == 1) *out = DType::i8;
  else if (size == 4) *out = DType::i32;
  else if (size == 8) *out = DType::i64;
  else return false;
  return true;
}

std::string describe_type(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t bits = 8 * H5Tget_size(type);
  if (cls == H5T_INTEGER)
    return fmt::format("{}int{}", H5Tget_sign(type) == H5T_SGN_2 ? "" : "u", bits);
  if (cls == H5T_FLOAT) return fmt::format("float{}", bits);
  if (cls == H5T_STRING) return "string";
  return fmt::format("HDF5 type class {}", static_cast<int>(cls));
}

std::string shape_str(const std::vector<int64_t>& s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}

// ---- paths and objects ------------------------------------------------------------------------

// "/a/b/" -> "a/b"; "" and "/" -> "/".
std::string clean_path(const std::string& p) {
  const size_t b = p.find_first_not_of('/');
  if (b == std::string::npos) return "/";
  const size_t e = p.find_last_not_of('/');
  return p.substr(b, e - b + 1);
}

// Whether every component of the clean `path` exists. H5Lexists needs the parents to exist,
// so they are checked first; an error (a parent that is a dataset) counts as absent.
bool link_exists(hid_t file, const std::string& path) {
  if (path == "/") return true;
  for (size_t slash = path.find('/');; slash = path.find('/', slash + 1)) {
    if (H5Lexists(file, path.substr(0, slash).c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) return true;
  }
}

Id open_object(hid_t file, const std::string& file_name, const std::string& object) {
  const std::string p = clean_path(object);
  if (!link_exists(file, p)) fail("{}: no object '{}' in the file", file_name, p);
  return Id(BSTACK_H5_CHECK(H5Oopen(file, p.c_str(), H5P_DEFAULT), file_name,
                            "cannot open '" + p + "'"),
            H5Oclose);
}

// H5I_GROUP or H5I_DATASET (H5Iget_type on an open object: the same call in 1.10 and 1.12+,
// unlike H5Oget_info, whose signature changed).
H5I_type_t object_type(hid_t file, const std::string& file_name, const std::string& path) {
  Id o = open_object(file, file_name, path);
  return H5Iget_type(o.get());
}

// Object creation without modification times, so equal content gives byte-identical files
// (reproducible checkpoints, caches that don't churn). `cls` is H5Pcreate's class.
Id untimed_plist(hid_t cls, const std::string& file_name) {
  Id pl(BSTACK_H5_CHECK(H5Pcreate(cls), file_name, "property list"), H5Pclose);
  BSTACK_H5_CHECK(H5Pset_obj_track_times(pl.get(), false), file_name, "property list");
  return pl;
}

// Creates the groups of the clean `path` that are missing: all of them, or all but the last
// component when `except_last` (the dataset's parents).
void make_groups(hid_t file, const std::string& file_name, const std::string& path,
                 bool except_last) {
  if (path == "/") return;
  Id gcpl = untimed_plist(H5P_GROUP_CREATE, file_name);
  for (size_t slash = path.find('/');; slash = path.find('/', slash + 1)) {
    if (slash == std::string::npos && except_last) return;
    const std::string prefix = path.substr(0, slash);
    if (!link_exists(file, prefix)) {
      Id g(BSTACK_H5_CHECK(H5Gcreate2(file, prefix.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                           file_name, "cannot create group '" + prefix + "'"),
           H5Gclose);
    } else if (object_type(file, file_name, prefix) != H5I_GROUP) {
      fail("{}: cannot create '{}': '{}' is a dataset, not a group", file_name, path, prefix);
    }
    if (slash == std::string::npos) return;
  }
}

// File access: the 1.10 format (metadata checksums, see the top comment) and no file locks:
// atomic rename already keeps readers off half-written files, and flock fails on some network
// file systems (NFS, Lustre) that clusters use.
Id file_access_plist(const std::string& file_name) {
  Id fapl(BSTACK_H5_CHECK(H5Pcreate(H5P_FILE_ACCESS), file_name, "property list"), H5Pclose);
  BSTACK_H5_CHECK(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_LATEST), file_name,
                  "property list");
#if H5_VERSION_GE(1, 10, 7)
  BSTACK_H5_CHECK(H5Pset_file_locking(fapl.get(), false, true), file_name, "property list");
#endif
  return fapl;
}

// Chunk dims for `dims` (all > 0) with at most kChunkBytes per chunk: whole trailing "rows",
// split along the first dim; only when one row alone exceeds the budget, the next dim is split
// too, and so on. 1 MiB keeps a chunk within HDF5's default chunk cache (1 MiB) and makes one
// checksum cover at most 1 MiB.
constexpr int64_t kChunkBytes = int64_t{1} << 20;

std::vector<hsize_t> chunk_dims(const std::vector<int64_t>& dims, size_t elem_size) {
  std::vector<hsize_t> chunk(dims.size(), 1);
  int64_t inner = static_cast<int64_t>(elem_size);  // bytes of one index along dim d
  for (size_t d = dims.size(); d-- > 0;) {
    const int64_t row = inner * dims[d];
    if (row > kChunkBytes) {  // dim d must be split; everything after it is whole
      chunk[d] = static_cast<hsize_t>(std::max<int64_t>(kChunkBytes / inner, 1));
      for (size_t k = d + 1; k < dims.size(); ++k) chunk[k] = static_cast<hsize_t>(dims[k]);
      return chunk;
    }
    inner = row;
  }
  for (size_t k = 0; k < dims.size(); ++k) chunk[k] = static_cast<hsize_t>(dims[k]);
  return chunk;  // the whole array fits in one chunk
}

}  // namespace

int64_t Array::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// ---- writer -----------------------------------------------------------------------------------

struct H5Writer::Impl {
  Id file;
  bool committed = false;
};

H5Writer::H5Writer(std::string path, std::string format, int64_t version)
    : impl_(std::make_unique<Impl>()), path_(std::move(path)) {
  Entry entry;
  // pid keeps concurrent processes apart, the counter two writers of one process.
  static std::atomic<int> serial{0};
  tmp_ = fmt::format("{}.tmp.{}.{}", path_, static_cast<long>(::getpid()), serial++);
  Id fapl = file_access_plist(path_);
  Id fcpl = untimed_plist(H5P_FILE_CREATE, path_);  // the root group's times
  const hid_t f = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get());
  if (f < 0) {
    const std::string reason = hdf5_reason();
    const auto dir = std::filesystem::path(path_).parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
      fail("{}: cannot create the file (directory '{}' does not exist)", path_, dir.string());
    fail("{}: cannot create the file (is the directory writable?){}", path_, in_parens(reason));
  }
  impl_->file = Id(f, H5Fclose);
  try {
    attr("/", "format", format);
    attr("/", "version", version);
  } catch (...) {  // no destructor runs for a half-built writer: clean up here
    impl_->file.reset();
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
    throw;
  }
}

H5Writer::~H5Writer() {
  Entry entry;
  if (!impl_->committed) {
    impl_->file.reset();
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

void H5Writer::write(const std::string& name_in, const ArrayRef& a) {
  Entry entry;
  const std::string name = clean_path(name_in);
  BSTACK_CHECK(!impl_->committed, "{}: write('{}') after commit()", path_, name);
  BSTACK_CHECK(name != "/", "{}: write: a dataset needs a name", path_);
  BSTACK_CHECK(!link_exists(impl_->file.get(), name),
               "{}: '{}' already exists (written twice, or made a group by attr())", path_, name);
  int64_t numel = 1;
  for (int64_t d : a.shape) {
    BSTACK_CHECK(d >= 0, "{}: '{}' has a negative dimension in shape {}", path_, name,
                 shape_str(a.shape));
    numel *= d;
  }
  BSTACK_CHECK(numel == 0 || a.data != nullptr, "{}: '{}' has shape {} but no data", path_, name,
               shape_str(a.shape));
  const std::string what = "cannot write '" + name + "'";
  const int rank = static_cast<int>(a.shape.size());
  const std::vector<hsize_t> dims(a.shape.begin(), a.shape.end());
  Id space(rank == 0 ? BSTACK_H5_CHECK(H5Screate(H5S_SCALAR), path_, what)
                     : BSTACK_H5_CHECK(H5Screate_simple(rank, dims.data(), nullptr), path_, what),
           H5Sclose);
  // Layout: 0-d arrays are compact (stored inside the checksummed object header); zero-size
  // arrays contiguous (no data); everything else chunked with a Fletcher-32 checksum each.
  Id dcpl = untimed_plist(H5P_DATASET_CREATE, path_);
  if (rank == 0) {
    BSTACK_H5_CHECK(H5Pset_layout(dcpl.get(), H5D_COMPACT), path_, what);
  } else if (numel > 0) {
    const std::vector<hsize_t> chunk = chunk_dims(a.shape, dtype_size(a.dtype));
    BSTACK_H5_CHECK(H5Pset_chunk(dcpl.get(), rank, chunk.data()), path_, what);
    BSTACK_H5_CHECK(H5Pset_fletcher32(dcpl.get()), path_, what);
  }
  make_groups(impl_->file.get(), path_, name, /*except_last=*/true);
  Id ds(BSTACK_H5_CHECK(H5Dcreate2(impl_->file.get(), name.c_str(), file_type(a.dtype),
                                   space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                        path_, what),
        H5Dclose);
  if (numel > 0)
    BSTACK_H5_CHECK(H5Dwrite(ds.get(), memory_type(a.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data),
                    path_, what);
}

namespace {

// Opens `object` for an attribute, creating it (and its parents) as a group when missing.
Id object_for_attr(hid_t file, const std::string& file_name, const std::string& object) {
  const std::string p = clean_path(object);
  if (!link_exists(file, p)) make_groups(file, file_name, p, /*except_last=*/false);
  return open_object(file, file_name, p);
}

// Writes (or replaces) the scalar attribute `key` of type `type` on `obj`.
void write_attr(hid_t obj, const std::string& file, const std::string& key, hid_t type,
                const void* value) {
  const std::string what = "cannot write attribute '" + key + "'";
  if (BSTACK_H5_CHECK(H5Aexists(obj, key.c_str()), file, what) > 0)
    BSTACK_H5_CHECK(H5Adelete(obj, key.c_str()), file, what);
  Id space(BSTACK_H5_CHECK(H5Screate(H5S_SCALAR), file, what), H5Sclose);
  Id at(BSTACK_H5_CHECK(H5Acreate2(obj, key.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                        file, what),
        H5Aclose);
  BSTACK_H5_CHECK(H5Awrite(at.get(), type, value), file, what);
}

}  // namespace

void H5Writer::attr(const std::string& object, const std::string& key, int64_t value) {
  Entry entry;
  BSTACK_CHECK(!impl_->committed, "{}: attr('{}') after commit()", path_, key);
  Id obj = object_for_attr(impl_->file.get(), path_, object);
  write_attr(obj.get(), path_, key, H5T_STD_I64LE, &value);
}

void H5Writer::attr(const std::string& object, const std::string& key, double value) {
  Entry entry;
  BSTACK_CHECK(!impl_->committed, "{}: attr('{}') after commit()", path_, key);
  Id obj = object_for_attr(impl_->file.get(), path_, object);
  write_attr(obj.get(), path_, key, H5T_IEEE_F64LE, &value);
}

// Strings are fixed-length UTF-8, null-padded; HDF5 cannot store a zero-length fixed string,
// so "" is stored as one NUL byte (the reader strips trailing NULs).
void H5Writer::attr(const std::string& object, const std::string& key, const std::string& value) {
  Entry entry;
  BSTACK_CHECK(!impl_->committed, "{}: attr('{}') after commit()", path_, key);
  Id obj = object_for_attr(impl_->file.get(), path_, object);
  const std::string what = "string attribute '" + key + "'";
  Id type(BSTACK_H5_CHECK(H5Tcopy(H5T_C_S1), path_, what), H5Tclose);
  const std::string stored = value.empty() ? std::string(1, '\0') : value;
  BSTACK_H5_CHECK(H5Tset_size(type.get(), stored.size()), path_, what);
  BSTACK_H5_CHECK(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), path_, what);
  BSTACK_H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8), path_, what);
  write_attr(obj.get(), path_, key, type.get(), stored.data());
}

void H5Writer::commit() {
  Entry entry;
  BSTACK_CHECK(!impl_->committed, "{}: commit() called twice", path_);
  BSTACK_H5_CHECK(H5Fflush(impl_->file.get(), H5F_SCOPE_GLOBAL), path_, "cannot flush");
  BSTACK_H5_CHECK(H5Fclose(impl_->file.release()), path_, "cannot close");
  // fsync the data before the rename makes it visible, and the directory after it, so that
  // after a power cut the path holds the old file or the new one (ext4/xfs semantics).
  const int fd = ::open(tmp_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    fail("{}: cannot sync {}: {}", path_, tmp_, std::strerror(err));
  }
  ::close(fd);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    fail("{}: cannot rename {} into place: {}", path_, tmp_, std::strerror(errno));
  impl_->committed = true;
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {  // best effort: some file systems refuse fsync on directories
    ::fsync(dfd);
    ::close(dfd);
  }
}

// ---- reader -----------------------------------------------------------------------------------

struct H5Reader::Impl {
  Id file;
};

H5Reader::H5Reader(std::string path, std::string expected_format, int64_t min_version,
                   int64_t max_version)
    : impl_(std::make_unique<Impl>()), path_(std::move(path)) {
  Entry entry;
  // Ask the OS first: HDF5's own message for a missing or unreadable file is vague.
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) fail("{}: no such file", path_);
    fail("{}: cannot open: {}", path_, std::strerror(errno));
  }
  ::close(fd);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path_, ec)) fail("{}: not a regular file", path_);
  Id fapl = file_access_plist(path_);
  const hid_t f = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (f < 0) fail("{}: truncated or not an HDF5 file{}", path_, in_parens(hdf5_reason()));
  impl_->file = Id(f, H5Fclose);
  if (!has_attr("/", "format"))
    fail("{}: not a bstack file (no 'format' attribute; expected '{}')", path_, expected_format);
  format_ = attr_string("/", "format");
  if (format_ != expected_format)
    fail("{}: format is '{}', expected '{}'", path_, format_, expected_format);
  if (!has_attr("/", "version")) fail("{}: no 'version' attribute", path_);
  version_ = attr_int("/", "version");
  if (version_ < min_version || version_ > max_version)
    fail("{}: {} version {} is not supported (this build reads versions {} to {})", path_,
         format_, version_, min_version, max_version);
}

H5Reader::~H5Reader() {
  Entry entry;
  impl_.reset();
}

bool H5Reader::has(const std::string& name) const {
  Entry entry;
  return link_exists(impl_->file.get(), clean_path(name));
}

// Names by index (H5Lget_name_by_idx) rather than H5Literate, whose callback type changed in
// HDF5 1.12.
std::vector<std::string> H5Reader::list(const std::string& group) const {
  Entry entry;
  const std::string p = clean_path(group);
  Id g = open_object(impl_->file.get(), path_, p);
  if (H5Iget_type(g.get()) != H5I_GROUP) fail("{}: list('{}'): not a group", path_, p);
  const std::string what = "cannot list '" + p + "'";
  H5G_info_t info;
  BSTACK_H5_CHECK(H5Gget_info(g.get(), &info), path_, what);
  std::vector<std::string> names(info.nlinks);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len = BSTACK_H5_CHECK(
        H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT),
        path_, what);
    names[i].resize(static_cast<size_t>(len) + 1);
    BSTACK_H5_CHECK(H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, names[i].data(),
                                       names[i].size(), H5P_DEFAULT),
                    path_, what);
    names[i].resize(static_cast<size_t>(len));
  }
  return names;  // H5_INDEX_NAME + H5_ITER_INC: sorted by name
}

Array H5Reader::read(const std::string& name_in) const {
  Entry entry;
  const std::string name = clean_path(name_in);
  const hid_t file = impl_->file.get();
  if (name == "/" || !link_exists(file, name)) fail("{}: no dataset '{}' in the file", path_, name);
  if (object_type(file, path_, name) != H5I_DATASET)
    fail("{}: '{}' is a group, not a dataset", path_, name);
  const std::string what = "cannot read dataset '" + name + "'";
  Id ds(BSTACK_H5_CHECK(H5Dopen2(file, name.c_str(), H5P_DEFAULT), path_, what), H5Dclose);
  Id type(BSTACK_H5_CHECK(H5Dget_type(ds.get()), path_, what), H5Tclose);
  Array a;
  if (!dtype_of_type(type.get(), &a.dtype))
    fail("{}: dataset '{}' holds {}, which bstack does not read (f32, f64, i8, i32, i64)", path_,
         name, describe_type(type.get()));
  Id space(BSTACK_H5_CHECK(H5Dget_space(ds.get()), path_, what), H5Sclose);
  const int rank = BSTACK_H5_CHECK(H5Sget_simple_extent_ndims(space.get()), path_, what);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0)
    BSTACK_H5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), path_, what);
  // The bytes the shape needs, checked against the bytes stored before allocating: a damaged
  // shape must give an Error, not a huge allocation.
  uint64_t need = dtype_size(a.dtype);
  for (hsize_t d : dims) {
    a.shape.push_back(static_cast<int64_t>(d));
    if (d > static_cast<hsize_t>(INT64_MAX) || __builtin_mul_overflow(need, d, &need))
      fail("{}: dataset '{}' is corrupt: shape {} overflows", path_, name, shape_str(a.shape));
  }
  if (a.numel() == 0) return a;
  const hsize_t stored = H5Dget_storage_size(ds.get());
  if (stored < need)
    fail("{}: dataset '{}' is corrupt or incomplete: shape {} needs {} bytes, {} are stored",
         path_, name, shape_str(a.shape), need, stored);
  a.bytes.resize(need);
  if (H5Dread(ds.get(), memory_type(a.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.bytes.data()) < 0)
    fail("{}: dataset '{}' is corrupt: its data fails the checksum or cannot be read{}", path_,
         name, in_parens(hdf5_reason()));
  return a;
}

namespace {

// Opens the scalar attribute `key` on `object`.
Id open_attr(hid_t file, const std::string& file_name, const std::string& object,
             const std::string& key) {
  Id obj = open_object(file, file_name, object);
  const std::string what = "cannot open attribute '" + key + "' on '" + clean_path(object) + "'";
  if (BSTACK_H5_CHECK(H5Aexists(obj.get(), key.c_str()), file_name, what) <= 0)
    fail("{}: no attribute '{}' on '{}'", file_name, key, clean_path(object));
  Id at(BSTACK_H5_CHECK(H5Aopen(obj.get(), key.c_str(), H5P_DEFAULT), file_name, what), H5Aclose);
  Id space(BSTACK_H5_CHECK(H5Aget_space(at.get()), file_name, what), H5Sclose);
  if (BSTACK_H5_CHECK(H5Sget_simple_extent_npoints(space.get()), file_name, what) != 1)
    fail("{}: attribute '{}' on '{}' is not a single value", file_name, key, clean_path(object));
  return at;
}

H5T_class_t attr_class(hid_t at, const std::string& file, const std::string& key) {
  Id type(BSTACK_H5_CHECK(H5Aget_type(at), file, "attribute '" + key + "'"), H5Tclose);
  return H5Tget_class(type.get());
}

}  // namespace

bool H5Reader::has_attr(const std::string& object, const std::string& key) const {
  Entry entry;
  const std::string p = clean_path(object);
  if (!link_exists(impl_->file.get(), p)) return false;
  Id obj = open_object(impl_->file.get(), path_, p);
  return BSTACK_H5_CHECK(H5Aexists(obj.get(), key.c_str()), path_,
                         "cannot look up attribute '" + key + "' on '" + p + "'") > 0;
}

int64_t H5Reader::attr_int(const std::string& object, const std::string& key) const {
  Entry entry;
  Id at = open_attr(impl_->file.get(), path_, object, key);
  if (attr_class(at.get(), path_, key) != H5T_INTEGER)
    fail("{}: attribute '{}' on '{}' is not an integer", path_, key, clean_path(object));
  int64_t v = 0;
  BSTACK_H5_CHECK(H5Aread(at.get(), H5T_NATIVE_INT64, &v), path_,
                  "cannot read attribute '" + key + "'");
  return v;
}

double H5Reader::attr_double(const std::string& object, const std::string& key) const {
  Entry entry;
  Id at = open_attr(impl_->file.get(), path_, object, key);
  const H5T_class_t cls = attr_class(at.get(), path_, key);
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    fail("{}: attribute '{}' on '{}' is not a number", path_, key, clean_path(object));
  double v = 0;
  BSTACK_H5_CHECK(H5Aread(at.get(), H5T_NATIVE_DOUBLE, &v), path_,
                  "cannot read attribute '" + key + "'");
  return v;
}

// Reads fixed-length strings (what H5Writer writes) and variable-length ones (what h5py
// writes by default).
std::string H5Reader::attr_string(const std::string& object, const std::string& key) const {
  Entry entry;
  Id at = open_attr(impl_->file.get(), path_, object, key);
  const std::string what = "cannot read attribute '" + key + "'";
  Id type(BSTACK_H5_CHECK(H5Aget_type(at.get()), path_, what), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    fail("{}: attribute '{}' on '{}' is not a string", path_, key, clean_path(object));
  if (BSTACK_H5_CHECK(H5Tis_variable_str(type.get()), path_, what) > 0) {
    Id mem(BSTACK_H5_CHECK(H5Tcopy(H5T_C_S1), path_, what), H5Tclose);
    BSTACK_H5_CHECK(H5Tset_size(mem.get(), H5T_VARIABLE), path_, what);
    BSTACK_H5_CHECK(H5Tset_cset(mem.get(), H5Tget_cset(type.get())), path_, what);
    char* p = nullptr;
    BSTACK_H5_CHECK(H5Aread(at.get(), mem.get(), &p), path_, what);
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  std::string s(H5Tget_size(type.get()), '\0');
  BSTACK_H5_CHECK(H5Aread(at.get(), type.get(), s.data()), path_, what);
  s.erase(s.find_last_not_of('\0') + 1);
  return s;
}

}  // namespace bstack
