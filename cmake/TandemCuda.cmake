# CUDA detection (issue: GPUs). TANDEM_CUDA=AUTO builds the CUDA parts (tandem::cuda and the tests
# labelled `gpu`) where CMake finds nvcc and skips them silently elsewhere (CI: no CUDA at all);
# ON makes a missing nvcc an error; OFF never looks. Sets TANDEM_HAVE_CUDA for the rest of the tree.
#
# CMake 3.25 knows nvcc's dialects only up to C++17 and would otherwise take CUDA_STANDARD from the
# project's CXX_STANDARD 20 and fail at generate time: the .cu files are C++17 on purpose, and the
# headers they share with C++ code (sdk/include/tandem/cuda) stay C++17-clean.
set(TANDEM_CUDA AUTO CACHE STRING "Build the CUDA backend: AUTO (where nvcc is found), ON or OFF")
set_property(CACHE TANDEM_CUDA PROPERTY STRINGS AUTO ON OFF)

set(TANDEM_HAVE_CUDA OFF)
if(NOT TANDEM_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90a)  # Hopper (H100/H200) with its sm_90a-only instructions
    endif()
    set(CMAKE_CUDA_STANDARD 17)
    # One CUDA runtime for the process (libcudart.so.13), shared by libtandem and every module that
    # computes on the GPU: streams, events and pool allocations pass between them.
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(TANDEM_HAVE_CUDA ON)
    # NCCL for the comm module (CMake 3.25 has no target for it). NAMES_PER_DIR keeps library and
    # header from one installation: NCCL_HOME (a wheel's .../nvidia/nccl) first, then the toolkit's.
    find_path(TANDEM_NCCL_INCLUDE_DIR nccl.h HINTS $ENV{NCCL_HOME}/include ${CUDAToolkit_INCLUDE_DIRS})
    find_library(TANDEM_NCCL_LIBRARY NAMES nccl libnccl.so.2 NAMES_PER_DIR
                 HINTS $ENV{NCCL_HOME}/lib ${CUDAToolkit_LIBRARY_DIR})
    if(TANDEM_NCCL_INCLUDE_DIR AND TANDEM_NCCL_LIBRARY AND NOT TARGET NCCL::nccl)
      add_library(NCCL::nccl UNKNOWN IMPORTED)
      set_target_properties(NCCL::nccl PROPERTIES IMPORTED_LOCATION "${TANDEM_NCCL_LIBRARY}"
                            INTERFACE_INCLUDE_DIRECTORIES "${TANDEM_NCCL_INCLUDE_DIR}")
    endif()
    message(STATUS "tandem: nvcc ${CMAKE_CUDA_COMPILER_VERSION} at ${CMAKE_CUDA_COMPILER}; CUDA parts enabled "
                   "for architectures ${CMAKE_CUDA_ARCHITECTURES}; NCCL: ${TANDEM_NCCL_LIBRARY}")
  elseif(TANDEM_CUDA STREQUAL "ON")
    message(FATAL_ERROR "tandem: TANDEM_CUDA=ON but no CUDA compiler was found (put nvcc on PATH or set "
                        "CMAKE_CUDA_COMPILER)")
  else()
    message(STATUS "tandem: no nvcc; building the CPU parts only")
  endif()
else()
  message(STATUS "tandem: TANDEM_CUDA=OFF; building the CPU parts only")
endif()

# Where the GPU machine's PyTorch wheels keep libcublasLt.so.13 and libnccl.so.2: binaries carried
# there (tools/device/gpu-test.sh) find them through this RUNPATH; here ld.so.cache finds ours.
set(TANDEM_CUDA_WHEEL_RPATH
  "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib;/opt/torch/.venv/lib/python3.12/site-packages/nvidia/nccl/lib"
  CACHE STRING "Extra RUNPATH entries of CUDA binaries, for the GPU machine's wheel-installed libraries")
