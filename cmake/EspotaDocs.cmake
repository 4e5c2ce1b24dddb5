# Man pages (docs/man/*.scd -> espota(1), espota-sim(1), espota-discovery(1), libespota(3), built
# with scdoc) and the bash completion, installed under share/.
#   ESPOTA_MAN=AUTO|ON|OFF  AUTO builds the pages when scdoc is found.
set(ESPOTA_MAN "AUTO" CACHE STRING "Build and install the man pages with scdoc: AUTO, ON or OFF")
set(ESPOTA_BASH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" CACHE STRING
    "Where the bash completion is installed (relative to the prefix, or absolute)")

set(ESPOTA_MAN_PAGES "")
if(NOT ESPOTA_MAN STREQUAL "OFF")
  find_program(ESPOTA_SCDOC scdoc)
  if(NOT ESPOTA_SCDOC AND ESPOTA_MAN STREQUAL "ON")
    message(FATAL_ERROR "ESPOTA_MAN=ON but scdoc was not found (apt-get install scdoc)")
  endif()
  if(ESPOTA_SCDOC)
    foreach(page espota.1 espota-sim.1 espota-discovery.1 libespota.3)
      set(_src ${PROJECT_SOURCE_DIR}/docs/man/${page}.scd)
      set(_out ${PROJECT_BINARY_DIR}/man/${page})
      add_custom_command(OUTPUT ${_out}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
        COMMAND ${ESPOTA_SCDOC} < ${_src} > ${_out}
        DEPENDS ${_src} VERBATIM)
      string(REGEX REPLACE ".*\\." "" _sect ${page})
      install(FILES ${_out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${_sect})
      list(APPEND ESPOTA_MAN_PAGES ${_out})
    endforeach()
    add_custom_target(espota-man ALL DEPENDS ${ESPOTA_MAN_PAGES})
    message(STATUS "espota man pages: scdoc (${ESPOTA_SCDOC}) -> ${CMAKE_INSTALL_MANDIR}")
  else()
    message(STATUS "espota man pages: scdoc not found, not built")
  endif()
endif()

if(ESPOTA_BUILD_TOOLS)
  foreach(cmd espota espota-sim)
    install(FILES ${PROJECT_SOURCE_DIR}/tools/completion/espota.bash
      DESTINATION ${ESPOTA_BASH_COMPLETION_DIR} RENAME ${cmd})
  endforeach()
endif()
