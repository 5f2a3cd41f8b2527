#include "plugins/elf_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace etp::plugins {
namespace {

// The ELF machine this process runs on: a library for another cannot load.
#if defined(__x86_64__)
constexpr uint16_t kMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kMachine = EM_AARCH64;
#else
constexpr uint16_t kMachine = EM_NONE;  // not checked
#endif

// Reads the file through a descriptor, `size` bytes at a time, bounds-checked.
class File {
 public:
  explicit File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)) {
    struct stat st {};
    if (fd_ < 0) {
      problem_ = "cannot open " + path + ": " + std::strerror(errno);
    } else if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      problem_ = path + " is not a regular file";
    } else {
      size_ = static_cast<uint64_t>(st.st_size);
    }
  }
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  // Why the file cannot be read, or "".
  const std::string& problem() const { return problem_; }

  bool read(uint64_t offset, uint64_t bytes, void* out) const {
    if (offset > size_ || bytes > size_ - offset) return false;
    auto* p = static_cast<char*>(out);
    while (bytes > 0) {
      const ssize_t got = ::pread(fd_, p, bytes, static_cast<off_t>(offset));
      if (got <= 0) return false;
      p += got, offset += static_cast<uint64_t>(got), bytes -= static_cast<uint64_t>(got);
    }
    return true;
  }
  // A whole section's bytes.
  bool section(const Elf64_Shdr& sh, std::string* out) const {
    if (sh.sh_type == SHT_NOBITS || sh.sh_size > size_) return false;
    out->resize(sh.sh_size);
    return read(sh.sh_offset, sh.sh_size, out->data());
  }

 private:
  int fd_;
  uint64_t size_ = 0;
  std::string problem_;
};

// The NUL-terminated string at `offset` of a string table, or false when outside it.
bool string_at(const std::string& table, uint64_t offset, std::string* out) {
  if (offset >= table.size()) return false;
  *out = std::string(table.data() + offset, strnlen(table.data() + offset, table.size() - offset));
  return true;
}

}  // namespace

bool read_dynamic_symbols(const std::string& path, DynamicSymbols* out, std::string* error) {
  *out = {};
  const File file(path);
  if (!file.problem().empty()) return *error = file.problem(), false;
  Elf64_Ehdr eh;
  if (!file.read(0, sizeof eh, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_type != ET_DYN) {
    return *error = "not a 64-bit little-endian ELF shared object", false;
  }
  if (kMachine != EM_NONE && eh.e_machine != kMachine) {
    return *error = "built for another machine (ELF e_machine " + std::to_string(eh.e_machine) + ", this one is " +
                    std::to_string(kMachine) + ")",
           false;
  }
  if (eh.e_shentsize != sizeof(Elf64_Shdr)) return *error = "malformed section headers", false;
  auto header = [&](uint64_t index, Elf64_Shdr* sh) {
    return index < eh.e_shnum && file.read(eh.e_shoff + index * sizeof(Elf64_Shdr), sizeof *sh, sh);
  };
  for (uint16_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh, link;
    if (!header(i, &sh)) return *error = "truncated section headers", false;
    if (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_DYNAMIC) continue;
    const uint64_t entry = sh.sh_type == SHT_DYNSYM ? sizeof(Elf64_Sym) : sizeof(Elf64_Dyn);
    std::string table, strings;
    if (sh.sh_entsize != entry || !header(sh.sh_link, &link) || !file.section(sh, &table) ||
        !file.section(link, &strings)) {
      return *error = sh.sh_type == SHT_DYNSYM ? "a malformed .dynsym" : "a malformed .dynamic", false;
    }
    for (uint64_t off = 0; off + entry <= table.size(); off += entry) {
      std::string name;
      if (sh.sh_type == SHT_DYNAMIC) {
        Elf64_Dyn dyn;
        std::memcpy(&dyn, table.data() + off, sizeof dyn);
        if (dyn.d_tag == DT_NEEDED && string_at(strings, dyn.d_un.d_val, &name)) out->needed.push_back(name);
        continue;
      }
      Elf64_Sym sym;
      std::memcpy(&sym, table.data() + off, sizeof sym);
      const unsigned bind = ELF64_ST_BIND(sym.st_info), type = ELF64_ST_TYPE(sym.st_info);
      if ((bind != STB_GLOBAL && bind != STB_WEAK) || type == STT_SECTION || type == STT_FILE ||
          !string_at(strings, sym.st_name, &name) || name.empty()) {
        continue;
      }
      (sym.st_shndx == SHN_UNDEF ? out->imports : out->exports).push_back(name);
    }
  }
  return true;
}

}  // namespace etp::plugins
