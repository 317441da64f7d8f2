# calibrate/memory.h and calibrate/plateau.h
bstack_add_test(test_memory test_memory.cpp)
target_link_libraries(test_memory PRIVATE bstack::calibrate)
bstack_add_test(test_plateau test_plateau.cpp)
target_link_libraries(test_plateau PRIVATE bstack::calibrate)
