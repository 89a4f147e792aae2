// carries_cuda_code(): the section names, and the names of the libraries in .dynstr.
#include "loader/cuda_code.hpp"

#include <elf.h>
#include <link.h>

#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::loader {

namespace {

// `count` bytes at `offset`, or empty if they are not all in the file.
std::string read_at(std::ifstream& in, unsigned long long size, unsigned long long offset, unsigned long long count) {
  if (offset > size || count > size - offset) return {};
  std::string bytes(count, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in.read(bytes.data(), static_cast<std::streamsize>(count))) return {};
  return bytes;
}

}  // namespace

bool carries_cuda_code(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  const auto size = static_cast<unsigned long long>(in.tellg());
  const std::string head = read_at(in, size, 0, sizeof(ElfW(Ehdr)));
  if (head.empty()) return false;
  ElfW(Ehdr) header{};
  head.copy(reinterpret_cast<char*>(&header), sizeof header);
  if (header.e_shentsize != sizeof(ElfW(Shdr)) || header.e_shnum == 0 || header.e_shstrndx >= header.e_shnum)
    return false;
  const std::string table = read_at(in, size, header.e_shoff, header.e_shnum * sizeof(ElfW(Shdr)));
  if (table.empty()) return false;
  std::vector<ElfW(Shdr)> sections(header.e_shnum);
  table.copy(reinterpret_cast<char*>(sections.data()), table.size());
  const ElfW(Shdr)& names_section = sections[header.e_shstrndx];
  const std::string names = read_at(in, size, names_section.sh_offset, names_section.sh_size);
  for (const ElfW(Shdr)& s : sections) {
    if (s.sh_name >= names.size()) continue;
    const std::string_view name(names.c_str() + s.sh_name);
    if (name == ".nv_fatbin" || name == ".nvFatBinSegment") return true;
    if (name == ".dynstr") {
      const std::string strings = read_at(in, size, s.sh_offset, s.sh_size);
      for (std::string_view library : {"libcudart.so", "libcublas", "libnccl.so"})
        if (strings.find(library) != std::string::npos) return true;
    }
  }
  return false;
}

}  // namespace tandem::loader
