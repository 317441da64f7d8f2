// Small helpers shared by the test suites.
#pragma once

#include "src/error.h"

#include <string>

namespace bstack::test {

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
