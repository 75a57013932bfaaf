// Template engine: errors name the template, line and column; unsupported constructs are refused; runaway
// templates stop at the render limits instead of exhausting memory, stack or time.
#include <gmock/gmock.h>

#include <random>

#include "chat/jinja_test_util.h"

namespace whale::jinja::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(JinjaErrors, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("line1\n{{ 1 + }}"), "t:2:8: unexpected '}}'");
  EXPECT_EQ(error_of("{% for x in y %}abc"), "t:1:20: unexpected end of template, expected 'endfor' or 'else'");
  EXPECT_EQ(error_of("{{ 'abc }}"), "t:1:4: unterminated string literal");
  EXPECT_EQ(error_of("{{ a ; b }}"), "t:1:6: unexpected character ';' in tag");
  EXPECT_EQ(error_of("ab\n  {{ x"), "t:2:3: unexpected end of template, expected '}}'");
  EXPECT_EQ(error_of("{# open"), "t:1:1: unterminated comment, expected '#}'");
  EXPECT_EQ(error_of("{% if x %}{% endfor %}"), "t:1:14: unknown tag 'endfor'");
  EXPECT_EQ(error_of("{% break %}"), "t:1:4: 'break' outside of a for loop");
  // Column counts code points, not bytes.
  EXPECT_EQ(error_of("ééé{{ ) }}"), "t:1:7: unexpected ')'");
}

TEST(JinjaErrors, UnsupportedConstructsAreNamed) {
  EXPECT_EQ(error_of("{% include 'x.jinja' %}"), "t:1:4: unsupported tag 'include'");
  EXPECT_EQ(error_of("\n{% extends 'base' %}"), "t:2:4: unsupported tag 'extends'");
  EXPECT_EQ(error_of("{% frobnicate %}"), "t:1:4: unknown tag 'frobnicate'");
  EXPECT_EQ(error_of("{{ x | frobnicate }}"), "t:1:8: no filter named 'frobnicate'");
  EXPECT_EQ(error_of("{{ x is frobnicated }}"), "t:1:9: no test named 'frobnicated'");
  EXPECT_EQ(error_of("{% for x in y recursive %}{% endfor %}"), "t:1:15: unsupported: recursive for loops");
  EXPECT_EQ(error_of("{{ f(*args) }}"), "t:1:6: unsupported: * and ** arguments");
  // A Jinja2 filter whale does not implement fails where it is used.
  EXPECT_EQ(error_of("\n  {{ 'abc' | truncate(2) }}"), "t:2:14: filter 'truncate' is not supported by whale");
}

TEST(JinjaErrors, RuntimeErrorsNameTheExpression) {
  EXPECT_EQ(error_of("\n\n  {{ 'a' + 1 }}"), "t:3:6: unsupported operand type(s) for +: 'str' and 'int'");
  EXPECT_EQ(error_of("{{ raise_exception('bad input') }}"), "t:1:4: raise_exception: bad input");
  EXPECT_EQ(error_of("{{ x.y }}"), "t:1:5: 'x' is undefined");
  EXPECT_EQ(error_of("{{ m.a.b }}", {{"m", nlohmann::ordered_json::object()}}),
            "t:1:7: 'dict object' has no attribute 'a'");
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), "t:1:4: integer division or modulo by zero");
  EXPECT_EQ(error_of("{% for x in 5 %}{% endfor %}"), "t:1:1: 'int' object is not iterable");
  EXPECT_EQ(error_of("{% set x = 1 %}{% set x.y = 2 %}"),
            "t:1:16: cannot assign attribute 'y' on 'x': it is not a namespace()");
  EXPECT_EQ(error_of("{{ [1].append(2) }}"),
            "t:1:7: access to attribute 'append' of 'list' object is unsafe (templates cannot modify values)");
  EXPECT_EQ(error_of("{{ 'a'.split('') }}"), "t:1:7: empty separator");
  EXPECT_EQ(error_of("{{ 9223372036854775807 + 1 }}"), "t:1:4: integer overflow (whale's integers are 64-bit)");
  EXPECT_THAT(error_of("{{ [1, 'a'] | sort }}"), StartsWith("t:1:15: '<' not supported between instances of "));
}

