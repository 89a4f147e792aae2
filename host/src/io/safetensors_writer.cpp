// Writing safetensors: a deterministic layout (see write() in tandem/safetensors.hpp), streamed tensor by
// tensor to a temporary file that replaces the target only once complete.
#include <algorithm>
#include <cstring>
#include <set>

#include "io/atomic_file.hpp"
#include "tandem/json.hpp"
#include "tandem/safetensors.hpp"

namespace tandem::safetensors {

TensorData f32_tensor(std::string name, std::vector<int64_t> shape, std::span<const float> values) {
  return TensorData{std::move(name), Dtype::F32, std::move(shape),
                    {reinterpret_cast<const uint8_t*>(values.data()), values.size_bytes()}};
}

TensorData bf16_tensor(std::string name, std::vector<int64_t> shape, std::span<const uint16_t> bits) {
  return TensorData{std::move(name), Dtype::BF16, std::move(shape),
                    {reinterpret_cast<const uint8_t*>(bits.data()), bits.size_bytes()}};
}

std::vector<uint16_t> to_bf16(std::span<const float> values) {
  std::vector<uint16_t> out(values.size());
  std::transform(values.begin(), values.end(), out.begin(), f32_to_bf16);
  return out;
}

namespace {

struct Layout {
  std::string header;          // padded JSON
  std::vector<size_t> order;   // indices into the tensors, in data order
};

// Checks every tensor and the metadata, and lays the file out. `where` names the target in errors.
Layout plan(std::span<const TensorData> tensors, const Metadata& metadata, const std::string& where) {
  std::set<std::string_view> names;
  for (const TensorData& t : tensors) {
    if (t.name.empty()) throw Error(where, "", "a tensor has an empty name");
    if (t.name == kMetadataKey) throw Error(where, t.name, "the name is reserved for the metadata");
    if (!names.insert(t.name).second) throw Error(where, t.name, "two tensors have this name");
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) throw Error(where, t.name, "shape " + shape_string(t.shape) + " has a negative dimension");
      if (__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel))
        throw Error(where, t.name, "shape " + shape_string(t.shape) + " has more than 2^64 elements");
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(t.dtype)), &bytes) ||
        bytes != t.bytes.size())
      throw Error(where, t.name,
                  "shape " + shape_string(t.shape) + " of " + std::string(dtype_name(t.dtype)) + " needs " +
                      std::to_string(numel) + " x " + std::to_string(dtype_size(t.dtype)) + " bytes, " +
                      std::to_string(t.bytes.size()) + " given");
  }
  std::set<std::string_view> keys;
  for (const auto& [key, value] : metadata)
    if (!keys.insert(key).second) throw Error(where, "", "metadata key \"" + key + "\" given twice");

  Layout out;
  out.order.resize(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) out.order[i] = i;
  // Hugging Face's order: dtype descending in the enum's order, which increases with element size, so
  // the largest elements come first and every offset is a multiple of its tensor's element size.
  std::sort(out.order.begin(), out.order.end(), [&](size_t a, size_t b) {
    if (tensors[a].dtype != tensors[b].dtype) return tensors[a].dtype > tensors[b].dtype;
    return tensors[a].name < tensors[b].name;
  });

  json::Value root = json::Value::object();
  if (!metadata.empty()) {
    json::Value meta = json::Value::object();
    for (const auto& [key, value] : metadata) meta.set(key, json::Value::string(value));
    root.set(kMetadataKey, std::move(meta));
  }
  uint64_t offset = 0;
  for (size_t i : out.order) {
    const TensorData& t = tensors[i];
    json::Value entry = json::Value::object();
    entry.set("dtype", json::Value::string(std::string(dtype_name(t.dtype))));
    json::Value shape = json::Value::array();
    for (int64_t d : t.shape) shape.push_back(json::Value::integer(d));
    entry.set("shape", std::move(shape));
    json::Value offsets = json::Value::array();
    offsets.push_back(json::Value::integer(static_cast<int64_t>(offset)));
    offset += t.bytes.size();
    offsets.push_back(json::Value::integer(static_cast<int64_t>(offset)));
    entry.set("data_offsets", std::move(offsets));
    root.set(t.name, std::move(entry));
  }
  out.header = json::to_string(root);
  // Spaces up to a multiple of 8, so the data section (at 8 + header length) is 8-byte aligned.
  out.header.append((8 - out.header.size() % 8) % 8, ' ');
  return out;
}

void emit(const Layout& layout, std::span<const TensorData> tensors, io::FileSink& sink) {
  uint8_t length[8];
  uint64_t n = layout.header.size();
  for (uint8_t& b : length) {
    b = static_cast<uint8_t>(n & 0xFF);
    n >>= 8;
  }
  sink.write(length, sizeof length);
  sink.write(layout.header.data(), layout.header.size());
  for (size_t i : layout.order)
    if (!tensors[i].bytes.empty()) sink.write(tensors[i].bytes.data(), tensors[i].bytes.size());
}

class VectorSink final : public io::FileSink {
 public:
  explicit VectorSink(std::vector<uint8_t>& out) : out_(out) {}
  void write(const void* data, size_t size) override {
    if (size == 0) return;
    const size_t at = out_.size();
    out_.resize(at + size);
    std::memcpy(out_.data() + at, data, size);
  }

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace

std::vector<uint8_t> serialize(std::span<const TensorData> tensors, const Metadata& metadata) {
  const Layout layout = plan(tensors, metadata, "<memory>");
  std::vector<uint8_t> out;
  VectorSink sink(out);
  emit(layout, tensors, sink);
  return out;
}

void write(const std::filesystem::path& path, std::span<const TensorData> tensors, const Metadata& metadata) {
  const Layout layout = plan(tensors, metadata, path.string());
  try {
    io::write_atomically(path, [&](io::FileSink& sink) { emit(layout, tensors, sink); });
  } catch (const io::WriteError& e) {
    throw Error(path.string(), "", e.reason());
  }
}

}  // namespace tandem::safetensors
