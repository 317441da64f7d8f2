// Convolution and pooling kernels against the naive definitions, on the active ISA path.
//   - conv2d_forward_ref / conv2d_backward_ref themselves: the backward is checked as the
//     adjoint of the forward (conv is bilinear, so <dY, conv(x, w)> = <dx, x> = <dw, w> and
//     <dY, bias> = <db, b> exactly up to rounding, in f64) and by central finite differences.
//   - conv2d_forward / conv2d_backward (im2col + GEMM, pointwise, grouped and the depthwise
//     direct kernel) against the references in f32 and f64: odd sizes, padding wider than the
//     kernel, stride, dilation, per-axis settings, 1x1, batch 1 and 3, channels 1/3/5, groups,
//     channel multipliers; outputs requested one at a time (the others nullptr).
//   - results identical for 1 and 2 threads (batch below and above the thread count).
//   - im2col / col2im adjointness; pooling (max with argmax and NaN, avg) forward and backward.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "src/random.h"

using namespace bstack;
using namespace bstack::kernels;

namespace {

template <class T>
std::vector<T> random_vec(int64_t n, Generator& g) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& e : v) e = static_cast<T>(g.uniform() * 2 - 1);
  return v;
}

template <class T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

std::string describe(const Conv2dShape& s) {
  return "x[" + std::to_string(s.N) + "," + std::to_string(s.C) + "," + std::to_string(s.H) + "," +
         std::to_string(s.W) + "] w[" + std::to_string(s.OC) + "," +
         std::to_string(s.C / s.groups) + "," + std::to_string(s.KH) + "," + std::to_string(s.KW) +
         "] stride " + std::to_string(s.SH) + "x" + std::to_string(s.SW) + " pad " +
         std::to_string(s.PH) + "x" + std::to_string(s.PW) + " dil " + std::to_string(s.DH) + "x" +
         std::to_string(s.DW) + " groups " + std::to_string(s.groups) + " isa " + isa_name(isa());
}

// |got - want| <= eps * 4 (len + 1) (1 + |want|): rounding of a sum of `len` products of values
// in [-1, 1]. Prints the first mismatches and stops after ten.
template <class T>
void expect_close(const std::vector<T>& got, const std::vector<double>& want, int64_t len,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  const double eps = std::numeric_limits<T>::epsilon() * 4 * (len + 1);
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 10; ++i) {
    const double err = std::abs(static_cast<double>(got[i]) - want[i]);
    if (!(err <= eps * (1 + std::abs(want[i])))) {
      ADD_FAILURE() << what << ": [" << i << "] got " << got[i] << " want " << want[i];
      ++bad;
    }
  }
}

struct Case {
  Conv2dShape s;
  bool bias;
};

Conv2dShape shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t KH, int64_t KW,
                  int64_t S = 1, int64_t P = 0, int64_t D = 1, int64_t G = 1) {
  Conv2dShape s;
  s.N = N, s.C = C, s.H = H, s.W = W, s.OC = OC, s.KH = KH, s.KW = KW;
  s.SH = s.SW = S, s.PH = s.PW = P, s.DH = s.DW = D, s.groups = G;
  return s;
}

