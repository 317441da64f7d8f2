#include "calibrate/profile.h"

#include <sys/utsname.h>

#include <chrono>
#include <ctime>
#include <fmt/format.h>

#include "bstack_build_info.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/tune.h"
#include "src/error.h"
#include "src/io/h5.h"

namespace bstack::calibrate {
namespace {
constexpr const char* kFormat = "bstack-profile";
constexpr int64_t kVersion = 1;

std::string join(const std::vector<std::string>& v, char sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? std::string(1, sep) : "") + v[i];
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    const size_t end = s.find(sep, pos);
    out.push_back(s.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return out;
}
}  // namespace

void Series::add_row(const std::vector<double>& row) {
  BSTACK_CHECK(row.size() == columns.size(), "series {}: row of {} values, {} columns", name,
               row.size(), columns.size());
  data.insert(data.end(), row.begin(), row.end());
}

void MachineProfile::set_meta(const std::string& key, const std::string& value) {
  for (auto& kv : meta)
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  meta.emplace_back(key, value);
}

void MachineProfile::set(Param p) {
  BSTACK_CHECK(!p.key.empty() && p.key.find('/') == std::string::npos,
               "profile: bad parameter key '{}'", p.key);
  for (auto& q : params)
    if (q.key == p.key) {
      q = std::move(p);
      return;
    }
  params.push_back(std::move(p));
}

void MachineProfile::add_series(Series s) {
  BSTACK_CHECK(!s.columns.empty() && s.data.size() % s.columns.size() == 0,
               "profile: series '{}' has {} values for {} columns", s.name, s.data.size(),
               s.columns.size());
  for (auto& t : series)
    if (t.name == s.name) {
      t = std::move(s);
      return;
    }
  series.push_back(std::move(s));
}

bool MachineProfile::has(const std::string& key) const {
  for (const auto& q : params)
    if (q.key == key) return true;
  return false;
}

const Param& MachineProfile::param(const std::string& key) const {
  for (const auto& q : params)
    if (q.key == key) return q;
  fail("profile has no parameter '{}' (was its section run? see `bstack calibrate --help`)", key);
}

double MachineProfile::value_or(const std::string& key, double fallback) const {
  for (const auto& q : params)
    if (q.key == key) return q.value;
  return fallback;
}

std::string MachineProfile::meta_value(const std::string& key) const {
  for (const auto& kv : meta)
    if (kv.first == key) return kv.second;
  return "";
}

const Series* MachineProfile::find_series(const std::string& name) const {
  for (const auto& s : series)
    if (s.name == name) return &s;
  return nullptr;
}

std::string profile_machine_key() { return kernels::tune_machine_key(); }

void fill_metadata(MachineProfile& p, const std::string& mode) {
  p.set_meta("cpu_model", kernels::cpu_model());
  p.set_meta("isa", kernels::isa_name(kernels::isa()));
  p.set_meta("cores", std::to_string(kernels::max_threads()));
  p.set_meta("threads", std::to_string(kernels::num_threads()));
  const kernels::CacheSizes& c = kernels::cache_sizes();
  p.set_meta("caches", fmt::format("L1d {} B, L2 {} B, L3 {} B (OS)", c.l1d, c.l2, c.l3));
  utsname u{};
  if (uname(&u) == 0) p.set_meta("os", fmt::format("{} {} {}", u.sysname, u.release, u.machine));
  p.set_meta("compiler", BSTACK_COMPILER);
  p.set_meta("build", BSTACK_BUILD_TYPE);
  p.set_meta("bstack_version", BSTACK_VERSION);
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  p.set_meta("date", date);
  p.set_meta("mode", mode);
  p.set_meta("machine_key", profile_machine_key());
}

void write_profile(const std::string& path, const MachineProfile& p) {
  H5Writer w(path, kFormat, kVersion);
  w.attr("/", "machine_key", p.meta_value("machine_key").empty() ? profile_machine_key()
                                                                : p.meta_value("machine_key"));
  w.attr("/", "meta_keys", [&] {
    std::vector<std::string> k;
    for (const auto& kv : p.meta) k.push_back(kv.first);
    return join(k, ',');
  }());
  for (const auto& kv : p.meta) w.attr("meta", kv.first, kv.second);
  w.attr("/", "params", static_cast<int64_t>(p.params.size()));
  for (size_t i = 0; i < p.params.size(); ++i) {
    const Param& q = p.params[i];
    const std::string name = "params/" + std::to_string(i);
    w.write(name, std::vector<double>{q.value}, {1});
    w.attr(name, "key", q.key);
    w.attr(name, "unit", q.unit);
    w.attr(name, "method", q.method);
    w.attr(name, "quality", q.quality);
    w.attr(name, "quality_name", q.quality_name);
  }
  int64_t ns = 0;
  for (const Series& s : p.series) {
    if (s.rows() == 0) continue;  // nothing measured: HDF5 chunks cannot be empty
    const std::string name = "series/" + std::to_string(ns++);
    w.write(name, s.data, {static_cast<int64_t>(s.rows()), static_cast<int64_t>(s.columns.size())});
    w.attr(name, "name", s.name);
    w.attr(name, "columns", join(s.columns, ','));
    w.attr(name, "method", s.method);
  }
  w.attr("/", "series", ns);
  w.attr("/", "notes", static_cast<int64_t>(p.notes.size()));
  for (size_t i = 0; i < p.notes.size(); ++i) w.attr("notes", std::to_string(i), p.notes[i]);
  w.commit();
}

MachineProfile read_profile(const std::string& path, bool require_this_machine) {
  H5Reader r(path, kFormat, kVersion, kVersion);
  MachineProfile p;
  const std::string key = r.attr_string("/", "machine_key");
  if (require_this_machine) {
    const std::string here = profile_machine_key();
    BSTACK_CHECK(key == here,
                 "profile {} was measured on another machine ({}); this is {}. Run `bstack "
                 "calibrate -o {}` here",
                 path, key, here, path);
  }
  const std::string mk = r.attr_string("/", "meta_keys");
  if (!mk.empty())
    for (const std::string& k : split(mk, ',')) p.meta.emplace_back(k, r.attr_string("meta", k));
  const int64_t np = r.attr_int("/", "params"), ns = r.attr_int("/", "series"),
                nn = r.attr_int("/", "notes");
  BSTACK_CHECK(np >= 0 && np < 100000 && ns >= 0 && ns < 100000 && nn >= 0 && nn < 100000,
               "profile {}: bad counts (params {}, series {}, notes {})", path, np, ns, nn);
  for (int64_t i = 0; i < np; ++i) {
    const std::string name = "params/" + std::to_string(i);
    const std::vector<double> v = r.read_vector<double>(name);
    BSTACK_CHECK(v.size() == 1, "profile {}: {} holds {} values, expected 1", path, name, v.size());
    Param q;
    q.key = r.attr_string(name, "key");
    q.value = v[0];
    q.unit = r.attr_string(name, "unit");
    q.method = r.attr_string(name, "method");
    q.quality = r.attr_double(name, "quality");
    q.quality_name = r.attr_string(name, "quality_name");
    p.set(std::move(q));
  }
  for (int64_t i = 0; i < ns; ++i) {
    const std::string name = "series/" + std::to_string(i);
    Array a = r.read(name);
    Series s;
    s.name = r.attr_string(name, "name");
    s.columns = split(r.attr_string(name, "columns"), ',');
    s.method = r.attr_string(name, "method");
    BSTACK_CHECK(a.dtype == DType::f64 && a.shape.size() == 2 &&
                     a.shape[1] == static_cast<int64_t>(s.columns.size()),
                 "profile {}: series '{}' has the wrong shape or type", path, s.name);
    const double* d = a.as<double>();
    s.data.assign(d, d + a.numel());
    p.add_series(std::move(s));
  }
  for (int64_t i = 0; i < nn; ++i) p.notes.push_back(r.attr_string("notes", std::to_string(i)));
  return p;
}

}  // namespace bstack::calibrate
