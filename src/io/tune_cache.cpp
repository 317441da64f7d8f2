#include "src/io/tune_cache.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "src/io/h5.h"

namespace bstack {
namespace {
constexpr const char* kFormat = "bstack-tune-cache";
constexpr int64_t kVersion = 1;
}  // namespace

std::string default_tuning_cache_path() {
  if (const char* p = std::getenv("BSTACK_TUNE_CACHE"); p && *p) return p;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/bstack/tune.h5";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/bstack/tune.h5";
  return ".bstack-tune.h5";
}

void save_tuning_cache(const std::string& path, const std::vector<kernels::TuneEntry>& entries) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    BSTACK_CHECK(!ec, "tuning cache {}: cannot create directory {}: {}", path, dir.string(), ec.message());
  }
  H5Writer w(path, kFormat, kVersion);
  w.attr("/", "machine_key", kernels::tune_machine_key());
  w.attr("/", "cpu_model", kernels::cpu_model());
  w.attr("/", "isa", kernels::isa_name(kernels::isa()));
  w.attr("/", "entries", static_cast<int64_t>(entries.size()));
  for (size_t i = 0; i < entries.size(); ++i) {
    const kernels::TuneEntry& e = entries[i];
    const std::string name = "entries/" + std::to_string(i);
    const kernels::GemmConfig& c = e.config;
    w.write(name, std::vector<int64_t>{c.mc, c.kc, c.nc, c.variant, c.threads,
                                       static_cast<int64_t>(c.split), e.m, e.n, e.k},
            {9});
    w.attr(name, "op", e.op);
    w.attr(name, "shape_class", e.shape_class);
    w.attr(name, "seconds_tuned", e.seconds_tuned);
    w.attr(name, "seconds_default", e.seconds_default);
    w.attr(name, "seconds_untuned", e.seconds_untuned);
  }
  w.commit();
}

std::vector<kernels::TuneEntry> read_tuning_cache(const std::string& path) {
  H5Reader r(path, kFormat, kVersion, kVersion);
  const std::string key = r.attr_string("/", "machine_key"), here = kernels::tune_machine_key();
  BSTACK_CHECK(key == here, "tuning cache {} was written on another machine ({}), this is {}; run "
               "`bstack tune` here", path, key, here);
  const int64_t n = r.attr_int("/", "entries");
  BSTACK_CHECK(n >= 0 && n < 100000, "tuning cache {}: bad entry count {}", path, n);
  std::vector<kernels::TuneEntry> out;
  for (int64_t i = 0; i < n; ++i) {
    const std::string name = "entries/" + std::to_string(i);
    const std::vector<int64_t> v = r.read_vector<int64_t>(name);
    BSTACK_CHECK(v.size() == 9, "tuning cache {}: {} has {} values, expected 9", path, name, v.size());
    kernels::TuneEntry e;
    e.op = r.attr_string(name, "op");
    e.shape_class = r.attr_string(name, "shape_class");
    BSTACK_CHECK(v[0] > 0 && v[1] > 0 && v[2] > 0 && v[0] < (1 << 20) && v[1] < (1 << 20) &&
                     v[2] < (1 << 24) && v[3] >= 0 && v[3] < 64 && v[4] >= 0 && v[4] < 4096 &&
                     v[5] >= 0 && v[5] <= 2,
                 "tuning cache {}: {} holds an invalid configuration", path, name);
    e.config.mc = static_cast<int>(v[0]);
    e.config.kc = static_cast<int>(v[1]);
    e.config.nc = static_cast<int>(v[2]);
    e.config.variant = static_cast<int>(v[3]);
    e.config.threads = static_cast<int>(v[4]);
    e.config.split = static_cast<kernels::GemmSplit>(v[5]);
    e.m = v[6];
    e.n = v[7];
    e.k = v[8];
    e.seconds_tuned = r.attr_double(name, "seconds_tuned");
    e.seconds_default = r.attr_double(name, "seconds_default");
    e.seconds_untuned = r.attr_double(name, "seconds_untuned");
    out.push_back(std::move(e));
  }
  return out;
}

bool load_tuning_cache_quietly() {
  static std::once_flag once;
  static bool loaded = false;
  std::call_once(once, [] {
    const std::string path = default_tuning_cache_path();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return;
    try {
      kernels::tune_install(read_tuning_cache(path));
      loaded = true;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bstack: warning: ignoring the tuning cache: %s\n", e.what());
    }
  });
  return loaded;
}

}  // namespace bstack
