#include "kernels/gemm_ref.h"

#include "kernels/parallel.h"

#include <cstddef>
#include <vector>

namespace bstack::kernels {

template <class T>
void gemm_ref(int64_t M, int64_t N, int64_t K, T alpha,
              const T* A, int64_t rs_a, int64_t cs_a,
              const T* B, int64_t rs_b, int64_t cs_b,
              T beta, T* C, int64_t rs_c, int64_t cs_c) {
  // The inner loop streams rows of B; a B whose rows are strided (e.g. a transposed weight)
  // is first copied into a contiguous K x N panel, so that loop stays unit-stride.
  std::vector<T> packed;
  if (cs_b != 1 && N > 1 && K > 0) {
    packed.resize(static_cast<size_t>(K * N));
    for (int64_t p = 0; p < K; ++p)
      for (int64_t j = 0; j < N; ++j) packed[p * N + j] = B[p * rs_b + j * cs_b];
    B = packed.data();
    rs_b = N;
    cs_b = 1;
  }
  parallel_for(M, N * K + 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T* c = C + i * rs_c;
      if (beta == T(0)) {
        for (int64_t j = 0; j < N; ++j) c[j * cs_c] = T(0);
      } else if (beta != T(1)) {
        for (int64_t j = 0; j < N; ++j) c[j * cs_c] *= beta;
      }
      for (int64_t p = 0; p < K; ++p) {
        const T a = alpha * A[i * rs_a + p * cs_a];
        const T* b = B + p * rs_b;
        if (cs_c == 1 && cs_b == 1) {
          for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
        } else {
          for (int64_t j = 0; j < N; ++j) c[j * cs_c] += a * b[j * cs_b];
        }
      }
    }
  });
}

template void gemm_ref<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                              const float*, int64_t, int64_t, float, float*, int64_t, int64_t);
template void gemm_ref<double>(int64_t, int64_t, int64_t, double, const double*, int64_t,
                               int64_t, const double*, int64_t, int64_t, double, double*,
                               int64_t, int64_t);

}  // namespace bstack::kernels
