// Template engine: expressions, printing, filters, tests, methods and globals with Python's semantics. Expected
// values are what Python / Jinja2 give (worked out by hand).
#include "chat/jinja_test_util.h"

namespace whale::jinja::testing {
namespace {

using nlohmann::ordered_json;

TEST(JinjaExpressions, Arithmetic) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }}"),
            "7 9 3 -4 1 2");
  EXPECT_EQ(render("{{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ 1.5 + 1 }} {{ -(3) }}"),
            "3.5 2.0 1024 64 2.5 -3");
  EXPECT_EQ(render("{{ 'ab' * 3 }} {{ [1, 2] + [3] }} {{ 'a' ~ 1 ~ none ~ x }} {{ true + 1 }}"),
            "ababab [1, 2, 3] a1None 2");
}

TEST(JinjaExpressions, ComparisonsAndLogic) {
  EXPECT_EQ(
      render("{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ [1, 2] < [1, 3] }}"),
      "True True True True False True");
  EXPECT_EQ(render("{{ 'a' in 'cat' }} {{ 2 not in [1, 3] }} {{ 'k' in {'k': 1} }} {{ 'x' in missing }}"),
            "True True True False");
  EXPECT_EQ(render("[{{ 0 or 'x' }}] [{{ '' and 'x' }}] [{{ not none }}] [{{ [] or {} }}] [{{ not 'a' == 'b' }}]"),
            "[x] [] [True] [{}] [True]");
  EXPECT_EQ(render("{{ 'y' if 1 > 2 else 'n' }}[{{ 'y' if false }}]{{ 'a' if false else 'b' if true else 'c' }}"),
            "n[]b");
}

TEST(JinjaExpressions, PrintingFollowsPythonStr) {
  EXPECT_EQ(render("{{ none }} {{ true }} {{ false }} {{ 1.5 }} {{ 10.0 }} {{ 1e20 }} {{ 0.0001 }} {{ 1.5e-5 }}"),
            "None True False 1.5 10.0 1e+20 0.0001 1.5e-05");
  EXPECT_EQ(render("{{ {'a': [1, 'x', none, true]} }} {{ ('a',) }} {{ (1, 2) }} {{ [\"it's\"] }} {{ ['a\\nb'] }}"),
            "{'a': [1, 'x', None, True]} ('a',) (1, 2) [\"it's\"] ['a\\nb']");
  EXPECT_EQ(render("[{{ missing }}]"), "[]");
  EXPECT_EQ(render("{{ v }}", {{"v", 0.1}}), "0.1");
  EXPECT_EQ(render("{{ v }}", {{"v", 12345678901234567.0}}), "1.2345678901234568e+16");
}

TEST(JinjaExpressions, StringLiterals) {
  EXPECT_EQ(render(R"({{ 'a\nb' }}|{{ "tab\there" }}|{{ 'q\'s' }}|{{ 'x' 'y' }}|{{ '\u00e9\x41' }}|{{ '\d' }})"),
            "a\nb|tab\there|q's|xy|éA|\\d");
}

TEST(JinjaExpressions, SubscriptsAndSlices) {
  EXPECT_EQ(
      render("{{ [1, 2, 3, 4][1:3] }} {{ [1, 2, 3][::-1] }} {{ 'hello'[-3:] }} {{ 'héllo'[1] }} {{ [1, 2, 3][-1] }}"),
      "[2, 3] [3, 2, 1] llo é 3");
  EXPECT_EQ(render("{{ 'abcdef'[::2] }} {{ [1, 2, 3, 4, 5][-2::-2] }} {{ [1, 2, 3][5:] }} {{ 'ab'[:-5] }}|"),
            "ace [4, 2] [] |");
  EXPECT_EQ(render("{{ m.role }} {{ m['role'] }} {{ m.tool_calls is defined }} {{ xs.0 }} [{{ xs[9] }}]",
                   {{"m", {{"role", "user"}}}, {"xs", {7, 8}}}),
            "user user False 7 []");
  // A method name wins for attribute access, a key for subscripts (as in Jinja2).
  EXPECT_EQ(render("{{ d['items'] }} {{ d.items() | list }}", {{"d", {{"items", 5}}}}), "5 [('items', 5)]");
  EXPECT_EQ(render("[{{ none.x }}]"), "[]");
}

TEST(JinjaFilters, Strings) {
  EXPECT_EQ(render("[{{ '  a b \n' | trim }}] {{ 'Hi' | upper }} {{ 'Hi' | lower }} {{ 'hello big world' | title }}"),
            "[a b] HI hi Hello Big World");
  EXPECT_EQ(render("{{ 'hELLO' | capitalize }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'xxaxx' | trim('x') }}"),
            "Hello bba a");
  EXPECT_EQ(render("{{ 'héllo' | length }} {{ [1, 2] | length }} {{ {'a': 1} | count }} {{ missing | length }}"),
            "5 2 1 0");
  EXPECT_EQ(render("{{ '<a href=\"x\">&' | e }} {{ 'hello big world' | wordcount }} {{ '%s-%d' | format('a', 3) }}"),
            "&lt;a href=&#34;x&#34;&gt;&amp; 3 a-3");
  EXPECT_EQ(
      render("{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent('> ', blank=true) }}"),
      "a\n  b\n\n  c|  a\n  b|a\n> \n> b");
  EXPECT_EQ(
      render("{{ 'abc' | reverse }} {{ 'ab' | list }} {{ [1] | string }} {{ 5 | string ~ 'x' }} {{ 'x' | safe }}"),
      "cba ['a', 'b'] [1] 5x x");
}

