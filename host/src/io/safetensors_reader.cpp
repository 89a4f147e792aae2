// safetensors::File: maps a file (or holds bytes), validates it once, and serves tensors from it.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <system_error>

#include "io/safetensors_header.hpp"
#include "tandem/safetensors.hpp"

namespace tandem::safetensors {

Error::Error(std::string file, std::string tensor, std::string reason)
    : std::runtime_error(file + ": " + (tensor.empty() ? "" : "tensor '" + tensor + "': ") + reason),
      file_(std::move(file)),
      tensor_(std::move(tensor)),
      reason_(std::move(reason)) {}

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);  // validated at parse time not to overflow
  return n;
}

// The file's bytes: a read-only private mapping, or a vector (File::parse, or where mmap fails).
struct File::Storage {
  std::vector<uint8_t> owned;
  void* map = nullptr;
  size_t map_size = 0;

  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (map != nullptr) ::munmap(map, map_size);
  }
  std::span<const uint8_t> bytes() const {
    if (map != nullptr) return {static_cast<const uint8_t*>(map), map_size};
    return {owned.data(), owned.size()};
  }
};

namespace {

std::string errno_text(int err) { return std::generic_category().message(err); }

// Reads the whole descriptor (the fallback when it cannot be mapped).
void read_all(int fd, size_t size, std::vector<uint8_t>& out, const std::string& source) {
  out.resize(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(source, "", "read error: " + errno_text(errno));
    if (n == 0) throw Error(source, "", "file shrank while being read");
    done += static_cast<size_t>(n);
  }
}

}  // namespace

File::File(std::shared_ptr<const Storage> storage, std::string source)
    : storage_(std::move(storage)), source_(std::move(source)) {
  const std::span<const uint8_t> all = storage_->bytes();
  detail::ParsedFile parsed = detail::parse_file_bytes(all, source_);
  data_ = all.subspan(static_cast<size_t>(parsed.data_start));
  tensors_ = std::move(parsed.tensors);
  metadata_ = std::move(parsed.metadata);
  by_name_.resize(tensors_.size());
  std::iota(by_name_.begin(), by_name_.end(), 0u);
  std::sort(by_name_.begin(), by_name_.end(),
            [this](uint32_t a, uint32_t b) { return tensors_[a].name < tensors_[b].name; });
}

File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

File File::open(const std::filesystem::path& path) {
  const std::string source = path.string();
  // O_NONBLOCK: a FIFO opens at once and is refused below instead of blocking (regular_file.hpp).
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error(source, "", err == ENOENT ? std::string("no such file") : "cannot open: " + errno_text(err));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(source, "", "cannot stat: " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) throw Error(source, "", "is a directory, not a safetensors file");
  if (!S_ISREG(st.st_mode)) throw Error(source, "", "not a regular file");
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);

  auto storage = std::make_shared<Storage>();
  const size_t size = static_cast<size_t>(st.st_size);
  if (size > 0) {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      storage->map = map;
      storage->map_size = size;
    } else {
      read_all(fd, size, storage->owned, source);
    }
  }
  return File(std::move(storage), source);
}

File File::parse(std::vector<uint8_t> bytes, std::string source) {
  auto storage = std::make_shared<Storage>();
  storage->owned = std::move(bytes);
  return File(std::move(storage), std::move(source));
}

const std::string* File::metadata_value(std::string_view key) const {
  for (const auto& [k, v] : metadata_)
    if (k == key) return &v;
  return nullptr;
}

const TensorInfo* File::find(std::string_view name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [this](uint32_t i, std::string_view n) { return tensors_[i].name < n; });
  if (it == by_name_.end() || tensors_[*it].name != name) return nullptr;
  return &tensors_[*it];
}

const TensorInfo* File::resolve(std::string_view name) const {
  if (const TensorInfo* t = find(name)) return t;
  if (name.starts_with(kGpt2Prefix)) return find(without_gpt2_prefix(name));
  return find(std::string(kGpt2Prefix) + std::string(name));
}

const TensorInfo& File::get(std::string_view name) const {
  if (const TensorInfo* t = resolve(name)) return *t;
  const std::string other = name.starts_with(kGpt2Prefix) ? std::string(without_gpt2_prefix(name))
                                                          : std::string(kGpt2Prefix) + std::string(name);
  throw Error(source_, std::string(name), "no such tensor in the file (nor '" + other + "')");
}

const TensorInfo& File::expect(std::string_view name, const std::vector<int64_t>& shape) const {
  const TensorInfo& t = get(name);
  if (t.shape != shape)
    throw Error(source_, t.name, "expected shape " + shape_string(shape) + ", found " + shape_string(t.shape));
  return t;
}

std::span<const uint8_t> File::bytes(const TensorInfo& t) const {
  return data_.subspan(static_cast<size_t>(t.begin), static_cast<size_t>(t.nbytes()));
}

std::vector<float> File::read_f32(std::string_view name) const {
  const TensorInfo& t = get(name);
  std::vector<float> out(static_cast<size_t>(t.numel()));
  read_f32(name, out);
  return out;
}

void File::read_f32(std::string_view name, std::span<float> out) const {
  const TensorInfo& t = get(name);
  if (out.size() != t.numel())
    throw Error(source_, t.name,
                "destination holds " + std::to_string(out.size()) + " floats, the tensor has " +
                    std::to_string(t.numel()) + " elements");
  const uint8_t* src = bytes(t).data();
  // memcpy per element: the data section need not be aligned (the header length is arbitrary).
  switch (t.dtype) {
    case Dtype::F32:
      if (!out.empty()) std::memcpy(out.data(), src, out.size() * sizeof(float));
      return;
    case Dtype::BF16:
    case Dtype::F16:
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        out[i] = t.dtype == Dtype::BF16 ? bf16_to_f32(bits) : f16_to_f32(bits);
      }
      return;
    case Dtype::F64:
      for (size_t i = 0; i < out.size(); ++i) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      return;
    default:
      throw Error(source_, t.name,
                  "dtype " + std::string(dtype_name(t.dtype)) + " cannot be read as float (F32, BF16, F16, F64 can)");
  }
}

}  // namespace tandem::safetensors
