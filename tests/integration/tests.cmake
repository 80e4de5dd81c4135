# Integration tests: real processes.
# runtime: runneld serves a ping through the shard runtime and exits 0 on SIGTERM.
add_test(NAME integration.runneld_shutdown
    COMMAND sh ${CMAKE_SOURCE_DIR}/tests/integration/runneld_shutdown.sh $<TARGET_FILE:runneld>)
set_tests_properties(integration.runneld_shutdown PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)
