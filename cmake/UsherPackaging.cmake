# Install and package (issue #15): `usher --version`, sd_notify, the man page,
# the install rules and the Debian package. Included by the top-level
# CMakeLists.txt after the usher target exists.
#
#   cmake --install build --prefix DIR   bin/usher, the man page, docs, examples,
#                                        bash completion (component "usher")
#   cd build && cpack -G DEB             the same under /usr, plus the systemd
#                                        unit, /etc/usher/usher.ini (a conffile)
#                                        and the usher system user (component
#                                        "service", in the package only)
include(GNUInstallDirs)

# -- usher --version: the project version and the commit built ---------------
# Regenerated on every build (cheap: one git call); rewritten only when the
# commit changes, and included by tools/usher.cpp alone, so nothing else
# recompiles.
find_package(Git QUIET)
set(USHER_GENERATED_DIR "${CMAKE_CURRENT_BINARY_DIR}/generated")
set(usher_version_args
    -DSOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR} -DVERSION=${PROJECT_VERSION}
    -DGIT=${GIT_EXECUTABLE} -DOUT=${USHER_GENERATED_DIR}/usher_version.hpp
    -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/UsherVersion.cmake)
execute_process(COMMAND ${CMAKE_COMMAND} ${usher_version_args})
add_custom_target(usher_version
  COMMAND ${CMAKE_COMMAND} ${usher_version_args}
  BYPRODUCTS ${USHER_GENERATED_DIR}/usher_version.hpp
  VERBATIM)
add_dependencies(usher usher_version)
target_include_directories(usher PRIVATE ${USHER_GENERATED_DIR})
# usher_build_info in /metrics: one small file of the library reads the header,
# so a new commit recompiles it alone.
target_sources(usher_tools PRIVATE tools/build_info.cpp)
set_property(SOURCE tools/build_info.cpp APPEND PROPERTY INCLUDE_DIRECTORIES ${USHER_GENERATED_DIR})
add_dependencies(usher_tools usher_version)

# -- sd_notify (libsystemd, optional) ------------------------------------------
find_library(USHER_SYSTEMD_LIBRARY systemd)
find_path(USHER_SYSTEMD_INCLUDE_DIR systemd/sd-daemon.h)
if(USHER_SYSTEMD_LIBRARY AND USHER_SYSTEMD_INCLUDE_DIR)
  set_source_files_properties(tools/systemd_notify.cpp PROPERTIES COMPILE_DEFINITIONS USHER_HAVE_SYSTEMD)
  target_include_directories(usher_tools PRIVATE ${USHER_SYSTEMD_INCLUDE_DIR})
  target_link_libraries(usher_tools PRIVATE ${USHER_SYSTEMD_LIBRARY})
  set(USHER_HAVE_SYSTEMD ON)
  set(USHER_SERVICE_TYPE notify)
else()
  message(STATUS "libsystemd not found (Debian: libsystemd-dev): usher serve will not sd_notify, "
                 "and usher.service uses Type=simple")
  set(USHER_HAVE_SYSTEMD OFF)
  set(USHER_SERVICE_TYPE simple)
endif()

# -- the man page, from the help texts (help2man, optional) -------------------
find_program(USHER_HELP2MAN help2man)
find_program(USHER_GZIP gzip)
if(USHER_HELP2MAN)
  set(usher_man "${CMAKE_CURRENT_BINARY_DIR}/usher.1")
  set(usher_man_installed "${usher_man}")
  if(USHER_GZIP)
    set(usher_man_installed "${usher_man}.gz")  # Debian's man pages are gzipped
  endif()
  add_custom_command(
    OUTPUT ${usher_man} ${usher_man_installed}
    COMMAND ${CMAKE_COMMAND} -DUSHER=$<TARGET_FILE:usher> -DHELP2MAN=${USHER_HELP2MAN}
            -DGZIP=${USHER_GZIP} -DOUT=${usher_man}
            -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/UsherManPage.cmake
    DEPENDS usher ${CMAKE_CURRENT_SOURCE_DIR}/cmake/UsherManPage.cmake
    COMMENT "Generating usher.1 from the help texts (help2man)"
    VERBATIM)
  add_custom_target(usher_man ALL DEPENDS ${usher_man_installed})
  install(FILES ${usher_man_installed} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT usher)
  get_filename_component(usher_man_name ${usher_man_installed} NAME)
  set(USHER_INSTALLED_MAN_PAGE ${CMAKE_INSTALL_MANDIR}/man1/${usher_man_name})
