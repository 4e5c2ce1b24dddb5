# CLI tests: the built espota binary against espota-sim (tests/cli).
if(TARGET espota-cli AND TARGET espota-sim)
  add_test(NAME cli.espota
    COMMAND ${ESPOTA_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(cli.espota PROPERTIES TIMEOUT 300
    ENVIRONMENT "ESPOTA_CLI=$<TARGET_FILE:espota-cli>;ESPOTA_SIM=$<TARGET_FILE:espota-sim>")
endif()

# Hostile fake devices and UDP peers against the CLI (tests/hostile).
if(TARGET espota-cli)
  add_test(NAME hostile.cli
    COMMAND ${ESPOTA_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/hostile)
  set_tests_properties(hostile.cli PROPERTIES TIMEOUT 300
    ENVIRONMENT "ESPOTA_CLI=$<TARGET_FILE:espota-cli>")
endif()

# bash completion (tools/completion/espota.bash) against the built tools.
if(TARGET espota-cli AND TARGET espota-sim)
  add_test(NAME completion.bash
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/completion/run.sh ${PROJECT_SOURCE_DIR}/tools/completion/espota.bash
      $<TARGET_FILE:espota-cli> $<TARGET_FILE:espota-sim> ${CMAKE_CURRENT_BINARY_DIR}/completion)
  set_tests_properties(completion.bash PROPERTIES TIMEOUT 60)
endif()

# PlatformIO and Arduino recipes (integrations/) expanded as the tools do and
# run against espota-sim (tests/integrations).
if(TARGET espota-cli AND TARGET espota-sim)
  add_test(NAME integrations.recipes
    COMMAND ${ESPOTA_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/integrations)
  set_tests_properties(integrations.recipes PROPERTIES TIMEOUT 300
    ENVIRONMENT "ESPOTA_CLI=$<TARGET_FILE:espota-cli>;ESPOTA_SIM=$<TARGET_FILE:espota-sim>")
endif()

# The man pages name every option of espota, its subcommands and espota-sim.
if(TARGET espota-cli AND TARGET espota-sim)
  add_test(NAME man_pages_complete
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/man/check.sh ${PROJECT_SOURCE_DIR}
      $<TARGET_FILE:espota-cli> $<TARGET_FILE:espota-sim>)
  set_tests_properties(man_pages_complete PROPERTIES TIMEOUT 60)
endif()

# The board-table generator on a synthetic upstream tree (tests/gen-boards).
add_test(NAME gen_boards
  COMMAND ${ESPOTA_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/gen-boards)
set_tests_properties(gen_boards PROPERTIES TIMEOUT 120)
