# The data path, power and GPU sections (calibrate/datapath.cpp, power.cpp, gpu.cpp).
target_sources(bstack_calibrate PRIVATE datapath.cpp power.cpp gpu.cpp)

# The GPU section needs device code (gpu_kernels.cu) and so a working CUDA compiler, not just the
# toolkit the top level found: check_language first, so a machine whose nvcc cannot compile still
# configures and builds (the section then says "built without CUDA").
if(BSTACK_HAS_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # Ampere and Hopper (A100, H100/H200): CUDA 13 compiles for sm_75 and newer only.
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    # Device code in its own target: the project's warning and sanitizer flags are GCC flags that
    # nvcc does not take; the launchers it holds need neither.
    add_library(bstack_calibrate_gpu_kernels STATIC gpu_kernels.cu)
    # C++17 for nvcc: CMake 3.25 does not know CUDA 13's C++20 flag, and the launchers need none.
    set_target_properties(bstack_calibrate_gpu_kernels PROPERTIES COMPILE_OPTIONS "" CUDA_STANDARD 17)
    target_include_directories(bstack_calibrate_gpu_kernels PRIVATE ${PROJECT_SOURCE_DIR})
    target_link_libraries(bstack_calibrate_gpu_kernels PRIVATE CUDA::cudart)
    target_link_libraries(bstack_calibrate PRIVATE bstack_calibrate_gpu_kernels CUDA::cudart CUDA::cublas)
    target_compile_definitions(bstack_calibrate PRIVATE BSTACK_HAS_CUDA=1)
    if(BSTACK_HAS_NCCL)
      target_include_directories(bstack_calibrate PRIVATE ${BSTACK_NCCL_INCLUDE})
      target_link_libraries(bstack_calibrate PRIVATE ${BSTACK_NCCL_LIBRARY})
      target_compile_definitions(bstack_calibrate PRIVATE BSTACK_HAS_NCCL=1)
    endif()
  else()
    message(STATUS "bstack: calibrate GPU section off: CUDA toolkit found but no working CUDA compiler")
  endif()
endif()
