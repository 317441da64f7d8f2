// bstack::Error: the one exception type library code throws. Messages name the operation,
// the offending values (shapes, files, offsets) and, where it helps, how to fix it.
// Only `main` turns an Error into an exit code.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace bstack {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Throws bstack::Error with a fmt-formatted message.
template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace bstack

// Internal invariant / argument check with a formatted message.
#define BSTACK_CHECK(cond, ...)                 \
  do {                                          \
    if (!(cond)) ::bstack::fail(__VA_ARGS__);   \
  } while (0)
