// The tuning cache file: the autotuner's results (kernels/tune.h) as HDF5, format
// "bstack-tune-cache" version 1, one dataset per entry ("entries/<op>/<shape class>") holding
// the configuration with its timings as attributes, and the machine key at the root.
//
// A cache is trusted only on the machine that wrote it: a file whose machine key (CPU model, ISA
// path, cores, cache sizes) differs, or that is corrupt, truncated or of another format, is
// ignored with one warning on stderr and the analytical defaults are used; it is never partly
// applied. Location: $BSTACK_TUNE_CACHE, else $XDG_CACHE_HOME/bstack/tune.h5, else
// ~/.cache/bstack/tune.h5.
#pragma once

#include <string>
#include <vector>

#include "kernels/tune.h"

namespace bstack {

std::string default_tuning_cache_path();

// Writes entries (atomically: temporary name, then rename), creating the directory.
void save_tuning_cache(const std::string& path, const std::vector<kernels::TuneEntry>& entries);

// Reads a cache written on this machine; throws bstack::Error naming the file and the problem
// (missing, corrupt, foreign format, other machine).
std::vector<kernels::TuneEntry> read_tuning_cache(const std::string& path);

// Installs the default cache into the kernels if it exists and is valid (once per process; later
// calls return the first answer). Returns whether tuned parameters are in use. A bad file gets a
// warning on stderr, never an exception.
bool load_tuning_cache_quietly();

}  // namespace bstack
