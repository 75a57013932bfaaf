// Template engine: whitespace control (trim_blocks + lstrip_blocks as transformers configures Jinja2), statements
// and scoping. Expected outputs are worked out by hand from Jinja2's documented behaviour.
#include "chat/jinja_test_util.h"

namespace whale::jinja::testing {
namespace {

using nlohmann::ordered_json;

TEST(JinjaWhitespace, TrimBlocksDropsTheNewlineAfterABlockTag) {
  EXPECT_EQ(render("{% if true %}\n  yes\n{% endif %}\n"), "  yes\n");
  EXPECT_EQ(render("a{# comment #}\nb"), "ab");
  // Expressions are not blocks: their newline stays.
  EXPECT_EQ(render("{{ 'a' }}\n{{ 'b' }}"), "a\nb");
}

TEST(JinjaWhitespace, LstripBlocksRemovesIndentationBeforeBlockTags) {
  EXPECT_EQ(render("  {% if true %}x{% endif %}"), "x");
  EXPECT_EQ(render("line\n    {% if true %}x\n    {% endif %}end"), "line\nx\nend");
  EXPECT_EQ(render("  {# c #}\nb"), "b");
  // Only whitespace may precede the tag on its line.
  EXPECT_EQ(render("a  {% if true %}b{% endif %}"), "a  b");
  // Not before expressions.
  EXPECT_EQ(render("  {{ 'x' }}"), "  x");
}

TEST(JinjaWhitespace, MinusAndPlusModifiers) {
  EXPECT_EQ(render("x \n  {{- 'a' -}} \n y"), "xay");
  EXPECT_EQ(render("a\n\n{%- if true -%}\n\n b {%- endif %}"), "ab");
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}"), "  x");
  EXPECT_EQ(render("{% if true +%}\nx{% endif %}"), "\nx");
}

TEST(JinjaWhitespace, NewlinesOfTheSource) {
  EXPECT_EQ(render("x\n"), "x");  // one trailing newline is dropped
  EXPECT_EQ(render("x\n\n"), "x\n");
  EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc");
}

TEST(JinjaWhitespace, RawBlocksAreText) {
  EXPECT_EQ(render("{% raw %}{{ x }}{% if %}{% endraw %}!"), "{{ x }}{% if %}!");
}

TEST(JinjaStatements, IfElifElse) {
  const char* source = "{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %}";
  EXPECT_EQ(render(source, {{"n", 1}}), "one");
  EXPECT_EQ(render(source, {{"n", 2}}), "two");
  EXPECT_EQ(render(source, {{"n", 3}}), "many");
}

TEST(JinjaStatements, LoopVariables) {
  EXPECT_EQ(render("{% for x in ['a','b','c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
                   "{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}"),
            "10TrueFalse332|21FalseFalse321|32FalseTrue310|");
  EXPECT_EQ(render("{% for x in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }},{% endfor %}"), "-2,1-3,2-,");
  EXPECT_EQ(render("{% for x in range(4) %}{{ loop.cycle('a', 'b') }}{% endfor %}"), "abab");
}

TEST(JinjaStatements, NestedLoopsSeeTheirOwnLoopVariable) {
  EXPECT_EQ(
      render("{% for a in [1,2] %}{% for b in [1,2,3] %}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}"),
      "1231;1232;");
}

TEST(JinjaStatements, ForElseFilterAndUnpacking) {
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in range(10) if x is even %}{{ x }}/{{ loop.length }},{% endfor %}"),
            "0/5,2/5,4/5,6/5,8/5,");
  EXPECT_EQ(render("{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}"), "ab");
  EXPECT_EQ(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "a=1;b=2;");
  EXPECT_EQ(render("{% for (a, b) in [[1, 2], [3, 4]] %}{{ a + b }},{% endfor %}"), "3,7,");
  EXPECT_EQ(render("{% for c in 'hé' %}[{{ c }}]{% endfor %}"), "[h][é]");
  EXPECT_EQ(render("{% for x in missing %}x{% endfor %}"), "");
}

TEST(JinjaStatements, BreakAndContinue) {
  EXPECT_EQ(render("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}"
                   "{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "0134");
}

TEST(JinjaStatements, ScopingFollowsJinja) {
  // A loop body has its own scope; if does not. namespace() carries values out of loops.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(render("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}"), "2");
  EXPECT_EQ(render("{% set ns = namespace(x=1) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}"),
            "4");
  EXPECT_EQ(render("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}"), "12");
  EXPECT_EQ(render("{% set a, b = [1, 2] %}{{ b }}{{ a }}"), "21");
  // Top-level variables can be reassigned (templates do `set messages = messages[1:]`).
  EXPECT_EQ(render("{% set messages = messages[1:] %}{{ messages | length }}", {{"messages", {1, 2, 3}}}), "2");
}

TEST(JinjaStatements, BlockSet) {
  EXPECT_EQ(render("{% set s %}Hello {{ 'W' }}{% endset %}[{{ s }}]"), "[Hello W]");
  EXPECT_EQ(render("{% set s | upper | trim %} abc {% endset %}[{{ s }}]"), "[ABC]");
}

TEST(JinjaStatements, Macros) {
  EXPECT_EQ(render("{% macro greet(name, greeting='Hi') %}{{ greeting }}, {{ name }}!{% endmacro %}"
                   "{{ greet('Ann') }} {{ greet('Bob', greeting='Yo') }} {{ greet(greeting='Hey', name='Cy') }}"),
            "Hi, Ann! Yo, Bob! Hey, Cy!");
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}"), "321");
  EXPECT_EQ(render("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}"), "1[2]{'k': 3}");
  // A macro sees the namespace it was defined beside and can change it.
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% macro bump() %}{% set ns.n = ns.n + 1 %}{% endmacro %}"
                   "{{ bump() }}{{ bump() }}{{ ns.n }}"),
            "2");
  // Missing arguments are undefined.
  EXPECT_EQ(render("{% macro m(a, b) %}{{ b is defined }}{% endmacro %}{{ m(1) }}"), "False");
}

TEST(JinjaStatements, CallFilterWithAndGenerationBlocks) {
  EXPECT_EQ(render("{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
                   "{% call wrap('b') %}bold{% endcall %}"),
            "<b>bold</b>");
  EXPECT_EQ(render("{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}"
                   "{% call(x) each([1, 2]) %}<{{ x }}>{% endcall %}"),
            "<1><2>");
  EXPECT_EQ(render("{% filter upper %}abc{{ 'd' }}{% endfilter %}"), "ABCD");
  EXPECT_EQ(render("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]"), "3[]");
  EXPECT_EQ(render("{% generation %}x{% endgeneration %}"), "x");
}

TEST(JinjaStatements, Comments) { EXPECT_EQ(render("a{# {{ ignored }} {% if %} #}b{#- x -#}  c"), "abc"); }

}  // namespace
}  // namespace whale::jinja::testing
