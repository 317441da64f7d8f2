# The memory section (calibrate/memory.h): STREAM sweeps, pointer chasing and the plateau fit.
# The per-ISA STREAM loops are compiled with their own -m flags and reached only through cpuid
# dispatch (kernels/cpu.h), as in kernels/. The flag lists are kernels/CMakeLists.txt's, which
# sets them in its own directory scope, so they are repeated here when not visible.
if(NOT DEFINED BSTACK_AVX2_FLAGS)
  set(BSTACK_AVX2_FLAGS -mavx2 -mfma -mf16c)
endif()
if(NOT DEFINED BSTACK_AVX512_FLAGS)
  set(BSTACK_AVX512_FLAGS -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c)
endif()
target_sources(bstack_calibrate PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/memory.cpp
  ${CMAKE_CURRENT_LIST_DIR}/memory_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/memory_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plateau.cpp)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/memory_avx2.cpp PROPERTIES
  COMPILE_OPTIONS "${BSTACK_AVX2_FLAGS}")
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/memory_avx512.cpp PROPERTIES
  COMPILE_OPTIONS "${BSTACK_AVX512_FLAGS}")
