#include "launch/launch_spellings.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "device/gpu.hpp"

namespace tandem {

namespace {

// "--nproc_per_node=2" -> "--nproc-per-node=2": torchrun accepts both spellings of its options.
std::string dashed(std::string arg) {
  const size_t end = arg.find('=');
  for (size_t i = 2; i < std::min(end, arg.size()); ++i)
    if (arg[i] == '_') arg[i] = '-';
  return arg;
}

bool is_option(const std::string& arg) { return arg.size() > 2 && arg.rfind("--", 0) == 0; }
bool takes_no_value(const std::string& option) {
  return option == "--standalone" || option == "--help" || option == "-h";
}

int32_t positive_count(const std::string& value, const char* option, int32_t max) {
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size() || n < 1 || n > max)
    throw std::invalid_argument(std::string(option) + " " + value + ": expected a count from 1 to " + std::to_string(max));
  return static_cast<int32_t>(n);
}

int32_t cores() { return static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency())); }

}  // namespace

LaunchArgs split_launch_args(const std::vector<std::string>& args) {
  LaunchArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      out.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    const bool value_of_previous = !out.own.empty() && is_option(out.own.back()) &&
                                   out.own.back().find('=') == std::string::npos && !takes_no_value(out.own.back());
    if (!is_option(args[i]) && args[i] != "-h" && !value_of_previous) {
      out.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    out.own.push_back(value_of_previous ? args[i] : dashed(args[i]));
  }
  return out;
}

int32_t process_count(const std::string& value) {
  if (value == "cpu") return cores();
  if (value == "gpu" || value == "auto") {
    std::string why;
    const int gpus = gpu::device_count(&why);
    if (gpus > 0) return gpus;
    if (value == "auto") return cores();
    throw std::invalid_argument("--nproc-per-node gpu: this node has no GPU tandem can use" +
                                (why.empty() ? std::string() : " (" + why + ")") + "; give a count");
  }
  return positive_count(value, "--nproc-per-node", 1024);
}

int32_t node_count(const std::string& value) {
  const size_t colon = value.find(':');
  if (colon == std::string::npos) return positive_count(value, "--nnodes", 1 << 16);
  const int32_t low = positive_count(value.substr(0, colon), "--nnodes", 1 << 16);
  const int32_t high = positive_count(value.substr(colon + 1), "--nnodes", 1 << 16);
  if (low != high)
    throw std::invalid_argument("--nnodes " + value + ": an elastic range; tandem runs a fixed number of nodes "
                                "(give N, or N:N)");
  return low;
}

Endpoint parse_endpoint(const std::string& value, int32_t default_port) {
  Endpoint e{value, default_port};
  std::string port;
  if (!value.empty() && value.front() == '[') {  // [IPv6]:PORT
    const size_t close = value.find(']');
    if (close == std::string::npos) throw std::invalid_argument("--rdzv-endpoint " + value + ": no closing ']'");
    e.host = value.substr(1, close - 1);
    if (close + 1 < value.size()) {
      if (value[close + 1] != ':') throw std::invalid_argument("--rdzv-endpoint " + value + ": expected ':' after ']'");
      port = value.substr(close + 2);
    }
  } else if (const size_t colon = value.rfind(':'); colon != std::string::npos) {
    e.host = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
  if (e.host.empty()) throw std::invalid_argument("--rdzv-endpoint " + value + ": no host");
  if (!port.empty()) e.port = positive_count(port, "--rdzv-endpoint's port", 65535);
  return e;
}

int32_t free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("--standalone: cannot open a socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("--standalone: cannot find a free port: " + why);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace tandem
