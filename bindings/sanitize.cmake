include(${PROJECT_SOURCE_DIR}/cmake/EspotaSanitizerPreload.cmake)
# In a sanitizer build the interpreters (python3, lua5.4) are not
# instrumented, so the sanitizer runtimes that libespota.so depends on must be
# loaded first. Interpreters leak by design at exit: leak checking is off for
# them (the C tests check leaks in the library).
if(ESPOTA_SANITIZE)
  espota_sanitizer_preload(_espota_preload)
  foreach(_t bindings_python bindings_python_example bindings_lua bindings_lua_example bindings_lua_multi
             bindings_python_fleet bindings_lua_fleet)
    if(TEST ${_t})
      set_property(TEST ${_t} APPEND PROPERTY ENVIRONMENT
        "LD_PRELOAD=${_espota_preload}" "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")
    endif()
  endforeach()
endif()