std::vector<Case> cases() {
  std::vector<Case> c = {
      {shape(1, 1, 7, 7, 1, 3, 3), true},                   // single channel
      {shape(3, 3, 9, 7, 5, 3, 3, 1, 1), true},             // "same" (flat im2col path)
      {shape(1, 5, 13, 11, 3, 3, 3, 2, 1), false},          // stride + padding
      {shape(3, 3, 11, 13, 4, 3, 3, 1, 2, 2), true},        // dilation
      {shape(3, 5, 7, 9, 7, 1, 1), true},                   // 1x1: no im2col
      {shape(1, 3, 7, 7, 2, 1, 1, 2), true},                // 1x1 with stride: im2col
      {shape(3, 3, 5, 6, 4, 2, 3, 1, 3), true},             // padding wider than the kernel
      {shape(1, 5, 1, 9, 3, 1, 3, 1, 1), true},             // one row
      {shape(3, 4, 8, 8, 6, 3, 3, 1, 1, 1, 2), true},       // groups
      {shape(3, 6, 7, 7, 3, 2, 2, 2, 0, 1, 3), false},      // groups, 2 in per group
      {shape(3, 5, 9, 9, 5, 3, 3, 1, 1, 1, 5), true},       // depthwise
      {shape(1, 3, 10, 7, 6, 5, 5, 2, 2, 1, 3), true},      // depthwise, multiplier 2, stride
      {shape(3, 3, 9, 8, 3, 3, 3, 1, 2, 2, 3), false},      // depthwise, dilation
      {shape(3, 1, 12, 12, 4, 3, 3, 1, 1), true},           // C = 1: depthwise, multiplier 4
      {shape(2, 2, 6, 37, 4, 3, 3, 1, 1, 1, 2), true},      // depthwise, rows of several vectors
      {shape(3, 3, 5, 6, 3, 2, 3, 1, 3, 1, 3), true},       // depthwise, padding wider than kernel
      {shape(1, 2, 4, 40, 2, 1, 7, 1, 3, 1, 2), false},     // depthwise, 1x7
      {shape(2, 2, 9, 20, 10, 3, 3, 1, 1, 1, 2), true},     // depthwise, multiplier 5
      {shape(1, 3, 65, 63, 5, 3, 3, 1, 1), true},           // longer rows
  };
  Conv2dShape asym = shape(3, 3, 8, 9, 4, 2, 3);  // per-axis stride, padding, dilation
  asym.SH = 2, asym.SW = 1, asym.PH = 0, asym.PW = 2, asym.DH = 1, asym.DW = 2;
  c.push_back({asym, true});
  Conv2dShape dw_asym = asym;
  dw_asym.OC = 6, dw_asym.groups = 3;
  c.push_back({dw_asym, true});
  return c;
}

struct Data {
  std::vector<double> x, w, b, dy;
};

Data draw(const Conv2dShape& s, uint64_t seed) {
  Generator g(seed);
  Data d;
  d.x = random_vec<double>(s.N * s.C * s.H * s.W, g);
  d.w = random_vec<double>(s.OC * (s.C / s.groups) * s.KH * s.KW, g);
  d.b = random_vec<double>(s.OC, g);
  d.dy = random_vec<double>(s.N * s.OC * s.OH() * s.OW(), g);
  return d;
}

struct Grads {
  std::vector<double> y, dx, dw, db;
};

Grads reference(const Conv2dShape& s, const Data& d, bool bias) {
  Grads r;
  r.y.resize(d.dy.size());
  r.dx.resize(d.x.size());
  r.dw.resize(d.w.size());
  r.db.resize(d.b.size());
  conv2d_forward_ref<double>(s, d.x.data(), d.w.data(), bias ? d.b.data() : nullptr, r.y.data());
  conv2d_backward_ref<double>(s, d.x.data(), d.w.data(), d.dy.data(), r.dx.data(), r.dw.data(),
                              r.db.data());
  return r;
}

}  // namespace

// The reference backward is the adjoint of the reference forward.
TEST(ConvRef, BackwardIsTheAdjointOfTheForward) {
  for (const Case& c : cases()) {
    const Conv2dShape& s = c.s;
    ASSERT_TRUE(s.valid()) << describe(s);
    const Data d = draw(s, 7);
    const Grads r = reference(s, d, false);
    const double lhs = dot(d.dy, r.y);  // <dY, conv(x, w)>, no bias
    const double scale = 1 + std::abs(lhs);
    EXPECT_NEAR(dot(r.dx, d.x), lhs, 1e-10 * scale) << describe(s);
    EXPECT_NEAR(dot(r.dw, d.w), lhs, 1e-10 * scale) << describe(s);
    double sum_dy_per_channel = 0;
    for (int64_t i = 0; i < static_cast<int64_t>(d.dy.size()); ++i)
      sum_dy_per_channel += d.dy[i] * d.b[(i / (s.OH() * s.OW())) % s.OC];
    EXPECT_NEAR(dot(r.db, d.b), sum_dy_per_channel, 1e-10 * (1 + std::abs(sum_dy_per_channel)));
  }
}

