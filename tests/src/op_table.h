// The op table: one entry per op case (name, input shapes, the bstack call, an independent
// reference loop in double precision, the input domain). test_ops.cpp runs every entry in
// three modes: forward f32 and f64 vs the reference (contiguous and non-contiguous inputs),
// and backward in f64 vs central finite differences. Adding an op = adding entries here.
#pragma once

#include "src/ops.h"

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

Shape unravel(int64_t i, const Shape& shape);
int64_t ravel(const Shape& idx, const Shape& shape);

enum class Domain {
  any,       // uniform in [-2, 2]
  positive,  // uniform in [0.5, 2.5] (log, sqrt, pow base, divisors)
  no_kinks,  // [-2, 2] but at least 0.05 away from every value in OpCase::kinks
};

struct OpCase {
  std::string name;         // readable, e.g. "add [3,1,4] [2,1]"
  std::vector<Shape> shapes;  // floating inputs (perturbed by the gradient check)
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  std::function<RefArray(const std::vector<RefArray>&)> ref;
  Domain domain = Domain::any;
  std::vector<double> kinks;  // for Domain::no_kinks
  bool differentiable = true;
  int64_t reduction_len = 1;  // longest sum inside the op (scales the forward tolerance)
  double magnitude = 1;       // size of intermediate values (absolute part of the tolerance)
};

// gtest prints a case by its name.
inline void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

std::vector<OpCase> all_op_cases();

}  // namespace bstack::test
