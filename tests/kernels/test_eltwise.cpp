// Elementwise kernels and sums (kernels/eltwise.h) against plain references: binary ops over
// every operand kind (matrix, row broadcast, column broadcast, scalar, on either side), row
// strides wider than the rows, output aliasing an input; unary ops and their gradients,
// including NaN and infinities; axpy; row and column sums (the long-row split, every column
// tail of the 16- and 32-wide strips). Sizes around the vector widths, pointers one element off
// alignment, and 1 vs 2 threads (sums must give the same bits). Runs once per ISA path.
//
// Tolerance: add/sub/mul/div are IEEE-exact in every path, so binary results must equal the
// same operation on scalars bit for bit; relu and neg likewise. exp/tanh/sigmoid/sqrt: 4 ulp of
// float relative to a double reference (plus 1e-38 absolute for results that underflow).
// Sums: |got - ref| <= 4 eps(T) * sum |x| (double accumulation, one final rounding to T).
#include "kernels/cpu.h"
#include "kernels/eltwise.h"
#include "kernels/parallel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace bstack::kernels;

namespace {

const int64_t kCols[] = {1, 7, 8, 15, 16, 17, 31, 32, 33, 47, 100};
const int64_t kRows[] = {1, 3, 5};

// data() is one element past the allocation: never vector-aligned.
template <class T>
struct Buf {
  std::vector<T> v;
  explicit Buf(int64_t n) : v(static_cast<size_t>(n) + 1, T(0)) {}
  T* data() { return v.data() + 1; }
  T& operator[](int64_t i) { return v[static_cast<size_t>(i) + 1]; }
};

template <class T>
Buf<T> random_buf(int64_t n, uint32_t seed, double lo = -3, double hi = 3) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Buf<T> b(n);
  for (int64_t i = 0; i < n; ++i) b[i] = static_cast<T>(u(g));
  return b;
}

template <class T>
T apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
  }
  return 0;
}

const char* op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div"};
  return names[static_cast<int>(op)];
}

// An operand kind: its (row stride, column stride) for a (rows, cols) grid with leading dim ld.
struct Kind {
  const char* name;
  int64_t rs_mult;  // rs = rs_mult * ld (1: matrix, 0: repeated row)
  int64_t cs;       // 1: contiguous, 0: repeated along the row
  bool col;         // a column vector: rs = 1, cs = 0
};
const Kind kKinds[] = {
    {"matrix", 1, 1, false}, {"row", 0, 1, false}, {"col", 0, 0, true}, {"scalar", 0, 0, false}};

template <class T>
void check_binary() {
  for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div})
    for (int64_t rows : kRows)
      for (int64_t cols : kCols)
        for (const Kind& ka : kKinds)
          for (const Kind& kb : kKinds)
            for (int64_t pad : {0, 3}) {  // pad > 0: matrix rows wider than cols (a strided view)
              const int64_t ld = cols + pad;
              auto strides = [&](const Kind& k) {
                return std::pair<int64_t, int64_t>{k.col ? 1 : k.rs_mult * ld, k.cs};
              };
              const auto [a_rs, a_cs] = strides(ka);
              const auto [b_rs, b_cs] = strides(kb);
              Buf<T> a = random_buf<T>(rows * ld, static_cast<uint32_t>(cols));
              Buf<T> b = random_buf<T>(rows * ld, static_cast<uint32_t>(cols + 1), 0.5, 3);
              Buf<T> out(rows * cols);
              binary<T>(op, rows, cols, a.data(), a_rs, a_cs, b.data(), b_rs, b_cs, out.data());
              int bad = 0;
              for (int64_t i = 0; i < rows && bad < 10; ++i)
                for (int64_t j = 0; j < cols && bad < 10; ++j) {
                  const T want = apply(op, a[i * a_rs + j * a_cs], b[i * b_rs + j * b_cs]);
                  if (std::memcmp(&out[i * cols + j], &want, sizeof(T)) != 0) {
                    ++bad;
                    ADD_FAILURE() << op_name(op) << " " << ka.name << " x " << kb.name << " ("
                                  << rows << ", " << cols << ") pad " << pad
                                  << " isa=" << isa_name(isa()) << ": [" << i << ", " << j
                                  << "] got " << out[i * cols + j] << ", expected " << want;
                  }
                }
            }
}

TEST(Eltwise, BinaryEveryOperandKind) {
  check_binary<float>();
  check_binary<double>();
}

