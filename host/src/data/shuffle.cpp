// SplitMix64 and the epoch order it drives (the exact algorithm is part of the data contract: a
// checkpoint resumed on another machine or standard library must see the same batches).
#include "tandem/data.hpp"

namespace tandem::data {

namespace {

// SplitMix64's output function (a variant of MurmurHash3's fmix64).
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t SplitMix64::next() {
  state_ += 0x9E3779B97F4A7C15ull;
  return mix(state_);
}

uint64_t SplitMix64::below(uint64_t bound) {
  // Values below 2^64 mod bound would make the low residues more likely: draw again (probability
  // < bound / 2^64, negligible for any real bound).
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const uint64_t x = next();
    if (x >= threshold) return x % bound;
  }
}

std::vector<uint32_t> shuffled_order(uint64_t n, uint64_t seed, uint64_t epoch) {
  if (n > UINT32_MAX) throw DataError("", "cannot shuffle " + std::to_string(n) + " windows (at most 2^32 - 1)");
  std::vector<uint32_t> order(static_cast<size_t>(n));
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  SplitMix64 rng(mix(seed ^ mix(epoch + 1)));
  for (uint64_t i = n; i-- > 1;) {
    const uint64_t j = rng.below(i + 1);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

}  // namespace tandem::data
