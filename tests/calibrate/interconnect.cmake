# Least-squares fits, wall 14 and the Communicator. Included by tests/calibrate/CMakeLists.txt.
bstack_add_test(test_lsq ${CMAKE_CURRENT_LIST_DIR}/test_lsq.cpp)
target_link_libraries(test_lsq PRIVATE bstack::calibrate)
bstack_add_test(test_walls_comm ${CMAKE_CURRENT_LIST_DIR}/test_walls_comm.cpp)
target_link_libraries(test_walls_comm PRIVATE bstack::walls)

# test_comm: one program for both runs. Without a launcher it is the size-1 unit test (label
# "unit", also under the sanitizers); under mpirun -np 2 it checks the collectives' and
# point-to-point results and the OSU sweeps (label "mpi"; not run under the sanitizers: Open MPI
# itself leaks at exit).
bstack_add_test(test_comm ${CMAKE_CURRENT_LIST_DIR}/test_comm.cpp)
target_link_libraries(test_comm PRIVATE bstack::dist bstack::calibrate)
if(NOT BSTACK_SANITIZE)
  set(_bstack_mpi_flags "")
  if(MPI_C_LIBRARY_VERSION_STRING MATCHES "Open MPI")
    # Open MPI refuses root without this, and 2 ranks may exceed the slots of a small machine.
    set(_bstack_mpi_flags --allow-run-as-root --oversubscribe)
  endif()
  add_test(NAME test_comm_mpi2
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${_bstack_mpi_flags}
                   $<TARGET_FILE:test_comm>)
  # PROCESSORS 2: both ranks busy-poll; ctest -j2 then runs nothing beside them.
  set_tests_properties(test_comm_mpi2 PROPERTIES LABELS mpi TIMEOUT 120 PROCESSORS 2)
endif()
