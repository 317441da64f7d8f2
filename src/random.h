// Generator: a seeded, portable pseudo-random source (the same numbers on every platform and
// compiler, unlike std::normal_distribution). xoshiro256** (Blackman & Vigna 2018), seeded
// through splitmix64; normals by the Box-Muller transform.
#pragma once

#include <cstdint>

namespace bstack {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { manual_seed(seed); }
  void manual_seed(uint64_t seed);
  uint64_t next_u64();
  double uniform();  // [0, 1), 53 random bits
  double normal();   // N(0, 1)
  uint64_t below(uint64_t n);  // uniform integer in [0, n), n > 0 (Lemire's rejection)

 private:
  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace bstack
