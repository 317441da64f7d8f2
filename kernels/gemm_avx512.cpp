// AVX-512 GEMM micro-kernels (next commit).