TEST(Eltwise, BinaryInPlaceAndThreaded) {
  const int64_t rows = 257, cols = 1001;  // above the grain: split across threads mid-row
  Buf<float> a = random_buf<float>(rows * cols, 1), b = random_buf<float>(cols, 2);
  std::vector<float> want(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) want[i] = a[i] + b[i % cols];
  set_num_threads(2);
  binary<float>(BinaryOp::add, rows, cols, a.data(), cols, 1, b.data(), 0, 1, a.data());
  set_num_threads(0);
  EXPECT_EQ(0, std::memcmp(want.data(), a.data(), want.size() * sizeof(float)));
}

double unary_ref(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::relu: return x > 0 ? x : 0;
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::tanh: return std::tanh(x);
    case UnaryOp::sigmoid: return 1 / (1 + std::exp(-x));
    case UnaryOp::sqrt: return std::sqrt(x);
  }
  return 0;
}
double unary_grad_ref(UnaryOp op, double x) {
  const double y = unary_ref(op, x);
  switch (op) {
    case UnaryOp::relu: return x > 0 ? 1 : 0;
    case UnaryOp::neg: return -1;
    case UnaryOp::exp: return y;
    case UnaryOp::tanh: return 1 - y * y;
    case UnaryOp::sigmoid: return y * (1 - y);
    case UnaryOp::sqrt: return 0.5 / y;
  }
  return 0;
}
const char* unary_name(UnaryOp op) {
  static const char* names[] = {"relu", "neg", "exp", "tanh", "sigmoid", "sqrt"};
  return names[static_cast<int>(op)];
}

template <class T>
void check_unary() {
  const double ulp = std::is_same_v<T, float> ? 1.1920929e-7 : 2.220446e-16;
  const UnaryOp ops[] = {UnaryOp::relu, UnaryOp::neg,     UnaryOp::exp,
                         UnaryOp::tanh, UnaryOp::sigmoid, UnaryOp::sqrt};
  for (UnaryOp op : ops)
    for (int64_t n : kCols) {
      Buf<T> x = random_buf<T>(n + 12, static_cast<uint32_t>(n), -8, 8);
      // tanh's two branches meet at |x| = 0.625; both tails; tiny values.
      const T special[] = {T(0.6249), T(0.6251), T(-0.62), T(1e-6), T(-1e-30), T(40),
                           T(-40),    T(100),    T(-100),  T(0),    T(-0.0),   T(20)};
      for (int k = 0; k < 12; ++k) x[n + k] = special[k];
      const int64_t m = n + 12;
      if (op == UnaryOp::sqrt)  // its domain, away from 0 where the gradient is infinite
        for (int64_t i = 0; i < m; ++i) x[i] = std::fabs(x[i]) + T(1e-3);
      Buf<T> y(m), dy = random_buf<T>(m, 99), dx(m);
      unary<T>(op, m, x.data(), y.data());
      // The backward reads y (exp, tanh, sigmoid) or x (relu): give it the kernel's y.
      unary_backward<T>(op, m, x.data(), y.data(), dy.data(), dx.data());
      int bad = 0;
      for (int64_t i = 0; i < m && bad < 10; ++i) {
        const double r = unary_ref(op, x[i]);
        if (std::fabs(r) > std::numeric_limits<T>::max()) {  // exp(100) overflows in float
          EXPECT_TRUE(std::isinf(y[i]) && y[i] > 0) << unary_name(op) << "(" << x[i] << ")";
          continue;
        }
        const bool exact = op == UnaryOp::relu || op == UnaryOp::neg;
        const double tol = exact ? 0 : 4 * ulp * std::fabs(r) + 1e-38;
        // The gradient from the kernel's y: its formula rounds once or twice more.
        const double yk = y[i];
        double gr = unary_grad_ref(op, x[i]) * dy[i];
        if (op == UnaryOp::exp) gr = yk * dy[i];
        if (op == UnaryOp::tanh) gr = (1 - yk * yk) * dy[i];
        if (op == UnaryOp::sigmoid) gr = yk * (1 - yk) * dy[i];
        if (op == UnaryOp::sqrt) gr = 0.5 / yk * dy[i];
        const double gtol = exact ? 0 : 4 * ulp * (std::fabs(gr) + std::fabs(dy[i]));
        if (!(std::fabs(y[i] - r) <= tol) || !(std::fabs(dx[i] - gr) <= gtol)) {
          ++bad;
          ADD_FAILURE() << unary_name(op) << " n=" << m << " isa=" << isa_name(isa())
                        << ": x=" << x[i] << " y=" << y[i] << " (ref " << r << ") dx=" << dx[i]
                        << " (ref " << gr << ")";
        }
      }
    }
}

TEST(Eltwise, UnaryAndGradients) {
  check_unary<float>();
  check_unary<double>();
}

