# Data path, power and GPU sections. Included by tests/calibrate/CMakeLists.txt.
bstack_add_test(test_datapath ${CMAKE_CURRENT_LIST_DIR}/test_datapath.cpp)
target_link_libraries(test_datapath PRIVATE bstack::calibrate)
bstack_add_test(test_power ${CMAKE_CURRENT_LIST_DIR}/test_power.cpp)
target_link_libraries(test_power PRIVATE bstack::calibrate)
bstack_add_test(test_gpu ${CMAKE_CURRENT_LIST_DIR}/test_gpu.cpp)
target_link_libraries(test_gpu PRIVATE bstack::calibrate)
