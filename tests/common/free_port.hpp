// A TCP port on loopback that nothing listens on now (the kernel's pick for an ephemeral bind,
// released at once), for tests that start a rendezvous.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace tandem::test {

inline uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    a.sin_port = htons(29511);  // unlikely to be needed; a fixed port then
  if (fd >= 0) ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace tandem::test