TEST(Eltwise, UnarySpecialValues) {
  const float inf = std::numeric_limits<float>::infinity(),
              nan = std::numeric_limits<float>::quiet_NaN();
  float x[4] = {inf, -inf, nan, 0}, y[4];
  unary<float>(UnaryOp::relu, 4, x, y);
  EXPECT_EQ(y[0], inf);
  EXPECT_EQ(y[1], 0);
  EXPECT_EQ(y[2], 0);  // as src's strided relu: NaN > 0 is false
  unary<float>(UnaryOp::tanh, 4, x, y);
  EXPECT_EQ(y[0], 1);
  EXPECT_EQ(y[1], -1);
  EXPECT_TRUE(std::isnan(y[2]));
  unary<float>(UnaryOp::sigmoid, 4, x, y);
  EXPECT_EQ(y[0], 1);
  EXPECT_EQ(y[1], 0);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_EQ(y[3], 0.5f);
  unary<float>(UnaryOp::exp, 4, x, y);
  EXPECT_EQ(y[0], inf);
  EXPECT_EQ(y[1], 0);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_EQ(y[3], 1);
}

template <class T>
void check_axpy() {
  for (int64_t n : kCols) {
    Buf<T> x = random_buf<T>(n, 5), y = random_buf<T>(n, 6);
    std::vector<double> want(n);
    const T alpha = static_cast<T>(-0.7);
    for (int64_t i = 0; i < n; ++i) want[i] = double{y[i]} + double{alpha} * x[i];
    axpy<T>(n, alpha, x.data(), y.data());
    const double eps = std::is_same_v<T, float> ? 1.1920929e-7 : 2.220446e-16;
    for (int64_t i = 0; i < n; ++i)
      ASSERT_NEAR(y[i], want[i], 2 * eps * (std::fabs(want[i]) + 3))
          << "axpy n=" << n << " i=" << i;
  }
}

TEST(Eltwise, Axpy) {
  check_axpy<float>();
  check_axpy<double>();
}

template <class T>
void check_sums(int64_t rows, int64_t cols) {
  // float: double accumulation, one rounding at the end; double: the accumulation itself.
  const double eps = std::is_same_v<T, float> ? 1.1920929e-7 : 8 * 2.220446e-16;
  Buf<T> x = random_buf<T>(rows * cols, static_cast<uint32_t>(rows * 31 + cols));
  Buf<T> rs(rows), cs(cols);
  row_sum<T>(rows, cols, x.data(), rs.data());
  col_sum<T>(rows, cols, x.data(), cs.data());
  for (int64_t i = 0; i < rows; ++i) {
    long double s = 0, a = 0;
    for (int64_t j = 0; j < cols; ++j)
      s += x[i * cols + j], a += std::fabs(double{x[i * cols + j]});
    ASSERT_NEAR(double{rs[i]}, static_cast<double>(s), 4 * eps * static_cast<double>(a) + 1e-300)
        << "row_sum (" << rows << ", " << cols << ") row " << i << " isa=" << isa_name(isa());
  }
  for (int64_t j = 0; j < cols; ++j) {
    long double s = 0, a = 0;
    for (int64_t i = 0; i < rows; ++i)
      s += x[i * cols + j], a += std::fabs(double{x[i * cols + j]});
    ASSERT_NEAR(double{cs[j]}, static_cast<double>(s), 4 * eps * static_cast<double>(a) + 1e-300)
        << "col_sum (" << rows << ", " << cols << ") col " << j << " isa=" << isa_name(isa());
  }
}

TEST(Eltwise, RowAndColumnSums) {
  for (int64_t rows : {1, 2, 7, 65})
    for (int64_t cols : kCols) {
      check_sums<float>(rows, cols);
      check_sums<double>(rows, cols);
    }
  check_sums<float>(300, 513);  // column blocks and strips
  check_sums<float>(3, 1100);   // more than one 512-column block
  check_sums<float>(1, 40000);  // a row split into pieces
  check_sums<double>(2, 33000);
  check_sums<float>(0, 5);  // empty
}

TEST(Eltwise, SumsSameBitsForAnyThreadCount) {
  const int64_t rows = 3, cols = 70000;  // pieces of a long row go to different threads
  Buf<float> x = random_buf<float>(rows * cols, 8);
  auto run = [&](int threads) {
    set_num_threads(threads);
    std::vector<float> out(rows + 600);
    row_sum<float>(rows, cols, x.data(), out.data());
    col_sum<float>(350, 600, x.data(), out.data() + rows);
    set_num_threads(0);
    return out;
  };
  const std::vector<float> one = run(1), two = run(2), three = run(3);
  EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * sizeof(float)));
}

}  // namespace
