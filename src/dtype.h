// Element types and devices. A dtype is a tag; `visit_dtype` turns it into a C++ type
// for the kernels that loop over elements.
#pragma once

#include "src/error.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace bstack {

enum class DType : uint8_t { f32, f64, i8, i32, i64 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i8: return 1;
    case DType::i32: return 4;
    case DType::i64: return 8;
  }
  return 0;
}
constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i8: return "i8";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
  }
  return "?";
}
constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

// Parses "f32", "float32", ... ; throws bstack::Error naming the text otherwise.
DType dtype_from_name(const std::string& name);

template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::f32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::f64; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::i8; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::i32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::i64; };
template <class T> constexpr DType dtype_of = DTypeOf<T>::value;

template <class T> struct TypeTag { using type = T; };

// Calls f(TypeTag<T>{}) with T the C++ type of `t`:
//   visit_dtype(t, [&](auto tag) { using T = typename decltype(tag)::type; ... });
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::i8: return f(TypeTag<int8_t>{});
    case DType::i32: return f(TypeTag<int32_t>{});
    case DType::i64: return f(TypeTag<int64_t>{});
  }
  fail("visit_dtype: invalid dtype {}", static_cast<int>(t));
}

// The same, restricted to f32/f64; any other dtype is an error naming `op`.
template <class F>
decltype(auto) visit_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    default: fail("{}: needs a floating-point tensor (f32 or f64), got {}", op, dtype_name(t));
  }
}

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  static Device cpu() { return {}; }
  bool operator==(const Device&) const = default;
  std::string str() const { return type == DeviceType::CPU ? "cpu" : "cuda:" + std::to_string(index); }
};

}  // namespace bstack
