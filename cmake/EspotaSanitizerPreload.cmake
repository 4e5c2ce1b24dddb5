# espota_sanitizer_preload(<var>): the shared sanitizer runtimes that
# libespota.so needs under ESPOTA_SANITIZE, as an LD_PRELOAD value (empty
# when the compiler links them statically, as clang does). Uninstrumented
# interpreters (python3, lua5.4) must load them first.
function(espota_sanitizer_preload out)
  set(_libs "")
  foreach(_rt asan ubsan)
    if(ESPOTA_SANITIZE MATCHES "address" AND _rt STREQUAL "asan" OR
       ESPOTA_SANITIZE MATCHES "undefined" AND _rt STREQUAL "ubsan")
      execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=lib${_rt}.so
        OUTPUT_VARIABLE _path OUTPUT_STRIP_TRAILING_WHITESPACE)
      if(EXISTS "${_path}")
        list(APPEND _libs "${_path}")
      endif()
    endif()
  endforeach()
  string(REPLACE ";" ":" _libs "${_libs}")
  set(${out} "${_libs}" PARENT_SCOPE)
endfunction()
