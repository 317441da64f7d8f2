// MachineProfile: what `bstack calibrate` measured on one machine, and the file that holds it.
//
// A profile is three things: metadata (CPU model, ISA path, cores, clock, OS, compiler, date,
// bstack version, and the machine key that ties it to this machine), fitted parameters (SI
// units, self-explaining keys such as `dram_triad_bytes_per_s`, each with the method that gave
// it and, for a fitted one, its fit quality), and the raw samples every parameter came from
// (one table per measurement: named columns of doubles). walls/ predicts from the parameters;
// the samples are there so a learner can re-fit, plot or audit them.
//
// File: HDF5, format "bstack-profile" version 1, written atomically (src/io/h5.h). A profile
// from another machine (a different machine key) or a corrupt one is rejected by
// read_profile with a message naming the file and the problem.
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace bstack::calibrate {

// One fitted or measured parameter. `quality` is the fit quality where the value came from a
// fit (`quality_name` says which: "r2" for least squares, "rel_rmse" for a plateau), NaN when
// the value was measured directly (best-of-N).
struct Param {
  std::string key;     // e.g. "dram_triad_bytes_per_s"
  double value = 0;    // SI: seconds, bytes, bytes/s, FLOP/s, W, samples/s
  std::string unit;    // "B/s", "FLOP/s", "s", "B", "W", "samples/s", "OP/s", "Hz", "1"
  std::string method;  // how it was measured, e.g. "STREAM triad, best of 10 after warm-up"
  double quality = std::nan("");
  std::string quality_name;
};

// Raw samples of one measurement: a table with named columns, row-major.
struct Series {
  std::string name;                  // e.g. "memory/triad_1t"
  std::vector<std::string> columns;  // e.g. {"working_set_bytes", "bytes_per_s"}
  std::vector<double> data;          // rows * columns.size()
  std::string method;
  size_t rows() const { return columns.empty() ? 0 : data.size() / columns.size(); }
  double at(size_t row, size_t col) const { return data[row * columns.size() + col]; }
  void add_row(const std::vector<double>& row);  // row.size() must equal columns.size()
};

struct MachineProfile {
  // Metadata, as strings: cpu_model, isa, cores, clock_hz, os, compiler, date, bstack_version,
  // machine_key, mode ("quick" or "full"), ranks.
  std::vector<std::pair<std::string, std::string>> meta;
  std::vector<Param> params;
  std::vector<Series> series;
  std::vector<std::string> notes;  // e.g. "power: no RAPL under /sys/class/powercap; omitted"

  // Setters replace an existing entry of the same key/name.
  void set_meta(const std::string& key, const std::string& value);
  void set(Param p);
  void add_series(Series s);
  void note(const std::string& text) { notes.push_back(text); }

  bool has(const std::string& key) const;
  const Param& param(const std::string& key) const;   // throws bstack::Error naming the key
  double value(const std::string& key) const { return param(key).value; }
  double value_or(const std::string& key, double fallback) const;
  std::string meta_value(const std::string& key) const;  // "" when absent
  const Series* find_series(const std::string& name) const;
};

// The key that says "this machine": tune_machine_key() (CPU model, ISA path, cores, caches).
std::string profile_machine_key();

// Fills meta with this machine's facts (everything but the measurements).
void fill_metadata(MachineProfile& p, const std::string& mode);

// Atomic write (temporary name + rename).
void write_profile(const std::string& path, const MachineProfile& p);

// Reads and validates. With `require_this_machine`, a profile whose machine key differs from
// this machine's is rejected (bstack::Error naming both machines).
MachineProfile read_profile(const std::string& path, bool require_this_machine = true);

}  // namespace bstack::calibrate
