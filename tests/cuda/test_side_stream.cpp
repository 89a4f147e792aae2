// The side queue of a stage's device memory (tandem/cuda/device_memory.hpp, SDK 1.3) on a real
// GPU: work queued between side_begin and side_end runs on a second stream that first waits for the
// main stream, join_side makes the main stream wait for it, and the listener hears each switch (the
// engine points the rank's communicator there). Long chains of adds on each stream make a missing
// wait show up as wrong values. (On the CPU the stand-in GPU checks the stages' use of the protocol:
// tests/stages side_queue_test.cpp and the stage conformance suite.)
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "cuda_test_util.hpp"
#include "tandem/cuda/device_memory.hpp"
#include "tandem/memory.hpp"

namespace tandem::cuda {
namespace {

TEST(CudaSideQueue, SideWorkWaitsForTheMainStreamAndTheJoinWaitsForIt) {
  TANDEM_REQUIRE_GPU();
  set_device(0);
  Stream stream(0);
  DeviceMemory device(0, stream.get());
  std::vector<cudaStream_t> switched;
  device.on_stream_switch([&](cudaStream_t s) { switched.push_back(s); });
  const sdk::Memory memory(device.table());

  constexpr size_t n = size_t(1) << 24;  // 64 MB of fp32: each add takes tens of microseconds
  const std::vector<float> ones(n, 1.0f);
  sdk::Buffer<float> a(memory, n), one(memory, n), b(memory, n), c(memory, n);
  memory.copy(one.data(), ones.data(), n * sizeof(float));
  for (int i = 0; i < 50; ++i) memory.add(a.data(), one.data(), n);  // a = 50, long work on the main stream
  {
    sdk::SideQueue side(memory);
    memory.copy(b.data(), a.data(), n * sizeof(float));                // must see all 50 adds
    for (int i = 0; i < 20; ++i) memory.add(b.data(), one.data(), n);  // b = 70, long work on the side
    side.end();
  }
  memory.join_side();
  memory.copy(c.data(), b.data(), n * sizeof(float));  // the main stream after the join: 70
  std::vector<float> host(n);
  memory.copy(host.data(), c.data(), n * sizeof(float));
  memory.synchronize();

  size_t wrong = 0;
  for (float v : host) wrong += v != 70.0f;
  EXPECT_EQ(wrong, 0u) << "of " << n << " values (first: " << host.front() << ", last: " << host.back() << ")";
  ASSERT_EQ(switched.size(), 2u) << "the listener hears side_begin and side_end";
  EXPECT_NE(switched[0], stream.get()) << "side_begin: a stream of its own";
  EXPECT_EQ(switched[1], stream.get()) << "side_end: back to the rank's stream";
}

TEST(CudaSideQueue, IsNotNested) {
  TANDEM_REQUIRE_GPU();
  set_device(0);
  Stream stream(0);
  DeviceMemory device(0, stream.get());
  const sdk::Memory memory(device.table());
  memory.side_begin();
  EXPECT_THROW(memory.side_begin(), std::runtime_error);
  memory.side_end();
}

}  // namespace
}  // namespace tandem::cuda
