bstack_add_test(test_profile test_profile.cpp)
target_link_libraries(test_profile PRIVATE bstack::calibrate)
