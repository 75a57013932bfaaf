// Metrics: counters and histograms of the server, rendered as Prometheus text at GET /metrics — requests by
// endpoint and status, prompt/completion/cache-hit tokens, queue depth and running sequences, time to first
// token and inter-token latency, and usage per API key.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/scheduler.h"

namespace whale::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Appends the _bucket/_sum/_count lines of `name`.
  void render(const std::string& name, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

struct RequestRecord {
  std::string endpoint;  // "/v1/chat/completions"
  int status = 200;
  std::string key_name;  // empty without API keys
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t completion_tokens = 0;
};

class Metrics {
 public:
  Metrics();
  void record_request(const RequestRecord& record);
  void observe_first_token(double seconds);
  void observe_inter_token(double seconds);
  std::string render(const SchedulerStats& stats) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0;
  uint64_t cached_tokens_ = 0;
  uint64_t completion_tokens_ = 0;
  struct KeyUsage {
    uint64_t requests = 0;
    uint64_t prompt_tokens = 0;
    uint64_t completion_tokens = 0;
  };
  std::map<std::string, KeyUsage> keys_;
  Histogram first_token_;
  Histogram inter_token_;
};

}  // namespace whale::server
