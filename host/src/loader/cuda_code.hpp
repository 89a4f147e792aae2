// Whether a module file carries CUDA code: device code of its own (a .nv_fatbin section, which the
// CUDA runtime registers when the file is loaded) or a CUDA library it links (cudart, cuBLAS, NCCL).
#pragma once

#include <filesystem>

namespace tandem::loader {

// Reads the section headers with plain reads. False for anything it cannot read (the file has
// already passed check_elf_file and loaded by then).
bool carries_cuda_code(const std::filesystem::path& file);

}  // namespace tandem::loader
