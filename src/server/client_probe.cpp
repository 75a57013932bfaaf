// ClientProbe (see client_probe.h).
#include "server/client_probe.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace whale::server {
namespace {

// The numeric host and port of a socket address ("127.0.0.1", 8080); false for non-IP families.
bool endpoint(const sockaddr_storage& address, std::string& host, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(address);
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    port = ntohs(a.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
    port = ntohs(a.sin6_port);
  } else {
    return false;
  }
  host = text;
  return true;
}

bool same_endpoint(int fd, int (*query)(int, sockaddr*, socklen_t*), const std::string& host, int port) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (query(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
  std::string found_host;
  int found_port = -1;
  return endpoint(address, found_host, found_port) && found_port == port && found_host == host;
}

}  // namespace

ClientProbe::ClientProbe(const httplib::Request& request) {
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return;
  while (const dirent* entry = readdir(fds)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    struct stat info {};
    if (fstat(static_cast<int>(fd), &info) != 0 || !S_ISSOCK(info.st_mode)) continue;
    if (same_endpoint(static_cast<int>(fd), getpeername, request.remote_addr, request.remote_port) &&
        same_endpoint(static_cast<int>(fd), getsockname, request.local_addr, request.local_port)) {
      fd_ = static_cast<int>(fd);
      break;
    }
  }
  closedir(fds);
}

bool ClientProbe::closed() const {
  if (fd_ < 0) return false;
  char byte;
  const ssize_t n = recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;  // orderly shutdown by the peer
  return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace whale::server
