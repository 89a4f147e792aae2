# `cmake --install`: the SDK as a product. host/ installs bin/tandem and lib/libtandem.so, and
# tandem_add_module installs each shipped module to lib/tandem/modules; this file adds the SDK
# headers and the CMake package (find_package(tandem) -> tandem::sdk, tandem::compute and
# tandem_add_module) under lib/cmake/tandem, so that modules can be built out of tree.
# Every installed path is relative (RPATHs use $ORIGIN, the package uses PACKAGE_PREFIX_DIR and
# _IMPORT_PREFIX), so the installed tree can be moved.
include(CMakePackageConfigHelpers)

set(TANDEM_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tandem)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/sdk/include/tandem DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# Exported as tandem::sdk and tandem::compute, the names the build tree's aliases already use.
set_target_properties(tandem_sdk PROPERTIES EXPORT_NAME sdk)
set_target_properties(tandem_compute PROPERTIES EXPORT_NAME compute)
install(TARGETS tandem_sdk tandem_compute EXPORT tandemTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT tandemTargets NAMESPACE tandem:: DESTINATION ${TANDEM_CMAKE_INSTALL_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tandemConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/tandemConfig.cmake
  INSTALL_DESTINATION ${TANDEM_CMAKE_INSTALL_DIR}
  PATH_VARS TANDEM_MODULE_INSTALL_DIR CMAKE_INSTALL_BINDIR)
# Before 1.0 the SDK's C++ layer may change between minor releases, so a module is built against
# the same minor; the loader still checks the C ABI (TANDEM_ABI_MAJOR/MINOR) when a module loads.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/tandemConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cmake/tandemConfig.cmake
  ${PROJECT_BINARY_DIR}/cmake/tandemConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/TandemModule.cmake
  ${PROJECT_SOURCE_DIR}/cmake/tandem_module.map
  DESTINATION ${TANDEM_CMAKE_INSTALL_DIR})
