// ClientProbe: tells whether the client of a request that is answered in one body (not streamed) is still
// connected, so a generation nobody will read is cancelled instead of run to max_tokens.
//
// cpp-httplib 0.11 does not hand a request's socket to its handler, so the probe finds it among the process's
// sockets by its two endpoints (both addresses and ports are in the request), then peeks at it without
// consuming anything: end-of-stream or a reset means the peer has gone. A client that sends nothing while it
// waits (as every HTTP client does) is never mistaken for a closed one.
#pragma once

#include <httplib.h>

namespace whale::server {

class ClientProbe {
 public:
  explicit ClientProbe(const httplib::Request& request);
  // True once the peer has closed the connection. Always false when the socket could not be identified.
  bool closed() const;

 private:
  int fd_ = -1;
};

}  // namespace whale::server
