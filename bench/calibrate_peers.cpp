// bstack calibrate's methods beside the peers readers already trust, in one run on one machine:
//   - STREAM triad with regular stores vs likwid-bench `stream_avx512_fma` (`stream_avx_fma` on
//     AVX2 machines), and with non-temporal stores vs `stream_mem_avx512` (`stream_mem_avx`),
//     same thread count and working set (likwid-bench -w S0:<size>:<threads>);
//   - the fp32 FMA peak vs likwid-bench `peakflops_sp_avx512_fma` (`peakflops_sp_avx_fma`).
// Method: the pairs alternate (bstack, peer, bstack, peer, ...) `rounds` times and each side keeps
// its best, so both see the same machine state; the ratio bstack / peer is printed. likwid-bench
// counts bytes as STREAM does (Data volume = working set x iterations, MB = 1e6), so the figures
// are like for like. Skips with a message when likwid-bench (Debian package likwid) is missing.
//
// Usage: calibrate_peers [working set, default 1GB] [rounds, default 3]
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "calibrate/memory.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/peak.h"

namespace {

// Runs likwid-bench and returns the figure after `label` (e.g. "MByte/s:"), or -1.
double likwid(const std::string& test, const std::string& workgroup, const std::string& label) {
  const std::string cmd = fmt::format("likwid-bench -t {} -w {} 2>&1", test, workgroup);
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return -1;
  char line[512];
  double v = -1;
  while (std::fgets(line, sizeof line, f)) {
    const std::string s = line;
    if (s.rfind(label, 0) == 0) v = std::atof(s.c_str() + label.size());
  }
  pclose(f);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bstack;
  const double gb = argc > 1 ? std::atof(argv[1]) : 1.0;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  if (std::system("likwid-bench -h > /dev/null 2>&1") != 0) {
    fmt::print("calibrate_peers: likwid-bench not found (Debian package likwid: scripts/install-deps "
               "--bench); skipped\n");
    return 0;
  }
  const bool avx512 = kernels::best_isa() == kernels::Isa::avx512;
  const std::string regular = avx512 ? "stream_avx512_fma" : "stream_avx_fma";
  const std::string nt = avx512 ? "stream_mem_avx512" : "stream_mem_avx";
  const std::string flops = avx512 ? "peakflops_sp_avx512_fma" : "peakflops_sp_avx_fma";
  // Whole MB: likwid-bench's size parser overflows on byte counts over 2^31 ("S0:4000000000B").
  const size_t ws = static_cast<size_t>(gb * 1e3) * 1000000;
  const int all = kernels::max_threads();
  fmt::print("calibrate_peers: {} ({}), working set {:.2f} GB (1 GB = 1e9 B), best of {} "
             "alternating rounds per side\n",
             kernels::cpu_model(), kernels::isa_name(kernels::isa()), ws / 1e9, rounds);
  fmt::print("{:<48} {:>7} {:>14} {:>14} {:>8}\n", "measurement", "threads", "bstack", "likwid-bench", "ratio");
  for (int threads : {1, all}) {
    for (bool nontemporal : {false, true}) {
      double ours = 0, peer = 0;
      for (int r = 0; r < rounds; ++r) {
        ours = std::max(ours, calibrate::stream_bandwidth(calibrate::StreamKind::triad, nontemporal, ws, threads, 5, 0.2));
        peer = std::max(peer, 1e6 * likwid(nontemporal ? nt : regular, fmt::format("S0:{}MB:{}", ws / 1000000, threads), "MByte/s:"));
      }
      fmt::print("{:<48} {:>7} {:>9.2f} GB/s {:>9.2f} GB/s {:>8.3f}\n",
                 fmt::format("triad, {} stores ({})", nontemporal ? "non-temporal" : "regular",
                             nontemporal ? nt : regular),
                 threads, ours / 1e9, peer / 1e9, ours / peer);
    }
    double ours = 0, peer = 0;
    for (int r = 0; r < rounds; ++r) {
      ours = std::max(ours, kernels::fma_peak_flops<float>(kernels::isa(), threads, 0.2, 5));
      peer = std::max(peer, 1e6 * likwid(flops, fmt::format("S0:32kB:{}", threads), "MFlops/s:"));
    }
    fmt::print("{:<48} {:>7} {:>6.1f} GFLOP/s {:>6.1f} GFLOP/s {:>8.3f}\n",
               fmt::format("fp32 FMA peak ({})", flops), threads, ours / 1e9, peer / 1e9, ours / peer);
  }
  return 0;
}
