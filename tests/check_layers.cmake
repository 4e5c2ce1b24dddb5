cmake_policy(SET CMP0057 NEW)
# Layering rules (docs/api.md, "Layers"), checked on the sources:
#  1. the sans-I/O protocol and the pure analysis include no socket, poll or
#     descriptor header, directly or through a local header;
#  2. only multi.c calls poll(): one driver loop for transfers; the mDNS
#     querier's socket driver (mdns_sock.c) waits on its own short-lived
#     sockets and shares nothing with transfers (docs/discovery.md);
#  3. no call cycle between image.c and partitions.c (partitions.c uses
#     nothing of image.c), and the analysis calls nothing of the driver.
# Run: cmake -DSRC=<libespota/src> -P check_layers.cmake
set(pure engine acks auth device_errors image partitions flashfit layouts boards hint util errors fleet_policy mdns)
set(driver_headers conn.h session_internal.h multi_internal.h tcpinfo.h fileio.h)
set(io_headers sys/socket.h netinet/in.h netinet/tcp.h arpa/inet.h netdb.h poll.h sys/select.h
  sys/epoll.h unistd.h fcntl.h)

function(local_includes file out)
  file(STRINGS ${file} lines REGEX "^#include")
  set(result "")
  foreach(l ${lines})
    if(l MATCHES "^#include [\"<]([^\">]+)[\">]")
      list(APPEND result ${CMAKE_MATCH_1})
    endif()
  endforeach()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

set(failures 0)
foreach(unit ${pure})
  set(todo ${SRC}/${unit}.c)
  set(seen "")
  while(todo)
    list(POP_FRONT todo f)
    if(f IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${f})
    local_includes(${f} incs)
    foreach(inc ${incs})
      get_filename_component(name ${inc} NAME)
      if(inc IN_LIST io_headers OR name IN_LIST driver_headers)
        message(SEND_ERROR "${unit}.c reaches <${inc}> (through ${f}): the sans-I/O layers include no I/O header")
        math(EXPR failures "${failures}+1")
      elseif(EXISTS ${SRC}/${inc})
        list(APPEND todo ${SRC}/${inc})
      endif()
    endforeach()
  endwhile()
  # 3: the analysis and the protocol call nothing of the driver
  file(READ ${SRC}/${unit}.c text)
  string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" code "${text}")
  if(code MATCHES "espota(_session_[a-z_]+|_multi_[a-z_]+|_transfer_[a-z_]+|_upload|_upload_file|_fleet_upload|__conn_[a-z_]+|__multi_[a-z_]+|__begin)[ \t]*\\(")
    message(SEND_ERROR "${unit}.c calls the driver (${CMAKE_MATCH_0}...)")
    math(EXPR failures "${failures}+1")
  endif()
endforeach()

file(READ ${SRC}/partitions.c text)
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" code "${text}")
if(code MATCHES "espota__?image_")
  message(SEND_ERROR "partitions.c uses image.c (${CMAKE_MATCH_0}): image.c calls partitions.c, not the reverse")
  math(EXPR failures "${failures}+1")
endif()

file(GLOB sources ${SRC}/*.c)
foreach(f ${sources})
  get_filename_component(name ${f} NAME)
  file(READ ${f} text)
  string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" code "${text}")
  if(NOT name STREQUAL "multi.c" AND NOT name STREQUAL "mdns_sock.c" AND code MATCHES "[^a-z_.>]poll[ \t]*\\(")
    message(SEND_ERROR "${name} calls poll(): multi.c is the one driver loop")
    math(EXPR failures "${failures}+1")
  endif()
endforeach()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} layering rule(s) broken")
endif()
list(LENGTH pure n)
message(STATUS "layering: ${n} sans-I/O files clean, one poll() loop, no image/partitions cycle")
