// How the processes of a GPU run meet before NCCL can: rank 0 listens on MASTER_ADDR:MASTER_PORT,
// every other rank connects, and once all have arrived rank 0 hands each the same blob (NCCL's
// unique id) - the TCPStore that torch.distributed's env:// rendezvous uses, reduced to what NCCL
// needs. No collective traffic goes this way: NCCL does that.
//
// Protocol (one connection per rank, closed after the exchange): the client sends its hello (magic,
// protocol version, rank, world size); rank 0 answers, once every rank has arrived, with a status
// and the blob; or, when something is wrong, with a status and a message the client throws.
// Failures are clear and bounded by the timeout: a rank that never arrives makes rank 0 fail naming
// it (and tells the ranks that did arrive); a rank 0 that is not there makes a client fail naming
// the address; a second rank with the same number, a world size that differs, a stranger speaking
// another protocol are refused by name.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tandem::rendezvous {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Endpoint {
  std::string host = "127.0.0.1";  // MASTER_ADDR (a name or a dotted address)
  uint16_t port = 29500;           // MASTER_PORT
};

// Rank 0: serves `blob` to world_size - 1 ranks and returns when each has it. Throws Error naming
// the ranks missing at the deadline, or the address it could not listen on.
void serve(const Endpoint& at, int32_t world_size, const std::vector<uint8_t>& blob, std::chrono::milliseconds timeout);

// Any other rank: returns the blob of size `size` from rank 0 (retrying the connection until the
// deadline). Throws Error naming the address and the last reason.
std::vector<uint8_t> join(const Endpoint& at, int32_t rank, int32_t world_size, size_t size,
                          std::chrono::milliseconds timeout);

}  // namespace tandem::rendezvous
