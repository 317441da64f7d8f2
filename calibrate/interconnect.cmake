# Section "interconnect" (OSU ping-pong, bandwidth, all-reduce over dist::Communicator) and the
# least-squares fits; included by calibrate/CMakeLists.txt.
target_sources(bstack_calibrate PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/lsq.cpp
  ${CMAKE_CURRENT_LIST_DIR}/interconnect.cpp)
