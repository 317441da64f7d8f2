// Tensors in HDF5 files: the one bridge between Tensor and the array layer of h5.h, used by
// checkpoints (nn/module.cpp) and training state (train/train.cpp).
#pragma once

#include "src/io/h5.h"
#include "src/tensor.h"

#include <cstring>
#include <string>

namespace bstack {

// Writes `t` (any layout; written row-major) as dataset `name`.
inline void write_tensor(H5Writer& w, const std::string& name, const Tensor& t) {
  const Tensor c = t.detach().contiguous();
  w.write(name, ArrayRef{c.dtype(), c.shape(), c.data_ptr()});
}

// Reads dataset `name` into a new contiguous tensor of its dtype and shape.
inline Tensor read_tensor(const H5Reader& r, const std::string& name) {
  const Array a = r.read(name);
  Tensor t = empty(a.shape, a.dtype);
  std::memcpy(t.data_ptr(), a.bytes.data(), a.bytes.size());
  return t;
}

}  // namespace bstack
