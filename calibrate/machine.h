// From a MachineProfile (what calibrate measured) to the numbers walls/' predictor takes
// (walls/predict.h): peaks, the memory levels with their fitted capacities and bandwidths, GEMM
// efficiency by problem size, the dispatch tax and the interconnect's alpha and beta. Only the
// profile is read: never the run a prediction is compared with.
#pragma once

#include "calibrate/profile.h"
#include "walls/predict.h"

namespace bstack::calibrate {

// The machine as `threads` threads see it: 1 takes the 1-thread figures (`*_1t`, the 1-thread
// GEMM samples); more takes the all-thread ones (the profile's `threads`), with the private
// levels (l1, l2) holding `threads` times their 1-thread capacity. Levels: every `l<N>_` and
// `dram_` triad plateau the profile has, capacity from `l<N>_fitted_bytes` (DRAM: `ram_bytes`).
// Throws bstack::Error naming a missing key the predictor cannot do without.
walls::Machine machine_from_profile(const MachineProfile& p, int threads);

}  // namespace bstack::calibrate
