// `bstack demo` and the options every command shares.
#pragma once

#include <string>

namespace bstack::cli {

struct GlobalOptions {
  bool json = false;  // one JSON object on stdout; human text on stderr
  int threads = 0;    // 0 = all cores
};

// Where `bstack demo` writes its profile, trace and plots.
struct DemoOptions {
  std::string dir = "bstack-demo";
};

int run_demo(const GlobalOptions& opts, const DemoOptions& d);

}  // namespace bstack::cli