TEST(JinjaLimits, DeepNestingIsRefused) {
  std::string deep = "{{ " + std::string(1000, '(') + "1" + std::string(1000, ')') + " }}";
  EXPECT_THAT(error_of(deep), HasSubstr("nested too deeply"));
  std::string chain = "{{ 1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  chain += " }}";
  EXPECT_THAT(error_of(chain), HasSubstr("expression nested too deeply"));
  std::string blocks;
  for (int i = 0; i < 1000; ++i) blocks += "{% if true %}";
  EXPECT_THAT(error_of(blocks), HasSubstr("nested too deeply"));
}

TEST(JinjaLimits, RunawayRecursionStops) {
  EXPECT_THAT(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"),
              HasSubstr("macro calls nested deeper than 100 (runaway recursion in 'f'?)"));
}

TEST(JinjaLimits, OutputAndStringSizes) {
  RenderLimits limits;
  limits.max_output_bytes = 1 << 20;
  EXPECT_THAT(
      error_of("{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}", nlohmann::ordered_json::object(), limits),
      HasSubstr("output exceeds the limit of 1048576 bytes"));
  EXPECT_THAT(error_of("{{ 'x' * 10000000000000 }}", nlohmann::ordered_json::object(), limits),
              HasSubstr("exceeds the limit of 1048576 bytes"));
  EXPECT_THAT(
      error_of("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
               nlohmann::ordered_json::object(), limits),
      HasSubstr("exceeds the limit"));
  EXPECT_THAT(error_of("{{ range(1000000000000) | length }}"), HasSubstr("exceeds the limit of 1048576 items"));
  EXPECT_THAT(error_of("{{ [1] * 1000000000000 }}"), HasSubstr("items"));
}

TEST(JinjaLimits, IterationBudget) {
  RenderLimits limits;
  limits.max_iterations = 1000;
  EXPECT_EQ(error_of("{% for i in range(30) %}{% for j in range(30) %}{% endfor %}{% endfor %}",
                     nlohmann::ordered_json::object(), limits),
            "");
  EXPECT_THAT(error_of("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}",
                       nlohmann::ordered_json::object(), limits),
              HasSubstr("more than 1000 loop iterations"));
}

TEST(JinjaLimits, LimitsDoNotStopNormalTemplates) {
  std::string source = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}";
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  for (int i = 0; i < 2000; ++i) messages.push_back({{"role", "user"}, {"content", std::string(100, 'a')}});
  EXPECT_EQ(render(source, {{"messages", messages}}).size(), 2000u * (6 + 100 + 1));
}

TEST(JinjaErrors, TemplateNameLeadsTheMessage) {
  try {
    Template("{{ }}", "models/x/tokenizer_config.json chat_template");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), StartsWith("models/x/tokenizer_config.json chat_template:1:4: "));
  }
}

// Random token soup: every input either renders or fails with whale::Error; nothing else escapes.
TEST(JinjaErrors, RandomTemplatesNeverCrash) {
  static const char* const kPieces[] = {
      "{{",       "}}",     "{%",      "%}",     "{#",        "#}",       "{%-",     "-%}",
      "{{-",      "-}}",    " ",       "\n",     "x",         "messages", "m",       "loop",
      "ns",       ".",      "[",       "]",      "(",         ")",        "{",       "}",
      ",",        ":",      "|",       "'s'",    "\"t\"",     "1",        "-1",      "2.5",
      "+",        "-",      "*",       "/",      "//",        "%",        "**",      "~",
      "==",       "<",      "not",     "in",     "is",        "and",      "or",      "if",
      "else",     "elif",   "endif",   "for",    "endfor",    "set",      "endset",  "macro",
      "endmacro", "call",   "endcall", "filter", "endfilter", "raw",      "endraw",  "namespace(a=1)",
      "range(3)", "length", "trim",    "tojson", "join",      "map",      "defined", "none",
      "true",     "=",      "content", "role",   "split",     "items",    "break",   "continue",
      "caller",   "é",      "\xff"};
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> piece(0, std::size(kPieces) - 1);
  std::uniform_int_distribution<int> length(1, 40);
  nlohmann::ordered_json vars = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"x", {1, 2}}};
  RenderLimits limits;
  limits.max_output_bytes = 1 << 16;
  limits.max_iterations = 10000;
  int rendered = 0, failed = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string source;
    for (int i = length(rng); i > 0; --i) source += kPieces[piece(rng)];
    try {
      Template(source, "fuzz").render(vars, limits);
      ++rendered;
    } catch (const Error&) {
      ++failed;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "non-whale exception " << e.what() << " for " << source;
    }
  }
  EXPECT_GT(rendered, 0);
  EXPECT_GT(failed, 0);
}

}  // namespace
}  // namespace whale::jinja::testing
