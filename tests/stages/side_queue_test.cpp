// The side queue of tandem/memory.h (SDK 1.3): the CPU's table does nothing, and the stand-in GPU
// catches the races a GPU would have between side-queued work and the main stream before join_side.
// (Errors cross the table's C boundary, so they arrive as std::runtime_error with the message.)
// (The stage conformance suite runs every stage with overlap_comm on the stand-in; these pin the
// checker itself, so that a race cannot pass it unseen.)
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "tandem/memory.hpp"
#include "tandem/stand_in_memory.hpp"

namespace tandem {
namespace {

struct StandIn : ::testing::Test {
  StandInMemory device;
  sdk::Memory memory{device.table()};
  sdk::Buffer<float> a{memory, 8}, b{memory, 8}, c{memory, 8};
};

TEST(SideQueue, IsNothingOnTheCpu) {
  const sdk::Memory cpu;
  ASSERT_TRUE(cpu.has_side_queue());
  std::vector<float> x(4, 1.0f), y(4, 0.0f);
  {
    sdk::SideQueue side(cpu);
    cpu.copy(y.data(), x.data(), 4 * sizeof(float));
    side.end();
  }
  EXPECT_EQ(y, x) << "done on return, as every call of the CPU's table";
  cpu.join_side();
}

TEST_F(StandIn, MainStreamReadingWhatTheSideQueueWroteBeforeTheJoinFails) {
  {
    sdk::SideQueue side(memory);
    memory.add(a.data(), b.data(), 8);
    side.end();
  }
  EXPECT_TRUE(device.side_pending(a.data(), sizeof(float)));
  try {
    memory.copy(c.data(), a.data(), 8 * sizeof(float));
    FAIL() << "the main stream read a side-queued result before join_side";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("copy on the main stream reads memory that side-queued add writes"),
              std::string::npos)
        << e.what();
  }
  memory.join_side();
  EXPECT_FALSE(device.side_pending(a.data(), sizeof(float)));
  memory.copy(c.data(), a.data(), 8 * sizeof(float));  // joined: fine
}

TEST_F(StandIn, MainStreamWritingWhatTheSideQueueReadsBeforeTheJoinFails) {
  {
    sdk::SideQueue side(memory);
    memory.copy(c.data(), a.data(), 8 * sizeof(float));  // a bucket being packed
    side.end();
  }
  memory.copy(b.data(), a.data(), 8 * sizeof(float));  // reading it too is fine
  EXPECT_THROW(memory.fill_zero(a.data() + 4, 4 * sizeof(float)), std::exception) << "refilling the bucket";
  memory.join_side();
  memory.fill_zero(a.data(), 8 * sizeof(float));
}

TEST_F(StandIn, ReleasingWhatTheSideQueueUsesBeforeTheJoinIsReported) {
  sdk::Buffer<float> scratch(memory, 8);
  {
    sdk::SideQueue side(memory);
    memory.add(a.data(), scratch.data(), 8);
    side.end();
  }
  scratch.reset();  // on the main stream, while the side queue may still read it
  EXPECT_NE(device.violation().find("release on the main stream of memory that side-queued add uses"),
            std::string::npos)
      << device.violation();
  EXPECT_THROW(memory.join_side(), std::runtime_error) << "every later call reports it";
}

TEST_F(StandIn, ScratchAllocatedAndFreedOnTheSideQueueLeavesNothingBehind) {
  {
    sdk::SideQueue side(memory);
    {
      sdk::Buffer<float> scratch(memory, 8);
      memory.copy(scratch.data(), a.data(), 8 * sizeof(float));
      memory.add(b.data(), scratch.data(), 8);
    }  // freed on the side queue (freed after side.end(), it would be a race: the test below)
    side.end();
  }
  sdk::Buffer<float> fresh(memory, 8);  // may be the scratch's address again
  memory.fill_zero(fresh.data(), fresh.bytes());
  EXPECT_EQ(device.violation(), "");
  EXPECT_TRUE(device.side_pending(b.data(), sizeof(float))) << "what it wrote is still the side queue's";
}

TEST_F(StandIn, SideQueueIsNotNestedAndEndsWhenACallThrows) {
  memory.side_begin();
  EXPECT_THROW(memory.side_begin(), std::runtime_error);
  memory.side_end();
  EXPECT_THROW(memory.side_end(), std::runtime_error) << "not on the side queue";
  try {
    sdk::SideQueue side(memory);
    throw std::runtime_error("a collective failed");
  } catch (const std::runtime_error&) {
  }
  memory.side_begin();  // the failed scope went back to the main stream
  memory.side_end();
}

}  // namespace
}  // namespace tandem