// And agrees with central finite differences of <dY, conv(x, w) + b> at a few coordinates.
TEST(ConvRef, BackwardMatchesFiniteDifferences) {
  for (const Case& c : cases()) {
    const Conv2dShape& s = c.s;
    Data d = draw(s, 11);
    const Grads r = reference(s, d, true);
    auto loss = [&] {
      std::vector<double> y(d.dy.size());
      conv2d_forward_ref<double>(s, d.x.data(), d.w.data(), d.b.data(), y.data());
      return dot(d.dy, y);
    };
    const double h = 1e-6;
    auto fd = [&](std::vector<double>& v, size_t i) {
      const double keep = v[i];
      v[i] = keep + h;
      const double up = loss();
      v[i] = keep - h;
      const double down = loss();
      v[i] = keep;
      return (up - down) / (2 * h);
    };
    for (size_t i : {size_t{0}, d.x.size() / 2, d.x.size() - 1})
      EXPECT_NEAR(fd(d.x, i), r.dx[i], 1e-6) << "dx[" << i << "] " << describe(s);
    for (size_t i : {size_t{0}, d.w.size() / 3, d.w.size() - 1})
      EXPECT_NEAR(fd(d.w, i), r.dw[i], 1e-6) << "dw[" << i << "] " << describe(s);
    EXPECT_NEAR(fd(d.b, d.b.size() - 1), r.db.back(), 1e-6) << describe(s);
  }
}

template <class T>
void check_fast(const Case& c) {
  const Conv2dShape& s = c.s;
  const Data d = draw(s, 3);
  const Grads r = reference(s, d, c.bias);
  std::vector<T> x(d.x.begin(), d.x.end()), w(d.w.begin(), d.w.end()), b(d.b.begin(), d.b.end());
  std::vector<T> dy(d.dy.begin(), d.dy.end());
  const std::string what = describe(s) + (sizeof(T) == 4 ? " f32" : " f64");
  const int64_t Kg = s.C / s.groups * s.KH * s.KW, L = s.OH() * s.OW();

  std::vector<T> y(r.y.size(), std::numeric_limits<T>::quiet_NaN());
  conv2d_forward<T>(s, x.data(), w.data(), c.bias ? b.data() : nullptr, y.data());
  expect_close(y, r.y, Kg, what + " forward");

  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> dx(x.size(), nan), dw(w.size(), nan), db(b.size(), nan);
  conv2d_backward<T>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
  expect_close(dx, r.dx, s.OC / s.groups * s.KH * s.KW, what + " dx");
  expect_close(dw, r.dw, s.N * L, what + " dw");
  expect_close(db, r.db, s.N * L, what + " dbias");

  // One output at a time: the others are not touched (nullptr).
  std::vector<T> dx1(x.size(), nan), dw1(w.size(), nan), db1(b.size(), nan);
  conv2d_backward<T>(s, nullptr, w.data(), dy.data(), dx1.data(), nullptr, nullptr);
  conv2d_backward<T>(s, x.data(), nullptr, dy.data(), nullptr, dw1.data(), nullptr);
  conv2d_backward<T>(s, nullptr, nullptr, dy.data(), nullptr, nullptr, db1.data());
  EXPECT_EQ(dx1, dx) << what;
  EXPECT_EQ(dw1, dw) << what;
  EXPECT_EQ(db1, db) << what;

  if (s.depthwise()) {  // the direct kernel called by name agrees with the dispatch
    std::vector<T> y2(y.size());
    depthwise_conv2d_forward<T>(s, x.data(), w.data(), c.bias ? b.data() : nullptr, y2.data());
    EXPECT_EQ(y2, y) << what;
  }
}

TEST(Conv, ForwardAndBackwardMatchTheReferenceF32) {
  for (const Case& c : cases()) check_fast<float>(c);
}

TEST(Conv, ForwardAndBackwardMatchTheReferenceF64) {
  for (const Case& c : cases()) check_fast<double>(c);
}

TEST(Conv, EmptyBatch) {
  Conv2dShape s = shape(0, 3, 5, 5, 4, 3, 3);
  std::vector<float> w(4 * 3 * 9, 1), dw(w.size(), 7), db(4, 7);
  conv2d_forward<float>(s, nullptr, w.data(), nullptr, nullptr);
  conv2d_backward<float>(s, nullptr, w.data(), nullptr, nullptr, dw.data(), db.data());
  EXPECT_EQ(dw, std::vector<float>(w.size(), 0));
  EXPECT_EQ(db, std::vector<float>(4, 0));
}

