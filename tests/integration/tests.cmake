# Integration tests: real processes.
# runtime: runneld serves a ping through the shard runtime and exits 0 on SIGTERM.
add_test(NAME integration.runneld_shutdown
    COMMAND sh ${CMAKE_SOURCE_DIR}/tests/integration/runneld_shutdown.sh $<TARGET_FILE:runneld>)
set_tests_properties(integration.runneld_shutdown PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)
# broker: runneld as a single-node Iggy broker driven by the runnel CLI and raw frames
# (streams, topics, send, poll, offsets, a permission denial, bad frames, restart, kill -9).
# python3 is installed by scripts/setup.sh: a missing interpreter is an error, not a skip.
find_program(RUNNEL_PYTHON3 python3 REQUIRED)
add_test(NAME integration.broker
    COMMAND ${RUNNEL_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/integration/broker_test.py
        $<TARGET_FILE:runneld> $<TARGET_FILE:runnel>)
set_tests_properties(integration.broker PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 400)
# cli: the runnel CLI against a scripted fake server (tables, --json, server errors, exit
# codes, runnel-only cluster commands only on runneld).
add_test(NAME integration.cli_fake
    COMMAND ${RUNNEL_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/integration/cli_fake_test.py
        $<TARGET_FILE:runnel>)
set_tests_properties(integration.cli_fake PROPERTIES TIMEOUT 120)
include(${CMAKE_CURRENT_LIST_DIR}/cluster.cmake)
# runnel-nemesis-producer: a librunnel exactly-once producer that records every
# acknowledgement and moves to the next node when one fails (cluster and nemesis tests).
add_executable(runnel-nemesis-producer ${CMAKE_SOURCE_DIR}/tests/integration/nemesis_producer.c)
target_compile_options(runnel-nemesis-producer PRIVATE ${RUNNEL_WARNINGS})
target_include_directories(runnel-nemesis-producer PRIVATE ${CMAKE_SOURCE_DIR}/client/include)
target_link_libraries(runnel-nemesis-producer PRIVATE runnel_static ${XXHASH_LIBRARIES})
# runnel-nemesis-reader: reads a partition from an offset to its end through one login
# (nemesis_test's checker; the CLI logs in once per poll).
add_executable(runnel-nemesis-reader ${CMAKE_SOURCE_DIR}/tests/integration/nemesis_reader.c)
target_compile_options(runnel-nemesis-reader PRIVATE ${RUNNEL_WARNINGS})
target_include_directories(runnel-nemesis-reader PRIVATE ${CMAKE_SOURCE_DIR}/client/include)
target_link_libraries(runnel-nemesis-reader PRIVATE runnel_static ${XXHASH_LIBRARIES})
# nemesis: the CI form of tests/integration/nemesis_test.py (docs/NEMESIS.md): 3 nodes,
# three librunnel exactly-once producers over 3 partitions and a committing consumer for
# 120 s while a nemesis seeded with 8 kills (-9) and restarts or pauses one node at a time
# (2-4 s each, partition and metadata primaries included); then every fault is healed, the
# cluster must converge (90 s at most) and the checker reads every partition back from
# every node (no acknowledged message lost, no offset with two values, partitions
# identical, no duplicate, committed consumer offsets never back, no node crashed). About
# 3 minutes; RUN_SERIAL: it is a liveness test too (bounded convergence). Release build
# only: under ASan the nodes are several times slower against the same convergence bound.
# The CI form was clean 10 times in a row at 5f0fb7e, failed once at 29390b6 (a restarted
# node caught up too slowly: docs/NEMESIS.md bug 9) and was disabled; the repair window
# (06866c2: 64 prepares per round, was 8) speeds catch-up about 4x, and it was then clean
# 11 times in a row (9378ea9 once, 14f7e31 4 times, bbb8e56 6 times; converged after
# 6.2-23.7 s at load averages up to 17), so it ran again; it passed in the fresh-clone check
# at 4950681 too, but 3 of 4 long-form runs at that runneld (f946807's) then failed on stale
# consumer offsets read from a restarted backup (docs/NEMESIS.md bug 11), a check the CI form
# makes too: DISABLED again until bug 11 was fixed (dbcdb7c: offset reads only from the
# partition's primary once it executed its view's head). With the fix it was clean 8 times
# in a row in this form (2baef3e 4, c42ad9a 2, d289b9e's vsr 2) and the long-form runs after
# it too (docs/NEMESIS.md), so it runs again.
# Long form by hand: python3 tests/integration/nemesis_test.py build/release/runneld
#   build/release/runnel --duration 600 --seed S --netns [--netns-instance K]
#   --iggy-bench PATH (docs/NEMESIS.md)
if(NOT RUNNEL_SANITIZE)
    add_test(NAME integration.nemesis
        COMMAND ${RUNNEL_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/integration/nemesis_test.py
            $<TARGET_FILE:runneld> $<TARGET_FILE:runnel>)
    set_tests_properties(integration.nemesis PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
        RUN_SERIAL TRUE)
endif()
# partition_wrap: one partition takes more batches than its VSR log ring
# (limits.partition_ops_max=1024) and every message is polled back by Offset, First, Last,
# Next and Timestamp, before and after a restart and a kill -9
# (tests/integration/partition_wrap_test.py).
add_test(NAME integration.partition_wrap
    COMMAND ${RUNNEL_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/integration/partition_wrap_test.py
        $<TARGET_FILE:runneld> $<TARGET_FILE:runnel> 5000)
set_tests_properties(integration.partition_wrap PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