TEST(JinjaFilters, DefaultFirstLastJoin) {
  EXPECT_EQ(render("{{ x | default('d') }} [{{ '' | default('d') }}] {{ '' | default('d', true) }} {{ none | d('n', "
                   "boolean=true) }}"),
            "d [] d n");
  EXPECT_EQ(render("{{ [1, 2, 3] | first }}{{ [1, 2, 3] | last }}{{ 'abc' | last }}[{{ [] | first }}]"), "13c[]");
  EXPECT_EQ(render("{{ [1, 2, 3] | join(', ') }} {{ ['a', 'b'] | join }} {{ xs | join('-', attribute='n') }}",
                   {{"xs", {{{"n", "a"}}, {{"n", "b"}}}}}),
            "1, 2, 3 ab a-b");
}

TEST(JinjaFilters, Sequences) {
  ordered_json vars = {{"msgs",
                        {{{"role", "system"}, {"content", "S"}},
                         {{"role", "user"}, {"content", "U1"}},
                         {{"role", "user"}, {"content", "U2"}}}}};
  EXPECT_EQ(render("{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }}", vars),
            "U1,U2");
  EXPECT_EQ(render("{{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='role') | list }}", vars), "['system']");
  EXPECT_EQ(render("{{ msgs | map(attribute='missing', default='-') | join }}", vars), "---");
  EXPECT_EQ(render("{{ [1, 2, 3, 4] | select('odd') | list }} {{ [0, 1, ''] | select | list }} {{ [1, 2] | "
                   "reject('==', 1) | list }}"),
            "[1, 3] [1] [2]");
  EXPECT_EQ(render("{{ ['a', 'code_interpreter'] | reject('equalto', 'code_interpreter') | join(', ') }}"), "a");
  EXPECT_EQ(render("{{ ['a', 'b'] | map('upper') | join }} {{ [' a', 'b '] | map('trim') | list }}"), "AB ['a', 'b']");
  EXPECT_EQ(render("{{ ['b', 'A', 'c'] | sort | join }} {{ ['b', 'A', 'c'] | sort(reverse=true) | join }} "
                   "{{ ['b', 'A', 'c'] | sort(case_sensitive=true) | join }}"),
            "Abc cbA Abc");
  EXPECT_EQ(render("{{ xs | sort(attribute='n') | map(attribute='n') | join }}", {{"xs", {{{"n", 2}}, {{"n", 1}}}}}),
            "12");
  EXPECT_EQ(
      render("{{ ['a', 'A', 'b'] | unique | list }} {{ [3, 1, 2] | min }}{{ [3, 1, 2] | max }}{{ [3, 1, 2] | sum }}"),
      "['a', 'b'] 136");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2} | dictsort }} {{ {'a': 1} | items | list }} {{ [1, 2] | reverse | list }}"),
            "[('a', 2), ('b', 1)] [('a', 1)] [2, 1]");
}

TEST(JinjaFilters, Numbers) {
  EXPECT_EQ(
      render("{{ '42' | int + 1 }} {{ '3.7' | int }} {{ 'x' | int(5) }} {{ ' 12 ' | int }} {{ 'ff' | int(base=16) }}"),
      "43 3 5 12 255");
  EXPECT_EQ(render("{{ '2.5' | float }} {{ 'x' | float }} {{ 3 | float }} {{ -2 | abs }} {{ -2.5 | abs }}"),
            "2.5 0.0 3.0 2 2.5");
  EXPECT_EQ(render("{{ 2.5 | round }} {{ 3.5 | round }} {{ 2.567 | round(2) }} {{ 2.1 | round(method='ceil') }} "
                   "{{ 2.9 | round(method='floor') }} {{ 7 | round }}"),
            "2.0 4.0 2.57 3.0 2.0 7");
}

