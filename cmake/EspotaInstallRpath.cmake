# RUNPATH for installed binaries, relative to their own location ($ORIGIN),
# so an install into any prefix (cmake --install --prefix P, DESTDIR, a moved
# tree) finds libespota.so with no LD_LIBRARY_PATH and no ldconfig.
#
#   espota_install_rpath(<target> <install-dir>)
#
# <install-dir> is where <target> is installed, relative to the prefix (as
# CMAKE_INSTALL_BINDIR) or absolute. Two relative dirs give a prefix-free
# path; if either is absolute the libdir is also named absolutely as a fallback.
# The build-tree RPATH is left as CMake (or the target's BUILD_RPATH) sets it.
option(ESPOTA_INSTALL_RPATH "Give installed executables and binding modules an \$ORIGIN-relative RUNPATH to libespota" ON)

function(espota_install_rpath target install_dir)
  if(NOT ESPOTA_INSTALL_RPATH)
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "")
    return()
  endif()
  set(_from "${install_dir}")
  if(NOT IS_ABSOLUTE "${_from}")
    set(_from "${CMAKE_INSTALL_PREFIX}/${_from}")
  endif()
  set(_to "${CMAKE_INSTALL_LIBDIR}")
  if(NOT IS_ABSOLUTE "${_to}")
    set(_to "${CMAKE_INSTALL_PREFIX}/${_to}")
  endif()
  file(RELATIVE_PATH _rel "${_from}" "${_to}")
  if(_rel STREQUAL "")
    set(_rpath "\$ORIGIN")
  else()
    string(REGEX REPLACE "/$" "" _rel "${_rel}")
    set(_rpath "\$ORIGIN/${_rel}")
  endif()
  if(IS_ABSOLUTE "${install_dir}" OR IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    list(APPEND _rpath "${CMAKE_INSTALL_FULL_LIBDIR}")
  endif()
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "${_rpath}")
endfunction()
