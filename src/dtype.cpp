#include "src/dtype.h"

namespace bstack {

DType dtype_from_name(const std::string& name) {
  if (name == "f32" || name == "float32" || name == "float") return DType::f32;
  if (name == "f64" || name == "float64" || name == "double") return DType::f64;
  if (name == "i8" || name == "int8") return DType::i8;
  if (name == "i32" || name == "int32") return DType::i32;
  if (name == "i64" || name == "int64") return DType::i64;
  fail("unknown dtype '{}' (expected one of f32, f64, i8, i32, i64)", name);
}

}  // namespace bstack
