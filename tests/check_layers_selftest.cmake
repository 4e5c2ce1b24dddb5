# The layering check must fail, with the right message, on each kind of break it claims to catch:
# copy the sources, break one rule at a time, and expect check_layers.cmake
# to refuse. Run: cmake -DLIB=<libespota> -DCHECK=<check_layers.cmake> -DWORK=<dir> -P ...
set(cases
  "bare|proto/hint.c|#include \"engine.h\"|name the layer"
  "upward|analysis/image.c|#include \"proto/engine.h\"|must not reach up"
  "socket|proto/acks.c|#include <sys/socket.h>|include no I/O header"
  "through|util/util.h|#include \"posix/conn.h\"|include no I/O header"
  "poll|proto/engine.c|#define ESPOTA__X poll(0, 0, 0)|calls poll"
  "driver|analysis/flashfit.c|#define ESPOTA__Y espota_multi_perform(0, 0)|calls the driver"
  "cycle|analysis/partitions.c|#define ESPOTA__Z espota__image_parse(0, 0, 0)|uses image.c"
  "loose|stray.c|int espota__stray|is in no layer")
# (no semicolons above: they would split the CMake list)
set(bad 0)
foreach(c ${cases})
  string(REPLACE "|" ";" parts "${c}")
  list(GET parts 0 name)
  list(GET parts 1 file)
  list(GET parts 2 line)
  list(GET parts 3 expect)
  set(dir ${WORK}/${name})
  file(REMOVE_RECURSE ${dir})
  file(COPY ${LIB}/src ${LIB}/data DESTINATION ${dir})
  if(EXISTS ${dir}/src/${file})
    file(READ ${dir}/src/${file} text)
  else()
    set(text "")
  endif()
  file(WRITE ${dir}/src/${file} "${line}\n${text}")
  execute_process(COMMAND ${CMAKE_COMMAND} -DSRC=${dir}/src -P ${CHECK}
    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  string(REGEX REPLACE "[ \n]+" " " err "${err}")
  if(rc EQUAL 0)
    message(SEND_ERROR "layering check passed a '${name}' break (${file}: ${line})")
    math(EXPR bad "${bad}+1")
  elseif(NOT err MATCHES "${expect}")
    message(SEND_ERROR "layering check refused a '${name}' break, but not with '${expect}':\n${err}")
    math(EXPR bad "${bad}+1")
  else()
    message(STATUS "caught '${name}'")
  endif()
  file(REMOVE_RECURSE ${dir})
endforeach()
# and the unbroken copy passes
file(REMOVE_RECURSE ${WORK}/clean)
file(COPY ${LIB}/src ${LIB}/data DESTINATION ${WORK}/clean)
execute_process(COMMAND ${CMAKE_COMMAND} -DSRC=${WORK}/clean/src -P ${CHECK} RESULT_VARIABLE rc
  OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(SEND_ERROR "layering check refused the unbroken copy:\n${err}")
  math(EXPR bad "${bad}+1")
endif()
file(REMOVE_RECURSE ${WORK})
if(bad GREATER 0)
  message(FATAL_ERROR "${bad} layering self-test case(s) failed")
endif()
