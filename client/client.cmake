# librunnel packaging (included at the end of the top-level CMakeLists.txt):
#   - runnel_client (the folder's static library, declared above) gains the public include dir;
#   - librunnel.so / librunnel.a built from client/*.c (without the CLI and bench files)
#     plus the proto/ codecs and lib/ helpers they use, exporting only runnel_* symbols;
#   - client/examples/*.c built as runnel-example-<name>;
#   - install rules for the libraries, the header, the pkg-config file and the programs.
include(GNUInstallDirs)

target_include_directories(runnel_client PUBLIC ${CMAKE_SOURCE_DIR}/client/include)

file(GLOB runnel_sdk_sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/client/*.c)
list(FILTER runnel_sdk_sources EXCLUDE REGEX "(_main|/cli_[^/]*|/bench_[^/]*)\\.c$")
file(GLOB runnel_sdk_proto CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/proto/iggy_*.c
    ${CMAKE_SOURCE_DIR}/proto/cluster_wire.c)
list(APPEND runnel_sdk_sources ${runnel_sdk_proto} ${CMAKE_SOURCE_DIR}/proto/batch.c
    ${CMAKE_SOURCE_DIR}/lib/assert.c ${CMAKE_SOURCE_DIR}/lib/error.c
    ${CMAKE_SOURCE_DIR}/lib/log.c ${CMAKE_SOURCE_DIR}/lib/hash.c)

add_library(runnel_sdk_objects OBJECT ${runnel_sdk_sources})
set_target_properties(runnel_sdk_objects PROPERTIES POSITION_INDEPENDENT_CODE ON
    C_VISIBILITY_PRESET default)
target_include_directories(runnel_sdk_objects PRIVATE ${CMAKE_SOURCE_DIR}
    ${CMAKE_SOURCE_DIR}/client/include)
target_compile_options(runnel_sdk_objects PRIVATE ${RUNNEL_WARNINGS})

add_library(runnel_shared SHARED $<TARGET_OBJECTS:runnel_sdk_objects>)
set_target_properties(runnel_shared PROPERTIES OUTPUT_NAME runnel VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR})
target_link_libraries(runnel_shared PRIVATE ${XXHASH_LIBRARIES}
    "-Wl,--version-script=${CMAKE_SOURCE_DIR}/client/runnel.map")
set_property(TARGET runnel_shared APPEND PROPERTY LINK_DEPENDS
    ${CMAKE_SOURCE_DIR}/client/runnel.map)

add_library(runnel_static STATIC $<TARGET_OBJECTS:runnel_sdk_objects>)
set_target_properties(runnel_static PROPERTIES OUTPUT_NAME runnel)

file(GLOB runnel_examples CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/client/examples/*.c)
foreach(example_source ${runnel_examples})
    get_filename_component(example_name ${example_source} NAME_WE)
    add_executable(runnel-example-${example_name} ${example_source})
    target_compile_options(runnel-example-${example_name} PRIVATE ${RUNNEL_WARNINGS})
    target_include_directories(runnel-example-${example_name} PRIVATE
        ${CMAKE_SOURCE_DIR}/client/include)
    target_link_libraries(runnel-example-${example_name} PRIVATE runnel_shared)
endforeach()

# The .pc file finds its prefix from its own location, so `cmake --install --prefix` works.
file(RELATIVE_PATH RUNNEL_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
configure_file(${CMAKE_SOURCE_DIR}/client/runnel.pc.in ${CMAKE_BINARY_DIR}/runnel.pc @ONLY)
install(TARGETS runnel_shared runnel_static
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/client/include/runnel/runnel.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/runnel)
install(FILES ${CMAKE_BINARY_DIR}/runnel.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(TARGETS runnel runnel-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
