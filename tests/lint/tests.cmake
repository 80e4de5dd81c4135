# Source lint (pure modules stay pure; functions at most 70 lines).
add_test(NAME lint.sources COMMAND sh ${CMAKE_SOURCE_DIR}/tests/lint/lint.sh ${CMAKE_SOURCE_DIR})
# The lint must catch what it forbids: run it on a planted violation.
add_test(NAME lint.self_test COMMAND sh ${CMAKE_SOURCE_DIR}/tests/lint/lint_self_test.sh
    ${CMAKE_SOURCE_DIR}/tests/lint/lint.sh)
