// Walls 8-10, the data domain: moving data to and through the device.
//
//    8 Ingestion       rho = BW_demand / BW_supply   (storage must keep up with the device)
//    9 Transformation  T = B x S / C_throughput      (CPU preprocessing per batch)
//   10 Locality        BW_eff = BW_link x beta / oversubscription
//
// Contract: an input outside the model's domain (negative sizes or rates, zero rates where one
// divides, NaN) gives NaN in every numeric result field and false in flags.
#pragma once

#include "walls/units.h"

namespace bstack::walls {

// ---- wall 8: ingestion -----------------------------------------------------------------------
// Data stalls (Mohan et al. 2021, "Analyzing and mitigating data stalls in DNN training",
// PVLDB 14(5)): the device consumes samples at its own rate; storage supplies bytes at
// file_read_bytes_per_s. rho > 1 starves the device, which then idles a fraction 1 - 1/rho of
// the time (reads and compute fully overlapped, as with a prefetching loader).
struct IngestionInput {
  double device_samples_per_s;      // what the device could consume (from its step time)
  double bytes_per_sample;          // bytes read from storage per sample
  double storage_bytes_per_s;       // BW_supply (calibrate: file_read_bytes_per_s)
};
struct IngestionResult {
  BytesPerSecond demand;            // device_samples_per_s x bytes_per_sample
  Ratio rho;                        // demand / supply
  Ratio stall_fraction;             // max(0, 1 - 1/rho): share of time the device waits
  PerSecond samples_per_s;          // min(device rate, supply / bytes_per_sample)
  bool starved = false;             // rho > 1
};
IngestionResult ingestion_wall(const IngestionInput& in);

// ---- wall 9: transformation ------------------------------------------------------------------
// CPU preprocessing (Murray et al. 2021, "tf.data: a machine learning data processing
// framework", PVLDB 14(12)): a batch of B samples of S units each (tokens, pixels, or 1 if the
// throughput is already in samples/s) takes B x S / C at C units/s, spread over `workers`
// parallel workers (linear scaling assumed). With prefetching the step takes the longer of the
// transform and the device step.
struct TransformationInput {
  double batch_samples;             // B
  double units_per_sample = 1;      // S
  double throughput_units_per_s;    // C per worker (calibrate: loader_samples_per_s, S = 1)
  double workers = 1;
  double device_step_s = 0;         // the device's step time for the batch (0: not compared)
};
struct TransformationResult {
  Seconds time;                     // B x S / (C x workers)
  Seconds step;                     // max(time, device_step_s)
  bool transform_bound = false;     // time > device_step_s
};
TransformationResult transformation_wall(const TransformationInput& in);

// ---- wall 10: locality -----------------------------------------------------------------------
// Topology (Leiserson 1985, "Fat-trees: universal networks for hardware-efficient
// supercomputing", IEEE Trans. Computers C-34(10); Dally & Towles 2004, "Principles and practices
// of interconnection networks", ch. 3 on bisection bandwidth): traffic that crosses the
// bisection sees the link rate scaled by the topology's bisection fraction beta (1 for a full
// fat-tree) and divided by the oversubscription ratio of the upper tiers (Al-Fares, Loukissas &
// Vahdat 2008, "A scalable, commodity data center network architecture", SIGCOMM: 1:1 is full
// bisection, 4:1 a common edge design).
struct LocalityInput {
  double link_bytes_per_s;          // BW_link per node (calibrate: p2p_bandwidth_bytes_per_s)
  double bisection_fraction = 1;    // beta in (0, 1]
  double oversubscription = 1;      // >= 1
};
struct LocalityResult {
  BytesPerSecond effective;         // BW_link x beta / oversubscription
};
LocalityResult locality_wall(const LocalityInput& in);

}  // namespace bstack::walls
