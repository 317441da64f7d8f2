// The table of the 22 systems walls of MLSys-im (Janapa Reddi 2026, "MLSys-im: first-principles
// infrastructure modeling for machine learning systems", Table 1; the Python reference is
// harvard-edge/cs249r_book mlsysim/core/walls.py): number, name, domain, equation, what limits,
// the sources the equation comes from, and the MachineProfile keys (calibrate/) that feed it.
// The equations themselves live in node.h (1-7), data.h (8-10), algorithm.h (11-13),
// communication.h (14), fleet.h (15-16), operations.h (17-20) and analysis.h (21-22).
#pragma once

#include <string_view>
#include <vector>

namespace bstack::walls {

struct WallInfo {
  int number;                        // 1..22
  std::string_view name;             // "Compute"
  std::string_view domain;           // node, data, algorithm, fleet, operations, analysis
  std::string_view equation;         // plain text, as MLSys-im writes it
  std::string_view limit;            // what limits, in one line
  std::string_view source;           // papers / chapters the equation follows
  std::string_view header;           // where the functions are: "walls/node.h"
  std::vector<std::string_view> profile_fields;  // MachineProfile keys that feed it (may be empty)
};

// All 22 walls in order (walls()[i].number == i + 1).
const std::vector<WallInfo>& walls();

// Wall n; throws std::out_of_range naming n when n is not in 1..22.
const WallInfo& wall(int n);

}  // namespace bstack::walls
