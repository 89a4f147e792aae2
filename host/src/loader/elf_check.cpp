// check_elf_file(): reads the ELF header and program header table with plain reads (no mapping), and
// checks what glibc's loader trusts without checking: that every segment it maps lies inside the file.
#include "loader/elf_check.hpp"

#include <elf.h>
#include <link.h>

#include <cstring>
#include <fstream>
#include <vector>

namespace tandem::loader {

namespace {

#if defined(__x86_64__)
constexpr unsigned kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kHostMachine = EM_AARCH64;
#elif defined(__powerpc64__)
constexpr unsigned kHostMachine = EM_PPC64;
#else
constexpr unsigned kHostMachine = EM_NONE;  // unknown here: the machine is left to dlopen
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr unsigned char kHostData = ELFDATA2LSB;
#else
constexpr unsigned char kHostData = ELFDATA2MSB;
#endif

constexpr unsigned char kHostClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;

}  // namespace

std::optional<std::string> check_elf_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::string("cannot be opened for reading");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<unsigned long long>(in.tellg());
  in.seekg(0);

  unsigned char ident[EI_NIDENT] = {};
  if (size < sizeof(ident) || !in.read(reinterpret_cast<char*>(ident), sizeof(ident)))
    return "not a shared object (file too short: " + std::to_string(size) + " bytes)";
  if (std::memcmp(ident, ELFMAG, SELFMAG) != 0) return std::string("not a shared object (invalid ELF header)");
  if (ident[EI_CLASS] != kHostClass)
    return std::string("not a shared object for this machine (ELF ") + (ident[EI_CLASS] == ELFCLASS32 ? "32" : "64") +
           "-bit, this host is " + (kHostClass == ELFCLASS32 ? "32" : "64") + "-bit)";
  if (ident[EI_DATA] != kHostData) return std::string("not a shared object for this machine (other byte order)");

  ElfW(Ehdr) header{};
  in.seekg(0);
  if (size < sizeof(header) || !in.read(reinterpret_cast<char*>(&header), sizeof(header)))
    return "the file is truncated: " + std::to_string(size) + " bytes, shorter than an ELF header";
  if (header.e_type != ET_DYN)
    return "not a shared object (ELF type " + std::to_string(header.e_type) +
           (header.e_type == ET_EXEC ? ", an executable" : header.e_type == ET_REL ? ", an object file" : "") + ")";
  if (kHostMachine != EM_NONE && header.e_machine != kHostMachine)
    return "not a shared object for this machine (ELF machine " + std::to_string(header.e_machine) + ", this host is " +
           std::to_string(kHostMachine) + ")";
  if (header.e_phentsize != sizeof(ElfW(Phdr)) || header.e_phnum == 0)
    return std::string("not a loadable shared object (no usable program header table)");

  const unsigned long long table_end =
      static_cast<unsigned long long>(header.e_phoff) + static_cast<unsigned long long>(header.e_phnum) * sizeof(ElfW(Phdr));
  if (table_end > size)
    return "the file is truncated: its program headers end at byte " + std::to_string(table_end) + ", the file has " +
           std::to_string(size) + " bytes";
  std::vector<ElfW(Phdr)> segments(header.e_phnum);
  in.seekg(static_cast<std::streamoff>(header.e_phoff));
  if (!in.read(reinterpret_cast<char*>(segments.data()),
               static_cast<std::streamsize>(segments.size() * sizeof(ElfW(Phdr)))))
    return std::string("the program headers cannot be read");
  for (size_t i = 0; i < segments.size(); ++i) {
    const ElfW(Phdr)& s = segments[i];
    if (s.p_type != PT_LOAD && s.p_type != PT_DYNAMIC) continue;
    const unsigned long long end = static_cast<unsigned long long>(s.p_offset) + s.p_filesz;
    if (end < s.p_offset || end > size)
      return "the file is truncated: segment " + std::to_string(i) + " ends at byte " + std::to_string(end) +
             ", the file has " + std::to_string(size) + " bytes";
  }
  return std::nullopt;
}

}  // namespace tandem::loader