TEST(JinjaFilters, ToJsonMatchesTransformers) {
  // transformers' tojson: json.dumps(ensure_ascii=False), key order kept, ", " and ": " separators.
  EXPECT_EQ(render("{{ {'b': 1, 'a': [true, none, 'é\"\\n'], 'c': 1.5} | tojson }}"),
            R"({"b": 1, "a": [true, null, "é\"\n"], "c": 1.5})");
  EXPECT_EQ(
      render("{{ {'b': 1, 'a': {'x': [1, 2], 'e': {}, 'l': []}} | tojson(indent=2) }}"),
      "{\n  \"b\": 1,\n  \"a\": {\n    \"x\": [\n      1,\n      2\n    ],\n    \"e\": {},\n    \"l\": []\n  }\n}");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }} {{ 'é🐳' | tojson(ensure_ascii=true) }}"),
            R"({"a": 2, "b": 1} "\u00e9\ud83d\udc33")");
  EXPECT_EQ(render("{{ [1, {'a': 2}] | tojson(separators=(',', ':')) }} {{ '\x01' | tojson }}"),
            R"([1,{"a":2}] "\u0001")");
  EXPECT_EQ(render("{{ tools | tojson }}", {{"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}}}),
            R"([{"type": "function", "function": {"name": "f"}}])");
}

TEST(JinjaTests, BuiltinTests) {
  EXPECT_EQ(render("{{ x is defined }} {{ x is undefined }} {{ x is not defined }} {{ none is none }} {{ 0 is none }}"),
            "False True True True False");
  EXPECT_EQ(
      render("{{ 'a' is string }} {{ {} is mapping }} {{ [] is mapping }} {{ [] is iterable }} {{ 'a' is sequence }} "
             "{{ 1 is iterable }}"),
      "True True False True True False");
  EXPECT_EQ(
      render("{{ 1 is number }} {{ 1 is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ true is integer }} "
             "{{ false is false }} {{ 1 is true }}"),
      "True True True True False True False");
  EXPECT_EQ(
      render("{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'a' is equalto 'a' }} {{ 2 is in [1, 2] }} "
             "{{ 3 is gt(2) }} {{ 'abc' is lower }} {{ 'aBc' is upper }} {{ range is callable }}"),
      "True True True True True True True False True");
}

TEST(JinjaMethods, StringMethods) {
  EXPECT_EQ(
      render(
          "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }} "
          "{{ '  a b  '.split(none, 1) }} {{ 'x</think>y</think>z'.split('</think>')[-1] }}"),
      "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b c'] ['a b', 'c'] ['a', 'b  '] z");
  EXPECT_EQ(render("[{{ '\n\nx\n '.strip('\n') }}] [{{ '\nx\n'.lstrip('\n') }}] [{{ '\nx\n'.rstrip('\n') }}] [{{ ' x "
                   "'.strip() }}]"),
            "[x\n ] [x\n] [\nx] [x]");
  EXPECT_EQ(
      render("{{ 'hello'.startswith(('x', 'he')) }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith('l', 2) }}"),
      "True True True");
  EXPECT_EQ(render("{{ 'aXbX'.replace('X', '-') }} {{ 'aXbX'.replace('X', '-', 1) }} {{ 'ab'.replace('', '.') }}"),
            "a-b- a-bX .a.b.");
  EXPECT_EQ(
      render("{{ 'Hi'.upper() }} {{ 'Hi'.lower() }} {{ 'a b'.title() }} {{ 'héllo'.find('l') }} {{ 'abc'.find('z') }} "
             "{{ 'banana'.count('an') }} {{ 'abc'.rfind('c') }}"),
      "HI hi A B 2 -1 2 2");
  EXPECT_EQ(render("{{ '-'.join(['a', 'b']) }} {{ 'pre_x'.removeprefix('pre_') }} {{ 'a\nb'.splitlines() }} {{ "
                   "'42'.isdigit() }} "
                   "{{ '7'.zfill(3) }} {{ 'a=b=c'.partition('=') }}"),
            "a-b x ['a', 'b'] True 007 ('a', '=', 'b=c')");
  EXPECT_EQ(render("{{ '{} is {}'.format('x', 1) }} {{ '{name}!'.format(name='Bo') }} {{ '{0}{0}'.format('a') }} "
                   "[{{ '{:>5}'.format('ab') }}] {{ '{:.2f}'.format(3.14159) }} {{ '{{x}}'.format() }} {{ "
                   "'{!r}'.format('q') }}"),
            "x is 1 Bo! aa [   ab] 3.14 {x} 'q'");
}

TEST(JinjaMethods, DictMethods) {
  EXPECT_EQ(
      render("{{ d.get('a') }}{{ d.get('b', 'd') }}{{ d.get('b') }} {{ d.keys() | list }} {{ d.values() | list }}",
             {{"d", {{"a", 1}}}}),
      "1dNone ['a'] [1]");
}

TEST(JinjaGlobals, RangeNamespaceDictStrftime) {
  EXPECT_EQ(
      render("{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ range(0) | list }}"),
      "[0, 1, 2] [1, 4, 7] [5, 3, 1] []");
  EXPECT_EQ(render("{{ dict(a=1, b='x') }} {{ namespace(a=1) }}"), "{'a': 1, 'b': 'x'} <Namespace {'a': 1}>");
  EXPECT_EQ(render("{{ strftime_now('%Y') | length }} {{ strftime_now is defined }}"), "4 True");
}

TEST(JinjaValues, InputJsonKeepsTypesAndOrder) {
  ordered_json vars = ordered_json::parse(R"({"v": {"z": 1, "a": [2.5, true, null, "s", -3]}})");
  EXPECT_EQ(render("{{ v }} {{ v | tojson }}", vars),
            "{'z': 1, 'a': [2.5, True, None, 's', -3]} {\"z\": 1, \"a\": [2.5, true, null, \"s\", -3]}");
}

}  // namespace
}  // namespace whale::jinja::testing