// Threads split images (batch >= threads) or each image's GEMM (batch < threads); dW is summed in
// slots fixed by the shape, so every result is bit-identical across thread counts.
TEST(Conv, ResultsDoNotDependOnTheThreadCount) {
  for (int64_t N : {1, 3, 40}) {
    for (int64_t G : {1, 8}) {
      const Conv2dShape s = shape(N, 8, 14, 14, 16, 3, 3, 1, 1, 1, G);
      const Data d = draw(s, 5);
      std::vector<float> x(d.x.begin(), d.x.end()), w(d.w.begin(), d.w.end());
      std::vector<float> b(d.b.begin(), d.b.end()), dy(d.dy.begin(), d.dy.end());
      auto run = [&](int threads) {
        set_num_threads(threads);
        std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
        conv2d_forward<float>(s, x.data(), w.data(), b.data(), y.data());
        conv2d_backward<float>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
        set_num_threads(0);
        return std::vector<std::vector<float>>{y, dx, dw, db};
      };
      EXPECT_EQ(run(1), run(2)) << describe(s);
    }
  }
}

TEST(Conv, Im2colAndCol2imAreAdjoint) {
  for (const Case& c : cases()) {
    Conv2dShape s = c.s;
    s.OC = s.groups = 1;
    s.N = 1;
    Generator g(9);
    const int64_t K = s.C * s.KH * s.KW, L = s.OH() * s.OW();
    std::vector<double> x = random_vec<double>(s.C * s.H * s.W, g), cols(K * L);
    std::vector<double> r = random_vec<double>(K * L, g), back(x.size(), 0.0);
    im2col<double>(s, x.data(), cols.data());
    col2im<double>(s, r.data(), back.data());
    EXPECT_NEAR(dot(cols, r), dot(x, back), 1e-10 * (1 + std::abs(dot(cols, r)))) << describe(s);
    // And im2col agrees with the definition.
    for (int64_t c0 = 0; c0 < s.C; ++c0)
      for (int64_t i = 0; i < s.KH; ++i)
        for (int64_t j = 0; j < s.KW; ++j)
          for (int64_t oh = 0; oh < s.OH(); ++oh)
            for (int64_t ow = 0; ow < s.OW(); ++ow) {
              const int64_t h = oh * s.SH - s.PH + i * s.DH, w = ow * s.SW - s.PW + j * s.DW;
              const double want =
                  h < 0 || h >= s.H || w < 0 || w >= s.W ? 0.0 : x[(c0 * s.H + h) * s.W + w];
              ASSERT_EQ(cols[((c0 * s.KH + i) * s.KW + j) * L + oh * s.OW() + ow], want)
                  << describe(s) << " c=" << c0 << " i=" << i << " j=" << j << " oh=" << oh
                  << " ow=" << ow;
            }
  }
}

// ---- pooling ------------------------------------------------------------------------------------

namespace {
Pool2dShape pool(int64_t planes, int64_t H, int64_t W, int64_t KH, int64_t KW, int64_t SH,
                 int64_t SW) {
  Pool2dShape s;
  s.planes = planes, s.H = H, s.W = W, s.KH = KH, s.KW = KW, s.SH = SH, s.SW = SW;
  return s;
}
const std::vector<Pool2dShape> kPools = {pool(6, 28, 28, 2, 2, 2, 2), pool(3, 7, 9, 3, 3, 2, 2),
                                         pool(2, 5, 5, 3, 3, 1, 1), pool(1, 1, 9, 1, 4, 1, 3),
                                         pool(5, 9, 7, 2, 3, 3, 1), pool(1, 4, 4, 4, 4, 1, 1),
                                         pool(3, 5, 67, 2, 2, 2, 2), pool(2, 3, 41, 3, 5, 1, 1),
                                         pool(2, 4, 40, 2, 3, 1, 2)};
}  // namespace

