# ctest `install_find_package`: cmake --install into a scratch prefix, then build and run a consumer
# that uses find_package(pitfall). Run with cmake -P and
#   -DBUILD_DIR= -DSOURCE_DIR= -DWORK_DIR= [-DGENERATOR= -DCXX_COMPILER= -DSANITIZE=address,undefined]
cmake_minimum_required(VERSION 3.20)
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "install_test.cmake: -D${var}= is required")
  endif()
endforeach()

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: ${what} failed (${rc}):\n${out}")
  endif()
  message(STATUS "install test: ${what}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
# DESTDIR would move files away from the prefix that the consumer is pointed at.
unset(ENV{DESTDIR})
run_step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# The installed headers are the public contract: the umbrella header exists and nothing installed
# includes Eigen or an internal header (the consumer build below also proves it compiles without
# Eigen on the include path).
if(NOT EXISTS ${prefix}/include/pitfall/pitfall.h)
  message(FATAL_ERROR "install test: ${prefix}/include/pitfall/pitfall.h was not installed")
endif()
file(GLOB_RECURSE headers ${prefix}/include/pitfall/*.h)
foreach(header IN LISTS headers)
  file(STRINGS ${header} bad REGEX "#include [<\"](Eigen|unsupported/Eigen|pitfall/core/(cpu|ops)/)")
  if(bad)
    message(FATAL_ERROR "install test: public header ${header} includes a private header: ${bad}")
  endif()
endforeach()

# The CUDA device module, when this build has one, sits beside the installed libpitfall (where
# libpitfall looks for it); libpitfall itself links no CUDA library.
if(EXISTS ${BUILD_DIR}/lib/libpitfall_cuda.so)
  file(GLOB installed_module ${prefix}/lib*/libpitfall_cuda.so)
  file(GLOB installed_library ${prefix}/lib*/libpitfall.so)
  if(NOT installed_module OR NOT installed_library)
    message(FATAL_ERROR "install test: libpitfall_cuda.so was built but not installed beside libpitfall.so")
  endif()
  get_filename_component(module_dir "${installed_module}" DIRECTORY)
  get_filename_component(library_dir "${installed_library}" DIRECTORY)
  if(NOT module_dir STREQUAL library_dir)
    message(FATAL_ERROR "install test: libpitfall_cuda.so went to ${module_dir}, libpitfall.so to ${library_dir}")
  endif()
endif()
find_program(readelf NAMES readelf)
if(readelf)
  file(GLOB installed_library ${prefix}/lib*/libpitfall.so)
  execute_process(COMMAND ${readelf} -d ${installed_library} OUTPUT_VARIABLE dynamic)
  if(dynamic MATCHES "libcud|libcublas")
    message(FATAL_ERROR "install test: the installed libpitfall links a CUDA library:\n${dynamic}")
  endif()
endif()

set(configure_args -S ${SOURCE_DIR}/tests/install -B ${WORK_DIR}/build
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
if(GENERATOR)
  list(APPEND configure_args -G ${GENERATOR})
endif()
if(CXX_COMPILER)
  list(APPEND configure_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(SANITIZE)
  # A sanitized libpitfall needs the sanitizer runtime linked into the executable.
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE}"
       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()
run_step("configure consumer" ${CMAKE_COMMAND} ${configure_args})
run_step("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run_step("run consumer" ${WORK_DIR}/build/train_linear)
message(STATUS "${step_output}")

# With the Python package built, the installed `pitfall` command must find the installed catalog.
if(EXISTS ${prefix}/bin/pitfall)
  run_step("installed pitfall list" ${prefix}/bin/pitfall list)
  if(NOT step_output MATCHES "P07 +Softmax output")
    message(FATAL_ERROR "install test: the installed `pitfall list` does not list the catalog:\n${step_output}")
  endif()
endif()
