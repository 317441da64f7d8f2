// The op table: one entry per op case (name, input shapes, the bstack call, an independent
// reference loop in double precision, the input domain, the result dtype). test_ops.cpp runs
// every entry in its modes: forward f32 and f64 (and i32 for integer-capable ops) vs the
// reference, each with contiguous and with non-contiguous inputs; and backward in f64 vs
// central finite differences, again with both layouts. Adding an op = adding entries here.
// Leaves out on purpose: dtype promotion (bstack has none) and performance (bench/).
#pragma once

#include "src/ops.h"
#include "tests/test_util.h"

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace bstack::test {

// A dense row-major array of doubles: the reference implementations' only data type.
struct RefArray {
  Shape shape;
  std::vector<double> v;
  int64_t numel() const { return shape_numel(shape); }
  double at(const Shape& idx) const;
};

int64_t ravel(const Shape& idx, const Shape& shape);

enum class Domain {
  any,       // uniform in [-2, 2]
  positive,  // uniform in [0.5, 2.5] (log, sqrt, pow base, divisors)
  no_kinks,  // [-2, 2] but at least 0.05 away from every value in OpCase::kinks
  distinct,  // [-2, 2], all elements of all inputs at least 2/N apart (max, maximum, pooling:
             // no ties, so finite differences never straddle a switch of the winner)
};

// The dtype of the result for inputs of dtype `in`.
using OutDType = DType (*)(DType in);
inline DType same_dtype(DType in) { return in; }

struct OpCase {
  std::string name;         // readable, e.g. "add [3, 1, 4] [2, 1]"
  std::vector<Shape> shapes;  // inputs (all perturbed by the gradient check); index tensors
                              // are constants inside `fn`, never inputs
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  std::function<RefArray(const std::vector<RefArray>&)> ref;
  Domain domain = Domain::any;
  std::vector<double> kinks;  // for Domain::no_kinks
  bool differentiable = true;
  int64_t reduction_len = 1;  // longest sum inside the op (scales the forward tolerance)
  double magnitude = 1;       // size of intermediate values (absolute part of the tolerance)
  bool integer = false;       // also runs forward on i32 inputs (small integers, exact)
  OutDType out_dtype = same_dtype;
};

// gtest prints a case by its name.
inline void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

std::vector<OpCase> all_op_cases();

}  // namespace bstack::test
