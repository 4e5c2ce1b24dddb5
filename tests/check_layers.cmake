cmake_policy(SET CMP0057 NEW)
# Layering rules (docs/api.md, "Layers"), checked on the sources. The folders
# of libespota/src are the layers, in this order:
#   util/ (0)  <-  analysis/ (1)  <-  proto/ (2)  <-  posix/ (3)
# and libespota/data/ (the tables the simulator reads too) sits with util.
#  1. every source lives in a layer folder, and every local include names its
#     layer ("proto/engine.h", never a bare "engine.h"), so the rules below
#     cannot be dodged by the include path;
#  2. a file includes only its own layer or the ones before it: no upward
#     include, hence no include cycle between layers;
#  3. util, analysis and proto (sans-I/O) reach no socket, poll or descriptor
#     header, directly or through a local header;
#  4. util, analysis and proto call nothing of the driver;
#  5. only posix/multi.c calls poll(): one driver loop for every transfer,
#     uploads and mDNS browses/resolves alike (posix/mdns_sock.c is driven
#     by it, docs/discovery.md);
#  6. no call cycle between image.c and partitions.c (partitions.c uses
#     nothing of image.c).
# Run: cmake -DSRC=<libespota/src> -P check_layers.cmake
set(layers util analysis proto posix)
set(rank_data 0)
set(rank_util 0)
set(rank_analysis 1)
set(rank_proto 2)
set(rank_posix 3)
set(pure_layers util analysis proto)
set(io_headers sys/socket.h netinet/in.h netinet/tcp.h arpa/inet.h netdb.h poll.h sys/select.h
  sys/epoll.h unistd.h fcntl.h ifaddrs.h net/if.h linux/tcp.h linux/errqueue.h)
get_filename_component(LIBROOT ${SRC} DIRECTORY)

function(local_includes file out)
  file(STRINGS ${file} lines REGEX "^#include")
  set(result "")
  foreach(l ${lines})
    if(l MATCHES "^#include \"([^\"]+)\"")
      list(APPEND result "q:${CMAKE_MATCH_1}")
    elseif(l MATCHES "^#include <([^>]+)>")
      list(APPEND result "s:${CMAKE_MATCH_1}")
    endif()
  endforeach()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

function(strip_comments file out)
  file(READ ${file} text)
  string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" code "${text}")
  set(${out} "${code}" PARENT_SCOPE)
endfunction()

set(failures 0)
macro(fail msg)
  message(SEND_ERROR "${msg}")
  math(EXPR failures "${failures}+1")
endmacro()

# 1: nothing outside a layer folder
file(GLOB loose ${SRC}/*.c ${SRC}/*.h ${SRC}/*.def)
foreach(f ${loose})
  file(RELATIVE_PATH r ${SRC} ${f})
  fail("libespota/src/${r} is in no layer: move it into util/, analysis/, proto/ or posix/")
endforeach()

set(all_files "")
set(pure_sources "")
foreach(layer ${layers})
  file(GLOB files ${SRC}/${layer}/*.c ${SRC}/${layer}/*.h)
  list(APPEND all_files ${files})
  if(layer IN_LIST pure_layers)
    file(GLOB cs ${SRC}/${layer}/*.c)
    list(APPEND pure_sources ${cs})
  endif()
endforeach()

# 1 and 2: named, and never upward
foreach(f ${all_files})
  file(RELATIVE_PATH r ${SRC} ${f})
  string(REGEX MATCH "^[a-z]+" layer "${r}")
  local_includes(${f} incs)
  foreach(i ${incs})
    if(NOT i MATCHES "^q:(.*)")
      continue()
    endif()
    set(inc ${CMAKE_MATCH_1})
    if(inc MATCHES "^espota/")
      continue() # the public headers
    endif()
    set(to "")
    if(inc MATCHES "^([a-z]+)/[^/]+$")
      set(to ${CMAKE_MATCH_1})
    endif()
    if(to STREQUAL "" OR NOT DEFINED rank_${to})
      fail("${r} includes \"${inc}\": name the layer (\"proto/engine.h\")")
      continue()
    endif()
    if(NOT EXISTS ${SRC}/${inc} AND NOT EXISTS ${LIBROOT}/${inc})
      fail("${r} includes \"${inc}\", which does not exist")
    elseif(rank_${to} GREATER rank_${layer})
      fail("${r} includes \"${inc}\": ${layer}/ comes before ${to}/ and must not reach up")
    endif()
  endforeach()
endforeach()

# 3 and 4: the sans-I/O layers
foreach(unit ${pure_sources})
  file(RELATIVE_PATH ru ${SRC} ${unit})
  set(todo ${unit})
  set(seen "")
  while(todo)
    list(POP_FRONT todo f)
    if(f IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${f})
    local_includes(${f} incs)
    foreach(i ${incs})
      string(SUBSTRING "${i}" 2 -1 inc)
      if(inc IN_LIST io_headers OR inc MATCHES "^posix/")
        fail("${ru} reaches <${inc}> (through ${f}): the sans-I/O layers include no I/O header")
      elseif(i MATCHES "^q:" AND EXISTS ${SRC}/${inc})
        list(APPEND todo ${SRC}/${inc})
      endif()
    endforeach()
  endwhile()
  strip_comments(${unit} code)
  if(code MATCHES "espota(_session_[a-z_]+|_multi_[a-z_]+|_transfer_[a-z_]+|_upload|_upload_file|_fleet_upload|__conn_[a-z_]+|__multi_[a-z_]+|__begin)[ \t]*\\(")
    fail("${ru} calls the driver (${CMAKE_MATCH_0}...)")
  endif()
endforeach()

# 5: one poll() loop
foreach(f ${all_files})
  file(RELATIVE_PATH r ${SRC} ${f})
  strip_comments(${f} code)
  if(NOT r STREQUAL "posix/multi.c" AND code MATCHES "[^a-z_.>]poll[ \t]*\\(")
    fail("${r} calls poll(): posix/multi.c is the one driver loop")
  endif()
endforeach()

# 6: image.c calls partitions.c, not the reverse
strip_comments(${SRC}/analysis/partitions.c code)
if(code MATCHES "espota__?image_")
  fail("analysis/partitions.c uses image.c (${CMAKE_MATCH_0}): image.c calls partitions.c, not the reverse")
endif()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} layering rule(s) broken")
endif()
list(LENGTH all_files nall)
list(LENGTH pure_sources npure)
message(STATUS "layering: ${nall} files in 4 layers, no upward include, ${npure} sans-I/O sources clean, one poll() loop, no image/partitions cycle")
