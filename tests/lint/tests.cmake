# Source lint (pure modules stay pure; functions at most 70 lines).
add_test(NAME lint.sources COMMAND sh ${CMAKE_SOURCE_DIR}/tests/lint/lint.sh ${CMAKE_SOURCE_DIR})
# The lint must catch what it forbids: run it on a planted violation.
add_test(NAME lint.self_test COMMAND sh ${CMAKE_SOURCE_DIR}/tests/lint/lint_self_test.sh
    ${CMAKE_SOURCE_DIR}/tests/lint/lint.sh)
# Every header compiles on its own (STYLE.md), with the project's compiler and flags; the
# build dir is on the include path for generated protobuf-c headers.
set(runnel_header_include_flags)
foreach(include_dir ${URING_INCLUDE_DIRS} ${PROTOBUFC_INCLUDE_DIRS} ${SODIUM_INCLUDE_DIRS}
        ${XXHASH_INCLUDE_DIRS} ${INIH_INCLUDE_DIRS})
    list(APPEND runnel_header_include_flags -I${include_dir})
endforeach()
add_test(NAME lint.headers COMMAND ${CMAKE_COMMAND} -E env CC=${CMAKE_C_COMPILER}
    sh ${CMAKE_SOURCE_DIR}/tests/lint/headers.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}
    ${runnel_header_include_flags})
add_test(NAME lint.headers_self_test COMMAND sh ${CMAKE_SOURCE_DIR}/tests/lint/headers.sh
    --self-test)
