// `bstack demo` and the options every command shares.
#pragma once

namespace bstack::cli {

struct GlobalOptions {
  bool json = false;  // one JSON object on stdout; human text on stderr
  int threads = 0;    // 0 = all cores
};

int run_demo(const GlobalOptions& opts);

}  // namespace bstack::cli
