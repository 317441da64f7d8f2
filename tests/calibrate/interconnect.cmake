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
  add_test(NAME test_comm_mpi2
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${MPIEXEC_PREFLAGS}
                   $<TARGET_FILE:test_comm> ${MPIEXEC_POSTFLAGS})
  # Open MPI refuses to run as root and to place 2 ranks on a machine with fewer slots unless
  # told (other MPIs ignore these variables). PROCESSORS 2: both ranks busy-poll, so ctest -j2
  # runs nothing beside them.
  set_tests_properties(test_comm_mpi2 PROPERTIES LABELS mpi TIMEOUT 120 PROCESSORS 2
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
endif()