else()
  message(STATUS "help2man not found (Debian: help2man): no man page is built or installed")
  set(USHER_INSTALLED_MAN_PAGE "")
endif()

# -- cmake --install ------------------------------------------------------------
install(TARGETS usher RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT usher)
install(FILES README.md LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT usher)
# docs/ keeps its name, so README's links (docs/SERVE.md) resolve where installed.
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs COMPONENT usher
        FILES_MATCHING PATTERN "*.md" PATTERN "*.png" PATTERN "*.svg")
install(FILES samples/serve.ini samples/gateway.ini DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT usher)
install(DIRECTORY samples/plans DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT usher)
# Gate libraries (docs/GATES.md) build against the policies' headers and the
# example's sources: -DUSHER_SOURCE_DIR=<prefix>/include/usher.
install(DIRECTORY policies/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/usher/policies COMPONENT usher
        FILES_MATCHING PATTERN "*.hpp")
install(DIRECTORY examples/peak_hours_gate DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT usher)
install(FILES packaging/usher.bash-completion DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME usher COMPONENT usher)

# -- the service: in the Debian package only ---------------------------------------
# Absolute paths, so this component is EXCLUDE_FROM_ALL: a plain
# `cmake --install` never writes to /etc. CPack installs it (CPACK_COMPONENTS_ALL),
# as does `cmake --install build --component service` on a machine without the
# package, where the unit's ExecStart must then be edited if the prefix is not /usr.
configure_file(packaging/usher.service.in ${CMAKE_CURRENT_BINARY_DIR}/usher.service @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/usher.service DESTINATION /lib/systemd/system
        COMPONENT service EXCLUDE_FROM_ALL)
install(FILES samples/serve.ini DESTINATION /etc/usher RENAME usher.ini
        COMPONENT service EXCLUDE_FROM_ALL)

# -- cpack -G DEB -----------------------------------------------------------------
set(USHER_PACKAGE_MAINTAINER "usher maintainers <maintainers@users.noreply.h-seed-d0787e1d.example>"
    CACHE STRING "The Maintainer field of the Debian package")
set(CPACK_PACKAGE_NAME usher)
set(CPACK_PACKAGE_VENDOR "usher")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "concurrency plans of AI inference APIs, simulated and enforced")
# Lines under 80 columns: CPack indents them into the control file as they are.
set(CPACK_PACKAGE_DESCRIPTION
    "usher is an engine for the concurrency plans that AI inference APIs sell:
how many requests of an account may run at once, what waits in a queue and
for how long, and what is turned away (408, 429, WebSocket close 1008).
`usher simulate` replays a request trace through any plan under a
deterministic clock; `usher serve` enforces the same plans on live traffic
as an HTTP and WebSocket admission service (systemd unit usher.service,
config /etc/usher/usher.ini).")
set(CPACK_RESOURCE_FILE_LICENSE "${CMAKE_CURRENT_SOURCE_DIR}/LICENSE")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# One package holding both components (the program and the service).
set(CPACK_COMPONENTS_ALL usher service)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # usher_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${USHER_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Shared libraries (CAF, Boost, OpenSSL, zlib, libsystemd, libstdc++) by
# dpkg-shlibdeps (Debian: dpkg-dev); adduser for the postinst's system user.
find_program(USHER_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(USHER_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
else()
  # What dpkg-shlibdeps finds on Debian 12 (bookworm).
  message(STATUS "dpkg-shlibdeps not found (Debian: dpkg-dev): cpack -G DEB lists "
                 "Debian 12's library packages as dependencies")
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "adduser, libboost-program-options1.74.0, libc6 (>= 2.34), libcaf-core0.17, libgcc-s1, libssl3, libstdc++6 (>= 12), zlib1g")
  if(USHER_HAVE_SYSTEMD)
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libsystemd0")
  endif()
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "gnuplot-nox")  # usher plot, --plots
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/debian/conffiles
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/debian/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/debian/prerm
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
