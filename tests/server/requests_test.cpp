// Parsing and validation of API request bodies: statuses and the field each error names.
#include "server/requests.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace whale::server {
namespace {

const RequestLimits kLimits;

ApiError chat_error(const std::string& body) {
  try {
    parse_chat_completion_request(body, kLimits);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << body;
  return {};
}

TEST(ChatRequest, ParsesEveryField) {
  auto r = parse_chat_completion_request(R"({
    "model": "deepseek-reasoner",
    "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
                 {"role": "assistant", "content": "Hello", "reasoning_content": "secret"},
                 {"role": "tool", "content": "42", "tool_call_id": "call_1"}],
    "max_tokens": 64, "temperature": 0.6, "top_p": 0.95, "stop": ["\n\n", "END"], "seed": 7,
    "presence_penalty": 0.5, "frequency_penalty": -0.5, "stream": true, "stream_options": {"include_usage": true},
    "logprobs": true, "top_logprobs": 3, "response_format": {"type": "text"}, "unknown_extra": 1})",
                                         kLimits);
  EXPECT_EQ(r.options.model, "deepseek-reasoner");
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[1].content, "Hi there");
  EXPECT_EQ(r.messages[2].content, "Hello");  // reasoning_content is not part of the prompt
  EXPECT_EQ(r.messages[3].tool_call_id, "call_1");
  EXPECT_EQ(r.options.max_tokens, 64);
  EXPECT_FLOAT_EQ(r.options.sampling.temperature, 0.6f);
  EXPECT_FLOAT_EQ(r.options.sampling.top_p, 0.95f);
  EXPECT_EQ(r.options.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_TRUE(r.options.sampling.has_seed);
  EXPECT_EQ(r.options.sampling.seed, 7u);
  EXPECT_FLOAT_EQ(r.options.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r.options.sampling.frequency_penalty, -0.5f);
  EXPECT_TRUE(r.options.stream);
  EXPECT_TRUE(r.options.include_usage);
  EXPECT_TRUE(r.options.logprobs);
  EXPECT_EQ(r.options.sampling.top_logprobs, 3);
  EXPECT_FALSE(r.json_object);
}

TEST(ChatRequest, Defaults) {
  auto r = parse_chat_completion_request(R"({"messages": [{"role": "user", "content": "x"}]})", kLimits);
  EXPECT_FALSE(r.options.max_tokens.has_value());
  EXPECT_FLOAT_EQ(r.options.sampling.temperature, 1.0f);
  EXPECT_FALSE(r.options.sampling.has_seed);
  EXPECT_FALSE(r.options.stream);
  auto s = parse_chat_completion_request(R"({"messages": [{"role": "user", "content": "x"}], "stop": "END"})", kLimits);
  EXPECT_EQ(s.options.stop, std::vector<std::string>{"END"});
}

TEST(ChatRequest, MalformedBodiesAre400) {
  EXPECT_EQ(chat_error("{not json").status, 400);
  EXPECT_EQ(chat_error("[1, 2]").status, 400);
  EXPECT_EQ(chat_error("").status, 400);
  ApiError missing = chat_error(R"({"model": "x"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.param, "messages");
  ApiError no_role = chat_error(R"({"messages": [{"content": "x"}]})");
  EXPECT_EQ(no_role.status, 400);
  EXPECT_EQ(no_role.param, "messages[0].role");
}

TEST(ChatRequest, InvalidValuesAre422AndNameTheField) {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {R"({"messages": []})", "messages"},
      {R"({"messages": "hi"})", "messages"},
      {R"({"messages": [{"role": "user", "content": "a"}, {"role": "wizard", "content": "b"}]})", "messages[1].role"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": "a"}], "temperature": "hot"})", "temperature"},
      {R"({"messages": [{"role": "user", "content": "a"}], "temperature": 2.5})", "temperature"},
      {R"({"messages": [{"role": "user", "content": "a"}], "top_p": 0})", "top_p"},
      {R"({"messages": [{"role": "user", "content": "a"}], "max_tokens": 0})", "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "a"}], "max_tokens": 1.5})", "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "a"}], "stop": 3})", "stop"},
      {R"({"messages": [{"role": "user", "content": "a"}], "stop": ["ok", 3]})", "stop[1]"},
      {R"({"messages": [{"role": "user", "content": "a"}], "stop": [""]})", "stop[0]"},
      {R"({"messages": [{"role": "user", "content": "a"}], "stream": "yes"})", "stream"},
      {R"({"messages": [{"role": "user", "content": "a"}], "presence_penalty": -3})", "presence_penalty"},
      {R"({"messages": [{"role": "user", "content": "a"}], "top_logprobs": 2})", "top_logprobs"},
      {R"({"messages": [{"role": "user", "content": "a"}], "logprobs": true, "top_logprobs": 21})", "top_logprobs"},
      {R"({"messages": [{"role": "user", "content": "a"}], "n": 2})", "n"},
      {R"({"messages": [{"role": "user", "content": "a"}], "seed": "x"})", "seed"},
      {R"({"messages": [{"role": "user", "content": "a"}], "response_format": {"type": "yaml"}})",
       "response_format.type"},
      {R"({"messages": [{"role": "user", "content": "a"}], "response_format": {"type": "json_object"}})", "messages"},
      {R"({"messages": [{"role": "user", "content": "a"}], "model": 3})", "model"},
  };
  for (const Case& c : cases) {
    ApiError e = chat_error(c.body);
    EXPECT_EQ(e.status, 422) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(ChatRequest, JsonObjectNeedsTheWordJson) {
  auto r = parse_chat_completion_request(
      R"({"messages": [{"role": "user", "content": "Answer in JSON."}], "response_format": {"type": "json_object"}})",
      kLimits);
  EXPECT_TRUE(r.json_object);
}

TEST(ChatRequest, LimitsMessageCountAndStopStrings) {
  RequestLimits small;
  small.max_messages = 2;
  small.max_stop_strings = 1;
  try {
    parse_chat_completion_request(R"({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                                                   {"role": "user", "content": "c"}]})",
                                  small);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 422);
    EXPECT_NE(e.message.find("at most 2"), std::string::npos);
  }
  EXPECT_THROW(
      parse_chat_completion_request(R"({"messages": [{"role": "user", "content": "a"}], "stop": ["x", "y"]})", small),
      ApiError);
}

TEST(CompletionRequest, ParsesPromptAndLegacyLogprobs) {
  auto r = parse_completion_request(R"({"prompt": "Once upon", "max_tokens": 5, "logprobs": 2})", kLimits);
  EXPECT_EQ(r.prompt, "Once upon");
  EXPECT_TRUE(r.options.logprobs);
  EXPECT_EQ(r.options.sampling.top_logprobs, 2);
  auto list = parse_completion_request(R"({"prompt": ["one"]})", kLimits);
  EXPECT_EQ(list.prompt, "one");
  try {
    parse_completion_request(R"({"max_tokens": 5})", kLimits);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "prompt");
  }
  try {
    parse_completion_request(R"({"prompt": 12})", kLimits);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 422);
  }
}

TEST(ApiErrorBody, HasOpenAiShape) {
  ApiError e{422, "temperature: bad", "temperature", "invalid_parameter"};
  auto body = e.body();
  EXPECT_EQ(body["error"]["message"], "temperature: bad");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["param"], "temperature");
  EXPECT_EQ(body["error"]["code"], "invalid_parameter");
  ApiError bare{500, "boom", "", ""};
  EXPECT_TRUE(bare.body()["error"]["param"].is_null());
  EXPECT_TRUE(bare.body()["error"]["code"].is_null());
}

}  // namespace
}  // namespace whale::server
