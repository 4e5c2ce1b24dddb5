# Install the build into a temporary prefix, then build and run two small
# consumers outside the tree: one with pkg-config, one with find_package.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(prefix ${WORK}/prefix)
# A sanitized library needs sanitized consumers (the runtime must come first).
set(sanflags "")
if(SANITIZE)
  set(sanflags "-fsanitize=${SANITIZE}")
endif()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(LAST_OUT "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BIN} --prefix ${prefix})
file(GLOB_RECURSE pcfiles ${prefix}/*/libespota.pc)
list(GET pcfiles 0 pc)
get_filename_component(pcdir ${pc} DIRECTORY)
get_filename_component(libdir ${pcdir} DIRECTORY)

# 1. pkg-config; the installed .pc must point into this prefix.
set(ENV{PKG_CONFIG_PATH} ${pcdir})
run(pkg-config --variable=libdir libespota)
string(STRIP "${LAST_OUT}" pclibdir)
if(NOT pclibdir STREQUAL libdir)
  message(FATAL_ERROR "libespota.pc says libdir=${pclibdir}, installed in ${libdir}")
endif()
run(pkg-config --cflags --libs libespota)
string(STRIP "${LAST_OUT}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${CC} ${sanflags} ${SRC}/tests/pkgtest/consumer.c ${flags} -Wl,-rpath,${libdir} -o ${WORK}/consumer-pc)
run(${WORK}/consumer-pc)
message(STATUS "pkg-config consumer: ${LAST_OUT}")

# 2. find_package
run(${CMAKE_COMMAND} -S ${SRC}/tests/pkgtest/cmake-consumer -B ${WORK}/cmake-build
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${CC}
    -DCMAKE_BUILD_RPATH=${libdir} "-DCMAKE_C_FLAGS=${sanflags}")
run(${CMAKE_COMMAND} --build ${WORK}/cmake-build)
run(${WORK}/cmake-build/consumer)
message(STATUS "find_package consumer: ${LAST_OUT}")
