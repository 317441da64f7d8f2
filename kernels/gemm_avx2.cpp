// AVX2+FMA GEMM micro-kernels (next commit).
