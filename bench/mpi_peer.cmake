# Peer for `bstack calibrate`'s interconnect latency: a plain MPI_Send/MPI_Recv ping-pong in C.
# bench/calibrate_peers_mpi.sh runs it beside `bstack calibrate --sections interconnect`.
add_executable(mpi_pingpong_peer ${CMAKE_CURRENT_LIST_DIR}/mpi_pingpong_peer.c)
target_link_libraries(mpi_pingpong_peer PRIVATE MPI::MPI_C)
