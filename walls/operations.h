// Walls 17-20, the operations domain: money, carbon, checkpoints and privacy.
//
//   17 Capital         TCO = CapEx + OpEx
//   18 Sustainability  CO2 = E x PUE x CI
//   19 Checkpoint      MFU penalty = T_write / T_interval   (Adam: ~14 B per parameter)
//   20 Safety          sigma ~ 1 / epsilon (DP-SGD noise) and its compute overhead
//
// Contract: an input outside the model's domain (negative costs, energies, times; PUE < 1;
// epsilon or delta outside their ranges; NaN) gives NaN in every numeric result field.
#pragma once

#include "walls/units.h"

namespace bstack::walls {

// Joules in a kilowatt-hour, for tariffs and carbon intensities quoted per kWh.
inline constexpr double kJoulesPerKwh = 3.6e6;

// ---- wall 17: capital ------------------------------------------------------------------------
// Total cost of ownership (Barroso, Hoelzle & Ranganathan 2018, "The datacenter as a computer",
// 3rd ed., ch. 6 "Modeling costs"): CapEx = units x unit price; OpEx = the facility's energy bill
// (IT power x PUE x lifetime x tariff) plus any other running cost per second.
struct CapitalInput {
  double units = 1;
  double unit_cost_usd;             // purchase price per unit (registry: cost_usd, indicative)
  double power_w;                   // average IT power per unit over its life
  double pue = 1;                   // power usage effectiveness >= 1
  double lifetime_s;                // depreciation period
  double electricity_usd_per_j;     // tariff (USD/kWh / kJoulesPerKwh)
  double other_opex_usd_per_s = 0;  // staff, space, network, maintenance (fleet total)
};
struct CapitalResult {
  Usd capex;
  Joules facility_energy;           // units x power x PUE x lifetime
  Usd opex;                         // energy cost + other opex x lifetime
  Usd tco;                          // capex + opex
  UsdPerSecond per_unit_second;     // tco / (units x lifetime): the price of one device-second
};
CapitalResult capital_wall(const CapitalInput& in);

// ---- wall 18: sustainability -----------------------------------------------------------------
// Operational carbon (Patterson et al. 2021, "Carbon emissions and large neural network
// training", arXiv:2104.10350, sec. 2: tCO2e = MWh x PUE x tCO2e/MWh; the MLSysBook
// "Sustainable AI" chapter uses the same product): CO2 = E_IT x PUE x CI, plus the embodied
// carbon of manufacturing if given.
struct SustainabilityInput {
  double energy_j;                  // E: IT energy (devices, not the building)
  double pue = 1;                   // >= 1
  double carbon_intensity_kg_per_j; // CI of the grid (kg CO2e/kWh / kJoulesPerKwh)
  double embodied_kg = 0;           // manufacturing share attributed to this job
};
struct SustainabilityResult {
  Joules facility_energy;           // E x PUE
  KgCo2 operational;                // E x PUE x CI
  KgCo2 total;                      // operational + embodied
};
SustainabilityResult sustainability_wall(const SustainabilityInput& in);
// E = P x t, the energy for sustainability_wall from a measured or TDP power.
Joules energy_from_power(double power_w, double seconds);

// ---- wall 19: checkpoint ---------------------------------------------------------------------
// Writing a checkpoint stalls training for T_write unless it is overlapped (Eisenman et al.
// 2022, "Check-N-Run: a checkpointing system for training deep learning recommendation models",
// NSDI). With mixed-precision Adam a checkpoint holds bf16/fp16 weights (2 B), the fp32 master
// copy (4 B) and Adam's two moments (4 + 4 B): 14 B per parameter (the optimizer-state
// accounting of Rajbhandari et al. 2020, "ZeRO", SC, sec. 3.1, less the 2 B of gradients that are
// not saved). The MFU penalty is the share of each interval spent writing.
struct CheckpointInput {
  double parameters;
  double bytes_per_parameter = 14;  // 14: mixed-precision Adam; 4: fp32 weights only
  double write_bytes_per_s;         // storage write rate (calibrate: file_write_bytes_per_s)
  double interval_s;                // training time between checkpoints (wall 15's tau)
};
struct CheckpointResult {
  Bytes size;                       // parameters x bytes_per_parameter
  Seconds write;                    // size / write rate
  Ratio penalty;                    // write / interval
};
CheckpointResult checkpoint_wall(const CheckpointInput& in);

// ---- wall 20: safety -------------------------------------------------------------------------
// DP-SGD (Abadi et al. 2016, "Deep learning with differential privacy", CCS): clip each
// example's gradient to norm C, add Gaussian noise N(0, sigma^2 C^2) to the lot's sum, divide by
// the lot size L. Theorem 1 (moments accountant): there are constants c1, c2 such that for
// q = L/N and T steps, DP-SGD is (epsilon, delta)-DP for any epsilon < c1 q^2 T if
//   sigma >= c2 q sqrt(T log(1/delta)) / epsilon.
// The theorem does not give c2; this wall takes c2 = 1, so sigma here is the *scaling* of the
// noise with epsilon, delta, q and T (sigma ~ 1/epsilon), an order-of-magnitude estimate and not
// a privacy guarantee: use a real accountant (e.g. Opacus's RDP accountant) to certify epsilon.
// Compute overhead: per-example gradients and clipping; given as a measured slowdown factor
// (>= 1) relative to the non-private step.
struct SafetyInput {
  double epsilon;                   // > 0
  double delta;                     // in (0, 1)
  double sampling_rate;             // q = L / N in (0, 1]
  double steps;                     // T >= 0
  double lot_size = 1;              // L >= 1
  double clip_norm = 1;             // C > 0
  double step_s = 0;                // non-private step time
  double slowdown = 1;              // private / non-private step time, >= 1
};
struct SafetyResult {
  Ratio sigma;                      // noise multiplier (c2 = 1)
  Ratio noise_std;                  // sigma C / L: per-coordinate std of the averaged gradient
  Seconds time;                     // T x step_s x slowdown
  Seconds overhead;                 // T x step_s x (slowdown - 1)
};
SafetyResult safety_wall(const SafetyInput& in);

}  // namespace bstack::walls
