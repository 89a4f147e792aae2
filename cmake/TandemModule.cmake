# tandem_add_module(<kind> <name> SOURCES <files...> [LINK <targets...>])
#
# Builds one module from its sources twice over, as STYLE.md asks:
#   - tandem-<kind>-<name>-static: a static library with the descriptor under a unique name
#     (tandem_module_descriptor_<name>), for tests that link the module directly;
#   - libtandem-<kind>-<name>.so: the loadable module, exporting only tandem_module_entry,
#     placed in the build's module directory (TANDEM_MODULE_OUTPUT_DIR) and installed to
#     TANDEM_MODULE_INSTALL_DIR.
# A module sees the SDK headers and nothing else of tandem.
function(tandem_add_module kind name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
  set(valid_kinds stage optimizer scheduler comm model)
  if(NOT kind IN_LIST valid_kinds)
    message(FATAL_ERROR "tandem_add_module: kind '${kind}' is not one of ${valid_kinds}")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "tandem_add_module(${kind} ${name}): no SOURCES")
  endif()
  set(stem tandem-${kind}-${name})

  add_library(${stem}-static STATIC ${ARG_SOURCES})
  target_link_libraries(${stem}-static PUBLIC tandem::sdk ${ARG_LINK})
  set_target_properties(${stem}-static PROPERTIES POSITION_INDEPENDENT_CODE ON)

  add_library(${stem} MODULE ${ARG_SOURCES})
  target_link_libraries(${stem} PRIVATE tandem::sdk ${ARG_LINK})
  target_compile_definitions(${stem} PRIVATE TANDEM_MODULE_SHARED)
  set_target_properties(${stem} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    OUTPUT_NAME ${stem}
    LIBRARY_OUTPUT_DIRECTORY ${TANDEM_MODULE_OUTPUT_DIR}
    # lib/tandem/modules/x.so finds libtandem's neighbours (libtbb, ...) in lib/.
    BUILD_RPATH "$ORIGIN;$ORIGIN/../.."
    INSTALL_RPATH "$ORIGIN;$ORIGIN/../..")
  target_link_options(${stem} PRIVATE
    -Wl,--no-undefined
    -Wl,--version-script=${TANDEM_MODULE_VERSION_SCRIPT})
  set_property(TARGET ${stem} APPEND PROPERTY LINK_DEPENDS ${TANDEM_MODULE_VERSION_SCRIPT})
  set_property(GLOBAL APPEND PROPERTY TANDEM_MODULE_TARGETS ${stem})
  if(TANDEM_MODULE_INSTALL_DIR)
    install(TARGETS ${stem} LIBRARY DESTINATION ${TANDEM_MODULE_INSTALL_DIR})
  endif()
endfunction()
