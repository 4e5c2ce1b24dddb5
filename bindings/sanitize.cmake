# In a sanitizer build the interpreters (python3, lua5.4) are not
# instrumented, so the sanitizer runtimes that libespota.so depends on must be
# loaded first. Interpreters leak by design at exit: leak checking is off for
# them (the C tests check leaks in the library).
if(ESPOTA_SANITIZE)
  set(_espota_preload "")
  foreach(_rt asan ubsan)
    if(ESPOTA_SANITIZE MATCHES "address" AND _rt STREQUAL "asan" OR
       ESPOTA_SANITIZE MATCHES "undefined" AND _rt STREQUAL "ubsan")
      execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=lib${_rt}.so
        OUTPUT_VARIABLE _path OUTPUT_STRIP_TRAILING_WHITESPACE)
      if(EXISTS "${_path}")
        list(APPEND _espota_preload "${_path}")
      endif()
    endif()
  endforeach()
  string(REPLACE ";" ":" _espota_preload "${_espota_preload}")
  foreach(_t bindings_python bindings_python_example bindings_lua bindings_lua_example
             bindings_python_fleet bindings_lua_fleet)
    if(TEST ${_t})
      set_property(TEST ${_t} APPEND PROPERTY ENVIRONMENT
        "LD_PRELOAD=${_espota_preload}" "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")
    endif()
  endforeach()
endif()
