// bstack calibrate: measure this machine and fit the wall parameters to it.
//
// Each section measures one part of the machine and writes its parameters (SI units), its raw
// samples and its notes into a MachineProfile (calibrate/profile.h). Sections are independent
// and run in this order by calibrate(): interconnect (every rank, only under mpirun), memory,
// compute, gemm, dispatch, datapath, power, gpu (rank 0 only; the other ranks wait idle).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "calibrate/profile.h"

namespace bstack::calibrate {

struct Options {
  bool quick = false;     // --quick: the whole run within 30 s on 2 cores (full: within 3 min)
  int threads = 0;        // "all threads": 0 = the kernels' thread count (kernels::num_threads())
  std::string scratch_dir;  // where the data-path section writes its temporary file ("" = $TMPDIR or /tmp)
  std::vector<std::string> sections;  // empty = all; names as in section_names()
  // interconnect: the largest message of the sweeps (0 = 64 MiB; the ping-pong stops at 4 MiB or
  // here). A slow link (100 Mbit/s) spends minutes on the 64 MiB sizes; capping them keeps the
  // run short and the fits still see the bandwidth-bound regime.
  size_t max_message_bytes = 0;
};

// Progress inside one section: fraction in [0, 1] and a few words on what runs now.
using ProgressFn = std::function<void(double fraction, const std::string& what)>;

// One section: measures and records into `p`. Never throws for "not available here" (a missing
// GPU, no RAPL, not under mpirun): it records a note instead.
using SectionFn = std::function<void(const Options&, MachineProfile& p, const ProgressFn&)>;

struct Section {
  std::string name;      // "memory", "compute", ...
  std::string title;     // what the progress bar shows
  double weight_quick;   // expected seconds in --quick mode (progress bar weights)
  double weight_full;    // expected seconds in a full run
  SectionFn run;
  // Run by every rank under mpirun (the rest by rank 0 alone while the others wait).
  bool every_rank() const { return name == "interconnect" || name == "corun"; }
};

// The sections, in run order.
const std::vector<Section>& sections();
std::vector<std::string> section_names();

// Runs the chosen sections and returns the profile (metadata filled). Under mpirun every rank
// calls this; the returned profile is complete on rank 0 only.
MachineProfile calibrate(const Options& o, const ProgressFn& progress);

// The sections each live in their own file pair; declared here so calibrate.cpp can list them.
void calibrate_memory(const Options&, MachineProfile&, const ProgressFn&);       // memory.cpp
void calibrate_compute(const Options&, MachineProfile&, const ProgressFn&);      // compute.cpp
void calibrate_gemm(const Options&, MachineProfile&, const ProgressFn&);         // compute.cpp
void calibrate_dispatch(const Options&, MachineProfile&, const ProgressFn&);     // compute.cpp
void calibrate_ops(const Options&, MachineProfile&, const ProgressFn&);          // ops.cpp
void calibrate_datapath(const Options&, MachineProfile&, const ProgressFn&);     // datapath.cpp
void calibrate_power(const Options&, MachineProfile&, const ProgressFn&);        // power.cpp
void calibrate_gpu(const Options&, MachineProfile&, const ProgressFn&);          // gpu.cpp
void calibrate_interconnect(const Options&, MachineProfile&, const ProgressFn&); // interconnect.cpp
void calibrate_corun(const Options&, MachineProfile&, const ProgressFn&);        // corun.cpp

// One training step of a zoo model (mlp, cnn, gpt-tiny) at `batch` on synthetic inputs, as
// `bstack train` runs it: loss and accuracy, zero_grad, backward, Adam (ops.cpp). The sections
// ops and corun time it.
class ZooStep {
 public:
  ZooStep(const std::string& model, int64_t batch);
  ~ZooStep();
  ZooStep(const ZooStep&) = delete;
  ZooStep& operator=(const ZooStep&) = delete;
  void step();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The clock a core runs at (Hz), from chains of dependent integer adds (compute.cpp).
double measure_clock_hz(double seconds);

}  // namespace bstack::calibrate
