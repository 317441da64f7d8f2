// Small helpers shared by the test suites.
#pragma once

#include "src/error.h"
#include "src/tensor.h"

#include <string>

namespace bstack::test {

// The multi-index of row-major linear index i in `shape`.
inline Shape unravel(int64_t i, const Shape& shape) {
  Shape idx(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  return idx;
}

// The message of the bstack::Error that fn throws, or "(no error)".
template <class F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace bstack::test
