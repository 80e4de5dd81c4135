# libFuzzer harnesses: tests/fuzz/fuzz_<name>.c each define LLVMFuzzerTestOneInput, with a
# committed corpus in tests/fuzz/corpus/fuzz_<name>/.
#
# 1. Always: fuzz_<name>_replay, the harness linked with fuzz_replay.c by the normal
#    compiler (and the build's sanitizers), registered as ctest fuzz.replay.<name>.
# 2. When clang can link -fsanitize=fuzzer,address (probed below; Debian ships libFuzzer
#    in libclang-rt-14-dev): build/fuzz/fuzz_<name>, compiled by clang from the harness and
#    the sources listed in RUNNEL_FUZZ_SOURCES, and registered as ctest
#    fuzz.libfuzzer.<name>, which runs the corpus once (-runs=0) under libFuzzer+ASan.
#    Fuzz for real with: build/release/fuzz/fuzz_<name> -max_total_time=60 CORPUS_DIR
file(GLOB fuzz_harnesses CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
list(FILTER fuzz_harnesses EXCLUDE REGEX "fuzz_replay\\.c$")

foreach(harness ${fuzz_harnesses})
    get_filename_component(fuzz_name ${harness} NAME_WE)
    add_executable(${fuzz_name}_replay ${harness} ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_replay.c)
    target_compile_options(${fuzz_name}_replay PRIVATE ${RUNNEL_WARNINGS})
    target_link_libraries(${fuzz_name}_replay PRIVATE runnel_proto runnel_lib)
    add_test(NAME fuzz.replay.${fuzz_name} COMMAND ${fuzz_name}_replay
        ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${fuzz_name})
    set_tests_properties(fuzz.replay.${fuzz_name} PROPERTIES TIMEOUT 120)
endforeach()

# Probe: can clang build and link a libFuzzer target with ASan? (The project compiler may
# be gcc, so try_compile/check_c_source_compiles cannot ask clang; run it directly.)
find_program(RUNNEL_FUZZ_CLANG NAMES clang clang-14)
set(RUNNEL_FUZZ_ENABLED OFF)
if(RUNNEL_FUZZ_CLANG)
    set(fuzz_probe_dir ${CMAKE_BINARY_DIR}/fuzz_probe)
    file(MAKE_DIRECTORY ${fuzz_probe_dir})
    file(WRITE ${fuzz_probe_dir}/probe.c
        "#include <stddef.h>\n#include <stdint.h>\n"
        "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t s) { (void)d; (void)s; return 0; }\n")
    execute_process(COMMAND ${RUNNEL_FUZZ_CLANG} -fsanitize=fuzzer,address
        ${fuzz_probe_dir}/probe.c -o ${fuzz_probe_dir}/probe
        RESULT_VARIABLE fuzz_probe_result OUTPUT_QUIET ERROR_QUIET)
    if(fuzz_probe_result EQUAL 0)
        set(RUNNEL_FUZZ_ENABLED ON)
    endif()
endif()
message(STATUS "libFuzzer harnesses: ${RUNNEL_FUZZ_ENABLED}")

if(RUNNEL_FUZZ_ENABLED)
    # What the harnesses link: the Iggy codec, the batch format and the foundation.
    file(GLOB RUNNEL_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/proto/iggy_*.c)
    list(APPEND RUNNEL_FUZZ_SOURCES ${CMAKE_SOURCE_DIR}/proto/batch.c
        ${CMAKE_SOURCE_DIR}/proto/cluster_wire.c
        ${CMAKE_SOURCE_DIR}/lib/assert.c ${CMAKE_SOURCE_DIR}/lib/error.c
        ${CMAKE_SOURCE_DIR}/lib/hash.c)
    set(fuzz_flags -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -std=c11 -D_GNU_SOURCE -DRUNNEL_VERSION="${PROJECT_VERSION}" -I${CMAKE_SOURCE_DIR}
        -I${CMAKE_BINARY_DIR})
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
    foreach(harness ${fuzz_harnesses})
        get_filename_component(fuzz_name ${harness} NAME_WE)
        set(fuzz_binary ${CMAKE_BINARY_DIR}/fuzz/${fuzz_name})
        add_custom_command(OUTPUT ${fuzz_binary}
            COMMAND ${RUNNEL_FUZZ_CLANG} ${fuzz_flags} ${harness} ${RUNNEL_FUZZ_SOURCES}
                ${XXHASH_LDFLAGS} -lm -o ${fuzz_binary}
            DEPENDS ${harness} ${RUNNEL_FUZZ_SOURCES}
            COMMENT "libFuzzer harness ${fuzz_name}" VERBATIM)
        add_custom_target(${fuzz_name}_libfuzzer ALL DEPENDS ${fuzz_binary})
        add_test(NAME fuzz.libfuzzer.${fuzz_name} COMMAND ${fuzz_binary} -runs=0
            ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${fuzz_name})
        set_tests_properties(fuzz.libfuzzer.${fuzz_name} PROPERTIES TIMEOUT 120)
    endforeach()
endif()
