# Fault tests (SQLite-style loops over the simulated disk): tests/fault/test_*.c, one
# cmocka executable each, linked against the simulator and storage libraries.
file(GLOB fault_tests CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fault/test_*.c)
foreach(test_source ${fault_tests})
    get_filename_component(test_name ${test_source} NAME_WE)
    set(target_name fault_${test_name})
    add_executable(${target_name} ${test_source} ${CMAKE_SOURCE_DIR}/tests/unit/helper_assert.c)
    target_compile_options(${target_name} PRIVATE ${RUNNEL_WARNINGS})
    target_include_directories(${target_name} PRIVATE ${CMOCKA_INCLUDE_DIRS})
    target_link_libraries(${target_name} PRIVATE runnel_sim runnel_storage ${CMOCKA_LIBRARIES})
    add_test(NAME fault.${test_name} COMMAND ${target_name} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
    set_tests_properties(fault.${test_name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
