// Constrained JSON output: JsonPrefix against nlohmann::json as the independent parser (every prefix of a valid
// object is accepted and only the whole object is complete; whatever JsonPrefix calls complete parses as an
// object), and JsonObjectConstraint steering a greedy decode away from the tokens a model prefers but JSON
// forbids.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "runtime/json_prefix.h"
#include "runtime/token_constraint.h"

namespace whale {
namespace {

bool accepts(std::string_view text) {
  JsonPrefix p;
  return p.feed(text);
}

bool complete(std::string_view text) {
  JsonPrefix p;
  return p.feed(text) && p.complete();
}

nlohmann::json random_value(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 3 ? 4 : 6);
  switch (kind(rng)) {
    case 0: return nullptr;
    case 1: return std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    case 2: return std::uniform_int_distribution<int64_t>(-100000, 100000)(rng);
    case 3: return std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
    case 4: {
      std::string s;
      const char* alphabet = "ab \"\\/\n\t\x01\xc3\xa9z{}[],:";
      for (int i = std::uniform_int_distribution<int>(0, 6)(rng); i > 0; --i) s += alphabet[rng() % 17];
      return s;
    }
    case 5: {
      nlohmann::json a = nlohmann::json::array();
      for (int i = std::uniform_int_distribution<int>(0, 3)(rng); i > 0; --i) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      nlohmann::json o = nlohmann::json::object();
      for (int i = std::uniform_int_distribution<int>(0, 3)(rng); i > 0; --i) {
        const std::string key = fmt::format("k{}", rng() % 50);
        o[key] = random_value(rng, depth + 1);
      }
      return o;
    }
  }
}

TEST(JsonPrefix, EveryPrefixOfAnObjectIsAcceptedAndOnlyTheWholeIsComplete) {
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    nlohmann::json object = nlohmann::json::object();
    object["v"] = random_value(rng, 0);
    const std::string text = object.dump(i % 2 == 0 ? -1 : 2, ' ', false, nlohmann::json::error_handler_t::replace);
    JsonPrefix p;
    for (size_t b = 0; b < text.size(); ++b) {
      ASSERT_TRUE(p.feed(text[b])) << text << " at byte " << b;
      ASSERT_EQ(p.complete(), b + 1 == text.size()) << text << " at byte " << b;
    }
    EXPECT_TRUE(p.feed(" \n"));  // trailing whitespace
  }
}

TEST(JsonPrefix, RejectsWhatIsNotAnObjectPrefix) {
  for (const char* bad : {"[1]", "\"s\"", "1", "{1:2}", "{\"a\" 1}", "{\"a\":}", "{\"a\":1,}", "{\"a\":01}",
                          "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":tru }", "{\"a\":nul", "{\"a\":\"\\x\"}",
                          "{\"a\":\"\\u12g4\"}", "{\"a\":\"\x01\"}", "{\"a\":[1,]}", "{\"a\":[1}", "{\"a\":1]}",
                          "{}}", "{} x", "{\"a\":1}{"}) {
    std::string text(bad);
    if (text == "{\"a\":nul") {
      EXPECT_TRUE(accepts(text));  // a prefix of null
      EXPECT_FALSE(complete(text));
      continue;
    }
    EXPECT_FALSE(accepts(text)) << text;
  }
  std::string deep = "{\"a\":";
  for (int i = 0; i < JsonPrefix::kMaxDepth; ++i) deep += "[";
  EXPECT_FALSE(accepts(deep));  // nesting is bounded
}

TEST(JsonPrefix, WhatItCallsCompleteParsesAsAnObject) {
  // Random byte strings over JSON's punctuation: every accepted complete one must be a JSON object to
  // nlohmann::json, and every object nlohmann accepts (without surrounding junk) must be accepted.
  std::mt19937 rng(9);
  const std::string alphabet = "{}[]\":,0123-.eE tfnrulsa\\";
  int completes = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s = "{";
    for (int n = std::uniform_int_distribution<int>(1, 12)(rng); n > 0; --n) s += alphabet[rng() % alphabet.size()];
    const bool ours = complete(s);
    const bool theirs = nlohmann::json::accept(s) && nlohmann::json::parse(s).is_object();
    ASSERT_EQ(ours, theirs) << s;
    completes += ours ? 1 : 0;
  }
  EXPECT_GT(completes, 100);
}

// A decode over a byte vocabulary (tokens 0..255 = bytes, 256 = end, 257 = a special token) where the model
// prefers the control byte 0x01 (never valid in JSON), then the special token, then the bytes of `wanted`, then
// end.
std::string constrained_decode(const std::string& wanted, bool reasoning_first, const std::string& thought) {
  auto vocab = std::make_shared<TokenVocabulary>();
  for (int b = 0; b < 256; ++b) {
    vocab->bytes.emplace_back(1, static_cast<char>(b));
    vocab->special.push_back(false);
  }
  vocab->bytes.push_back("<end>");
  vocab->special.push_back(true);
  vocab->bytes.push_back("<special>");
  vocab->special.push_back(true);
  JsonObjectConstraint constraint(vocab, {256}, reasoning_first);
  std::string out;
  size_t next = 0;
  const std::string script = reasoning_first ? thought + wanted : wanted;
  for (int step = 0; step < 200; ++step) {
    std::vector<float> logits(258, 0.0f);
    logits[1] = 10.0f;
    logits[257] = 9.0f;
    // While thinking, the model follows its script after one stray 0x01 (unconstrained text may be anything).
    const float follow = constraint.in_answer() || step == 0 ? 5.0f : 11.0f;
    if (next < script.size()) logits[static_cast<unsigned char>(script[next])] = follow;
    logits[256] = 1.0f;
    constraint.restrict(logits);
    const auto chosen = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    constraint.accept(chosen);
    if (chosen == 256) return out;
    out += vocab->bytes[static_cast<size_t>(chosen)];
    if (next < script.size() && chosen == static_cast<unsigned char>(script[next])) ++next;
  }
  return out + "<unfinished>";
}

TEST(JsonObjectConstraint, SteersAGreedyDecodeIntoTheObjectAndEndsIt) {
  EXPECT_EQ(constrained_decode("{\"a\": [1, 2.5e3], \"b\": null}", false, ""), "{\"a\": [1, 2.5e3], \"b\": null}");
  // The chain of thought is free (the model's favourite 0x01 appears there), the answer after </think> is not.
  const std::string thought = "hmm</think>\n\n";
  const std::string out = constrained_decode("{\"ok\":true}", true, thought);
  EXPECT_EQ(out.substr(0, 1), "\x01");
  const size_t end = out.find("</think>");
  ASSERT_NE(end, std::string::npos) << out;
  EXPECT_TRUE(nlohmann::json::parse(out.substr(end + 8)).is_object()) << out;
}

}  // namespace
}  // namespace whale
