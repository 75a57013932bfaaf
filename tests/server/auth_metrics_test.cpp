// API keys (file format, constant-time check) and the Prometheus rendering of metrics.
#include <gtest/gtest.h>

#include "core/error.h"
#include "server/auth.h"
#include "server/metrics.h"

namespace whale::server {
namespace {

TEST(ApiKeys, ParsesNamedAndBareKeys) {
  ApiKeys keys = ApiKeys::from_text("# comment\n\nalice sk-alice-123\n  sk-bare-4567  \n", "keys.txt");
  EXPECT_TRUE(keys.enabled());
  EXPECT_EQ(keys.check("Bearer sk-alice-123"), "alice");
  EXPECT_EQ(keys.check("Bearer sk-bare-4567"), "key2");
  EXPECT_EQ(keys.check("Bearer sk-alice-12"), std::nullopt);
  EXPECT_EQ(keys.check("Bearer sk-alice-1234"), std::nullopt);
  EXPECT_EQ(keys.check("sk-alice-123"), std::nullopt);
  EXPECT_EQ(keys.check(""), std::nullopt);
  EXPECT_EQ(keys.check("Bearer "), std::nullopt);
}

TEST(ApiKeys, RejectsBadFiles) {
  EXPECT_THROW(ApiKeys::from_text("# only a comment\n", "k"), Error);
  EXPECT_THROW(ApiKeys::from_text("a b c\n", "k"), Error);
  EXPECT_THROW(ApiKeys::from_text("short\n", "k"), Error);
  EXPECT_THROW(ApiKeys::load("/nonexistent/whale-keys"), Error);
}

TEST(ApiKeys, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Histogram h({0.25, 1.0});
  h.observe(0.125);
  h.observe(0.25);  // le is inclusive
  h.observe(0.5);
  h.observe(3.0);
  std::string out;
  h.render("x", out);
  EXPECT_EQ(out, "x_bucket{le=\"0.25\"} 2\nx_bucket{le=\"1\"} 3\nx_bucket{le=\"+Inf\"} 4\nx_sum 3.875\nx_count 4\n");
}

TEST(Metrics, RendersCountersGaugesAndKeys) {
  Metrics m;
  m.record_request({"/v1/chat/completions", 200, "alice", 20, 16, 5});
  m.record_request({"/v1/chat/completions", 200, "alice", 10, 0, 3});
  m.record_request({"/v1/chat/completions", 422, "", 0, 0, 0});
  SchedulerStats stats;
  stats.queued = 3;
  stats.running = 2;
  std::string text = m.render(stats);
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("whale_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 2")) << text;
  EXPECT_TRUE(has("whale_requests_total{endpoint=\"/v1/chat/completions\",status=\"422\"} 1"));
  EXPECT_TRUE(has("whale_prompt_tokens_total 30"));
  EXPECT_TRUE(has("whale_prompt_cache_hit_tokens_total 16"));
  EXPECT_TRUE(has("whale_completion_tokens_total 8"));
  EXPECT_TRUE(has("whale_queue_depth 3"));
  EXPECT_TRUE(has("whale_running_sequences 2"));
  EXPECT_TRUE(has("whale_key_requests_total{key=\"alice\"} 2"));
  EXPECT_TRUE(has("whale_key_tokens_total{key=\"alice\",kind=\"prompt\"} 30"));
  EXPECT_TRUE(has("whale_key_tokens_total{key=\"alice\",kind=\"completion\"} 8"));
}

}  // namespace
}  // namespace whale::server
