// Tensor basics: factories, dtypes, views sharing storage, contiguity, copies, conversions,
// element access, and the errors for bad shapes and indices.
#include "src/ops.h"
#include "src/random.h"
#include "src/storage.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cstdint>

using namespace bstack;

using bstack::test::unravel;

TEST(Tensor, FactoriesShapesAndDtypes) {
  for (DType t : {DType::f32, DType::f64, DType::i8, DType::i32, DType::i64}) {
    Tensor z = zeros({2, 3}, t);
    EXPECT_EQ(z.dtype(), t);
    EXPECT_EQ(z.shape(), (Shape{2, 3}));
    EXPECT_EQ(z.strides(), (Shape{3, 1}));
    EXPECT_EQ(z.numel(), 6);
    EXPECT_TRUE(z.is_contiguous());
    for (double v : z.to_vector()) EXPECT_EQ(v, 0.0);
    for (double v : full({4}, 7, t).to_vector()) EXPECT_EQ(v, 7.0);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(z.data_ptr()) % Storage::kAlignment, 0u);
  }
  Tensor s = scalar_tensor(2.5, DType::f64);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 2.5);
  Tensor e = empty({3, 0, 2});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_TRUE(e.to_vector().empty());
}

TEST(Tensor, Arange) {
  EXPECT_EQ(arange(0, 5).to_vector(), (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(1, 2, 0.25, DType::f64).to_vector(), (std::vector<double>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(arange(5, 0, -2, DType::i32).to_vector(), (std::vector<double>{5, 3, 1}));
  EXPECT_EQ(arange(3, 3).numel(), 0);
  EXPECT_THROW(arange(0, 1, 0), Error);
}

TEST(Tensor, SeededRandomIsDeterministic) {
  Generator g1(42), g2(42), g3(43);
  Tensor a = randn({5, 7}, g1), b = randn({5, 7}, g2), c = randn({5, 7}, g3);
  EXPECT_EQ(a.to_vector(), b.to_vector());
  EXPECT_NE(a.to_vector(), c.to_vector());
  Tensor u = rand({1000}, g1, DType::f64);
  for (double v : u.to_vector()) {
    EXPECT_GE(v, 0.0);
    EXPECT_LT(v, 1.0);
  }
  Tensor w = uniform({1000}, -2, 3, g1, DType::f64);
  for (double v : w.to_vector()) {
    EXPECT_GE(v, -2.0);
    EXPECT_LT(v, 3.0);
  }
}

TEST(Tensor, ViewsShareStorage) {
  Tensor x = arange(0, 24).reshape({2, 3, 4});
  EXPECT_TRUE(x.is_contiguous());
  Tensor t = x.transpose(0, 2);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.storage(), x.storage());
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.get({3, 1, 1}), x.get({1, 1, 3}));
  t.set({3, 1, 1}, -5);
  EXPECT_EQ(x.get({1, 1, 3}), -5);

  Tensor s = x.slice(2, 1, 4, 2);  // columns 1 and 3
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(s.storage(), x.storage());
  EXPECT_EQ(s.get({1, 2, 1}), x.get({1, 2, 3}));
  EXPECT_EQ(x.slice(0, -1, 100).shape(), (Shape{1, 3, 4}));  // clamps like Python
  EXPECT_EQ(x.slice(1, 2, 1).shape(), (Shape{2, 0, 4}));

  Tensor p = x.permute({1, 2, 0});
  EXPECT_EQ(p.shape(), (Shape{3, 4, 2}));
  EXPECT_EQ(p.get({2, 3, 1}), x.get({1, 2, 3}));

  Tensor e = arange(0, 3).reshape({3, 1}).expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides()[0], 0);
  EXPECT_EQ(e.strides()[2], 0);
  EXPECT_EQ(e.get({1, 2, 3}), 2);

  Tensor v = x.view({6, 4});
  EXPECT_EQ(v.storage(), x.storage());
  EXPECT_EQ(x.view({-1}).shape(), (Shape{24}));
  EXPECT_EQ(x.select(1, -1).shape(), (Shape{2, 4}));
  EXPECT_EQ(x.select(1, -1).get({1, 2}), x.get({1, 2, 2}));
  EXPECT_EQ(x.unsqueeze(1).shape(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(x.unsqueeze(1).squeeze(1).shape(), x.shape());
  EXPECT_EQ(x.squeeze(0).shape(), x.shape());  // not size 1: unchanged
}

TEST(Tensor, ReshapeCopiesOnlyWhenNeeded) {
  Tensor x = arange(0, 12).reshape({3, 4});
  Tensor t = x.t();
  EXPECT_THROW(t.view({12}), Error);
  Tensor r = t.reshape({12});
  EXPECT_NE(r.storage(), x.storage());
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(r.get({i}), x.get({i % 3, i / 3}));
  // A non-contiguous tensor whose dims still merge: slicing rows keeps rows contiguous.
  Tensor rows = arange(0, 24).reshape({6, 4}).slice(0, 0, 6, 2);
  EXPECT_EQ(rows.view({3, 2, 2}).storage(), rows.storage());
  EXPECT_THROW(x.reshape({5, 3}), Error);
  EXPECT_THROW(x.reshape({-1, -1}), Error);
}

TEST(Tensor, ContiguousCloneAndConvert) {
  Tensor x = arange(0, 6, 1, DType::f64).reshape({2, 3});
  Tensor c = x.t().contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_vector(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(x.contiguous().storage(), x.storage());
  Tensor k = x.clone();
  EXPECT_NE(k.storage(), x.storage());
  k.set({0, 0}, 9);
  EXPECT_EQ(x.get({0, 0}), 0);
  Tensor i = from_vector<double>({-1.7, 2.9, 127.2}, {3}).to(DType::i8);
  EXPECT_EQ(i.dtype(), DType::i8);
  EXPECT_EQ(i.to_vector(), (std::vector<double>{-1, 2, 127}));  // truncation, as static_cast
  EXPECT_EQ(x.to(DType::f64).storage(), x.storage());  // same dtype: no copy
}

TEST(Tensor, CopyAndFillInPlace) {
  Tensor x = zeros({2, 3});
  x.slice(1, 1, 3).fill_(4);
  EXPECT_EQ(x.to_vector(), (std::vector<double>{0, 4, 4, 0, 4, 4}));
  x.copy_(from_vector<double>({1, 2, 3}, {3}));  // broadcast + dtype conversion
  EXPECT_EQ(x.to_vector(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
  // Overlapping source and destination (a shifted view of the same storage).
  Tensor y = arange(0, 5);
  y.slice(0, 1, 5).copy_(y.slice(0, 0, 4));
  EXPECT_EQ(y.to_vector(), (std::vector<double>{0, 0, 1, 2, 3}));
  EXPECT_THROW(x.copy_(zeros({4})), Error);
}

TEST(Tensor, ElementAccessAndStrings) {
  Tensor x = arange(0, 6).reshape({2, 3});
  EXPECT_EQ(x.get({1, -1}), 5);
  EXPECT_THROW(x.get({2, 0}), Error);
  EXPECT_THROW(x.get({0}), Error);
  EXPECT_THROW(x.item(), Error);
  EXPECT_EQ(x.str(), "tensor(f32, [2, 3], [[0, 1, 2], [3, 4, 5]])");
  EXPECT_EQ(arange(0, 10, 1, DType::i64).str(), "tensor(i64, [10], [0, 1, 2, ..., 7, 8, 9])");
  EXPECT_EQ(Tensor().str(), "tensor(undefined)");
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(x.get(unravel(i, x.shape())), i);
}

TEST(Tensor, ErrorsNameTheProblem) {
  Tensor x = zeros({2, 3});
  try {
    x.transpose(0, 3);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "transpose: axis 3 out of range for a tensor with 2 dims");
  }
  try {
    x.expand({4, 3, 5});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expand: cannot expand shape [2, 3] to [4, 3, 5]"),
              std::string::npos);
  }
  EXPECT_THROW(empty({-1}), Error);
  EXPECT_THROW(x.permute({0, 0}), Error);
  EXPECT_THROW(x.slice(0, 0, 1, 0), Error);
  EXPECT_THROW(Tensor().shape(), Error);
  EXPECT_THROW(x.data<double>(), Error);
  EXPECT_THROW(dtype_from_name("f16"), Error);
  EXPECT_EQ(dtype_from_name("float64"), DType::f64);
}
