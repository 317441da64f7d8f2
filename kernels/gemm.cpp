// Temporary: forwards to gemm_ref while the packed implementation is written (next commit).
#include "kernels/gemm.h"

#include "kernels/gemm_ref.h"

namespace bstack::kernels {

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rs_a, int64_t cs_a,
          const T* B, int64_t rs_b, int64_t cs_b, T beta, T* C, int64_t rs_c, int64_t cs_c,
          const Epilogue<T>& epi, const GemmConfig&) {
  gemm_ref(M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c);
  if (epi.bias || epi.act != Activation::none)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        T& c = C[i * rs_c + j * cs_c];
        if (epi.bias) c += epi.bias[j];
        if (epi.act == Activation::relu && c < 0) c = 0;
      }
}

template <class T>
void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                  int64_t rs_a, int64_t cs_a, int64_t stride_a, const T* B, int64_t rs_b,
                  int64_t cs_b, int64_t stride_b, T beta, T* C, int64_t rs_c, int64_t cs_c,
                  int64_t stride_c) {
  for (int64_t b = 0; b < batch; ++b)
    gemm_ref(M, N, K, alpha, A + b * stride_a, rs_a, cs_a, B + b * stride_b, rs_b, cs_b, beta,
             C + b * stride_c, rs_c, cs_c);
}

template void gemm<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                          const float*, int64_t, int64_t, float, float*, int64_t, int64_t,
                          const Epilogue<float>&, const GemmConfig&);
template void gemm<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                           const double*, int64_t, int64_t, double, double*, int64_t, int64_t,
                           const Epilogue<double>&, const GemmConfig&);
template void gemm_batched<float>(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                  int64_t, int64_t, const float*, int64_t, int64_t, int64_t, float,
                                  float*, int64_t, int64_t, int64_t);
template void gemm_batched<double>(int64_t, int64_t, int64_t, int64_t, double, const double*,
                                   int64_t, int64_t, int64_t, const double*, int64_t, int64_t,
                                   int64_t, double, double*, int64_t, int64_t, int64_t);

}  // namespace bstack::kernels
