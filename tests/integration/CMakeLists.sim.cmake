# Tests of espota-sim itself. The lead includes this file from
# tests/CMakeLists.txt (or tests/integration/CMakeLists.txt):
#   include(${PROJECT_SOURCE_DIR}/tests/integration/CMakeLists.sim.cmake)
# Expects: target espota-sim; ESPOTA_PYTHON (e.g. /usr/bin/python3).
set(_sim_dir ${PROJECT_SOURCE_DIR}/tests/integration)

add_library(espota_sim_harness STATIC ${_sim_dir}/sim_harness.c)
target_include_directories(espota_sim_harness PUBLIC ${_sim_dir})
target_compile_definitions(espota_sim_harness PRIVATE
  ESPOTA_SIM_PATH="$<TARGET_FILE:espota-sim>")
add_dependencies(espota_sim_harness espota-sim)

add_executable(test_sim ${_sim_dir}/test_sim.c)
target_link_libraries(test_sim PRIVATE espota_sim_harness)
add_test(NAME sim_harness_c COMMAND test_sim)
set_tests_properties(sim_harness_c PROPERTIES TIMEOUT 120
  ENVIRONMENT "ESPOTA_SIM=$<TARGET_FILE:espota-sim>")

if(ESPOTA_PYTHON)
  add_test(NAME sim_protocol
    COMMAND ${ESPOTA_PYTHON} -m pytest -q -p no:cacheprovider ${_sim_dir}/test_sim_protocol.py
    WORKING_DIRECTORY ${_sim_dir})
  set_tests_properties(sim_protocol PROPERTIES TIMEOUT 120
    ENVIRONMENT "ESPOTA_SIM=$<TARGET_FILE:espota-sim>")
endif()

# mDNS discovery end to end (tests/integration/test_discover.py): loopback
# test mode, plus network namespaces the test creates (skipped if it may not).
if(ESPOTA_PYTHON AND TARGET espota-cli AND TARGET espota-discovery)
  add_test(NAME integration.discover
    COMMAND ${ESPOTA_PYTHON} -m pytest -q -p no:cacheprovider -rs ${_sim_dir}/test_discover.py
    WORKING_DIRECTORY ${_sim_dir})
  set_tests_properties(integration.discover PROPERTIES TIMEOUT 120
    ENVIRONMENT "ESPOTA_SIM=$<TARGET_FILE:espota-sim>;ESPOTA_CLI=$<TARGET_FILE:espota-cli>;ESPOTA_DISCOVERY=$<TARGET_FILE:espota-discovery>")
endif()