template <class T>
void check_max_pool(const Pool2dShape& s) {
  Generator g(13);
  const int64_t L = s.OH() * s.OW(), plane = s.H * s.W;
  std::vector<T> x(s.planes * plane);
  for (auto& v : x) v = static_cast<T>(static_cast<int64_t>(g.below(21)) - 10);  // ties happen
  std::vector<T> y(s.planes * L);
  std::vector<int32_t> arg(y.size());
  max_pool2d_forward<T>(s, x.data(), y.data(), arg.data());
  std::vector<T> y2(y.size());
  max_pool2d_forward<T>(s, x.data(), y2.data(), nullptr);
  EXPECT_EQ(y2, y);
  for (int64_t p = 0; p < s.planes; ++p)
    for (int64_t oh = 0; oh < s.OH(); ++oh)
      for (int64_t ow = 0; ow < s.OW(); ++ow) {
        T best = x[p * plane + oh * s.SH * s.W + ow * s.SW];
        int32_t first = -1;
        for (int64_t i = 0; i < s.KH; ++i)
          for (int64_t j = 0; j < s.KW; ++j)
            best = std::max(best, x[p * plane + (oh * s.SH + i) * s.W + ow * s.SW + j]);
        for (int64_t i = 0; i < s.KH && first < 0; ++i)
          for (int64_t j = 0; j < s.KW && first < 0; ++j) {
            const int64_t idx = (oh * s.SH + i) * s.W + ow * s.SW + j;
            if (x[p * plane + idx] == best) first = static_cast<int32_t>(idx);
          }
        ASSERT_EQ(y[p * L + oh * s.OW() + ow], best);
        ASSERT_EQ(arg[p * L + oh * s.OW() + ow], first) << "first maximum wins ties";
      }
  if constexpr (std::is_floating_point_v<T>) {
    std::vector<T> dy(y.size()), dx(x.size(), T(7)), want(x.size(), T(0));
    for (size_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<T>(i % 7) - T(3);
    for (int64_t p = 0; p < s.planes; ++p)
      for (int64_t l = 0; l < L; ++l) want[p * plane + arg[p * L + l]] += dy[p * L + l];
    max_pool2d_backward<T>(s, dy.data(), arg.data(), dx.data());
    EXPECT_EQ(dx, want);
  }
}

TEST(Pool, MaxForwardArgmaxAndBackward) {
  for (const Pool2dShape& s : kPools) {
    check_max_pool<float>(s);
    check_max_pool<double>(s);
    check_max_pool<int8_t>(s);
    check_max_pool<int32_t>(s);
    check_max_pool<int64_t>(s);
  }
}

TEST(Pool, MaxPropagatesNaN) {
  const Pool2dShape s = pool(1, 2, 4, 2, 2, 2, 2);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x = {1, nan, 5, 2, 3, 4, 6, nan}, y(2);
  std::vector<int32_t> arg(2);
  max_pool2d_forward<float>(s, x.data(), y.data(), arg.data());
  EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[1]));
  EXPECT_EQ(arg, (std::vector<int32_t>{1, 7}));
}

template <class T>
void check_avg_pool(const Pool2dShape& s) {
  Generator g(17);
  const int64_t L = s.OH() * s.OW(), plane = s.H * s.W, k = s.KH * s.KW;
  const std::vector<T> x = random_vec<T>(s.planes * plane, g), dy = random_vec<T>(s.planes * L, g);
  std::vector<double> want_y(dy.size(), 0.0), want_dx(x.size(), 0.0);
  for (int64_t p = 0; p < s.planes; ++p)
    for (int64_t oh = 0; oh < s.OH(); ++oh)
      for (int64_t ow = 0; ow < s.OW(); ++ow)
        for (int64_t i = 0; i < s.KH; ++i)
          for (int64_t j = 0; j < s.KW; ++j) {
            const int64_t xi = p * plane + (oh * s.SH + i) * s.W + ow * s.SW + j;
            const int64_t yi = p * L + oh * s.OW() + ow;
            want_y[yi] += static_cast<double>(x[xi]) / k;
            want_dx[xi] += static_cast<double>(dy[yi]) / k;
          }
  std::vector<T> y(dy.size()), dx(x.size(), T(7));
  avg_pool2d_forward<T>(s, x.data(), y.data());
  avg_pool2d_backward<T>(s, dy.data(), dx.data());
  expect_close(y, want_y, k, "avg_pool2d forward");
  expect_close(dx, want_dx, k, "avg_pool2d backward");
}

TEST(Pool, AvgForwardAndBackward) {
  for (const Pool2dShape& s : kPools) {
    check_avg_pool<float>(s);
    check_avg_pool<double>(s);
  }
}
