// Jinja2's filters and tests as chat templates use them, with transformers' `tojson` (json.dumps with
// ensure_ascii=False). Valid Jinja2 filters that whale does not implement fail with a clear error.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "chat/jinja_builtins.h"
#include "chat/jinja_interpreter.h"
#include "chat/jinja_string_methods.h"
#include "chat/jinja_text.h"

namespace whale::jinja {
namespace {

constexpr std::string_view kFilters[] = {
    "abs",        "attr",    "capitalize", "center",      "count",  "d",      "default",    "dictsort", "e",
    "escape",     "first",   "float",      "forceescape", "format", "indent", "int",        "items",    "join",
    "last",       "length",  "list",       "lower",       "map",    "max",    "min",        "pprint",   "reject",
    "rejectattr", "replace", "reverse",    "round",       "safe",   "select", "selectattr", "sort",     "string",
    "sum",        "title",   "tojson",     "trim",        "unique", "upper",  "wordcount"};
constexpr std::string_view kTests[] = {
    "boolean",  "callable",  "defined", "divisibleby", "eq",     "equalto", "escaped",  "even",     "false",  "filter",
    "float",    "ge",        "gt",      "greaterthan", "in",     "integer", "iterable", "le",       "lower",  "lt",
    "lessthan", "mapping",   "ne",      "none",        "number", "odd",     "sameas",   "sequence", "string", "test",
    "true",     "undefined", "upper",   "==",          "!=",     "<",       "<=",       ">",        ">="};

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// The value a filter compares by: an attribute path, lower-cased for case-insensitive string comparison.
Value sort_key(const Value& item, const Value* attribute, bool case_sensitive) {
  Value key = attribute != nullptr && !attribute->is_none() ? get_attribute_path(item, *attribute) : item;
  if (!case_sensitive && key.is_string()) return Value(ascii_lower(key.as_string()));
  return key;
}

Value do_int(const Value& v, const Value& fallback, int64_t base) {
  if (v.is_int() || v.is_bool()) return Value(v.integer());
  if (v.is_float()) {
    double d = v.as_float();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
    return Value(static_cast<int64_t>(d));
  }
  if (!v.is_string()) return fallback;
  std::string text;
  for (char c : std::string(strip_right(strip_left(v.as_string(), nullptr), nullptr))) {
    if (c != '_') text += c;
  }
  if (text.empty()) return fallback;
  errno = 0;
  char* end = nullptr;
  long long parsed = std::strtoll(text.c_str(), &end, static_cast<int>(base));
  if (errno == 0 && end == text.c_str() + text.size()) return Value(static_cast<int64_t>(parsed));
  double d = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
  return Value(static_cast<int64_t>(d));
}

Value do_float(const Value& v, const Value& fallback) {
  if (v.is_number()) return Value(v.number());
  if (!v.is_string()) return fallback;
  std::string text(strip_right(strip_left(v.as_string(), nullptr), nullptr));
  if (text.empty()) return fallback;
  char* end = nullptr;
  double d = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return fallback;
  return Value(d);
}

Value do_round(const Value& v, int64_t precision, const std::string& method) {
  if (!v.is_number()) throw EvalError(fmt::format("round() needs a number, not {}", type_name(v)));
  if (method != "common" && method != "ceil" && method != "floor") {
    throw EvalError("round() method must be 'common', 'ceil' or 'floor'");
  }
  if (method == "common" && !v.is_float()) return Value(v.integer());
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = v.number() * scale;
  double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
  return Value(r / scale);
}

std::string do_indent(const std::string& s, const std::string& indention, bool first, bool blank) {
  std::vector<std::string> lines = split_lines(s + "\n", false);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    bool indent_line = (i > 0 || first) && (blank || !lines[i].empty());
    if (indent_line) out += indention;
    out += lines[i];
  }
  return out;
}

int64_t word_count(const std::string& s) {
  int64_t count = 0;
  bool in_word = false;
  for (size_t pos = 0; pos < s.size();) {
    char32_t c = decode_utf8(s, pos);
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                (c >= 0x80 && !is_python_space(c));
    if (word && !in_word) ++count;
    in_word = word;
  }
  return count;
}

Value first_or_last(const Value& v, bool first) {
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value(Undefined{fmt::format("no {} item, sequence was empty", first ? "first" : "last")});
  return first ? items.front() : items.back();
}

Value select_items(Interpreter& interp, std::string_view name, const Value& v, CallArgs& args) {
  const bool by_attribute = name == "selectattr" || name == "rejectattr";
  const bool keep_matches = name == "select" || name == "selectattr";
  size_t next = 0;
  Value attribute;
  if (by_attribute) {
    if (args.positional.empty()) throw EvalError(fmt::format("{}() needs an attribute name", name));
    attribute = args.positional[next++];
  }
  std::string test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) throw EvalError(fmt::format("{}() test name must be a string", name));
    test = args.positional[next++].as_string();
  }
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next), args.positional.end());
  test_args.keyword = args.keyword;
  std::vector<Value> out;
  for (const Value& item : iterate(v)) {
    Value subject = by_attribute ? get_attribute_path(item, attribute) : item;
    CallArgs call_args = test_args;
    bool match = test.empty() ? truthy(subject) : apply_test(interp, test, subject, call_args);
    if (match == keep_matches) out.push_back(item);
  }
  return make_list(std::move(out));
}

Value map_items(Interpreter& interp, const Value& v, CallArgs& args) {
  auto attribute =
      std::find_if(args.keyword.begin(), args.keyword.end(), [](const auto& kv) { return kv.first == "attribute"; });
  std::vector<Value> out;
  if (attribute != args.keyword.end()) {
    ArgReader reader("map", args);
    Value path = *reader.get(99, "attribute");
    const Value* fallback = reader.get(99, "default");
    reader.finish(0);
    for (const Value& item : iterate(v)) {
      Value mapped = get_attribute_path(item, path);
      out.push_back(mapped.is_undefined() && fallback != nullptr ? *fallback : mapped);
    }
    return make_list(std::move(out));
  }
  if (args.positional.empty() || !args.positional[0].is_string()) {
    throw EvalError("map() needs a filter name or attribute=");
  }
  std::string filter = args.positional[0].as_string();
  if (!is_implemented_filter(filter)) throw EvalError(fmt::format("no filter named '{}'", filter));
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : iterate(v)) {
    CallArgs call_args = rest;
    out.push_back(apply_filter(interp, filter, item, call_args));
  }
  return make_list(std::move(out));
}

Value to_json_filter(const Value& v, CallArgs& args) {
  ArgReader r("tojson", args);
  JsonOptions options;
  options.ensure_ascii = truthy(r.get_or(0, "ensure_ascii", Value(false)));
  Value indent = r.get_or(1, "indent", Value(nullptr));
  Value separators = r.get_or(2, "separators", Value(nullptr));
  options.sort_keys = truthy(r.get_or(3, "sort_keys", Value(false)));
  r.finish(4);
  if (indent.is_int()) {
    options.indent = static_cast<int>(std::clamp<int64_t>(indent.as_int(), 0, 64));
  } else if (!indent.is_none()) {
    throw EvalError(fmt::format("tojson indent must be an integer or none, not {}", type_name(indent)));
  }
  if (!separators.is_none()) {
    std::vector<Value> parts = iterate(separators);
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string()) {
      throw EvalError("tojson separators must be a pair of strings");
    }
    options.item_separator = parts[0].as_string();
    options.key_separator = parts[1].as_string();
  }
  return Value(to_json(v, options));
}

Value sequence_filter(Interpreter& interp, std::string_view name, const Value& v, CallArgs& args) {
  ArgReader r(name, args);
  if (name == "join") {
    std::string separator = to_str(r.get_or(0, "d", Value("")));
    const Value* attribute = r.get(1, "attribute");
    r.finish(2);
    std::string out;
    bool first = true;
    for (const Value& item : iterate(v)) {
      if (!first) out += separator;
      first = false;
      out += to_str(attribute != nullptr ? get_attribute_path(item, *attribute) : item);
      interp.check_string_size(out.size());
    }
    return Value(std::move(out));
  }
  if (name == "sort" || name == "unique" || name == "min" || name == "max") {
    bool reverse = name == "sort" ? truthy(r.get_or(0, "reverse", Value(false))) : false;
    bool case_sensitive = truthy(r.get_or(name == "sort" ? 1 : 0, "case_sensitive", Value(false)));
    Value attribute = r.get_or(name == "sort" ? 2 : 1, "attribute", Value(nullptr));
    r.finish(name == "sort" ? 3 : 2);
    std::vector<Value> items = iterate(v);
    std::vector<std::pair<Value, Value>> keyed;  // (key, item)
    for (Value& item : items) keyed.emplace_back(sort_key(item, &attribute, case_sensitive), std::move(item));
    std::vector<Value> out;
    if (name == "unique") {
      std::vector<Value> seen;
      for (auto& [key, item] : keyed) {
        // Named outside the lambda: clang before 16 cannot capture a structured binding.
        const Value& item_key = key;
        if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, item_key); })) continue;
        seen.push_back(key);
        out.push_back(std::move(item));
      }
      return make_list(std::move(out));
    }
    if (name == "min" || name == "max") {
      if (keyed.empty()) return Value(Undefined{"no aggregated item, sequence was empty"});
      size_t best = 0;
      for (size_t i = 1; i < keyed.size(); ++i) {
        int c = compare(keyed[i].first, keyed[best].first);
        if (name == "min" ? c < 0 : c > 0) best = i;
      }
      return keyed[best].second;
    }
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      return reverse ? compare(b.first, a.first) < 0 : compare(a.first, b.first) < 0;
    });
    for (auto& [key, item] : keyed) out.push_back(std::move(item));
    return make_list(std::move(out));
  }
  if (name == "sum") {
    const Value* attribute = r.get(0, "attribute");
    Value total = r.get_or(1, "start", Value(int64_t{0}));
    r.finish(2);
    for (const Value& item : iterate(v)) {
      total =
          binary_op(interp, BinaryOp::Add, total, attribute != nullptr ? get_attribute_path(item, *attribute) : item);
    }
    return total;
  }
  if (name == "dictsort") {
    bool case_sensitive = truthy(r.get_or(0, "case_sensitive", Value(false)));
    std::string by = to_str(r.get_or(1, "by", Value("key")));
    bool reverse = truthy(r.get_or(2, "reverse", Value(false)));
    r.finish(3);
    if (!v.is_dict()) throw EvalError("dictsort() needs a mapping");
    if (by != "key" && by != "value") throw EvalError("dictsort() by must be 'key' or 'value'");
    std::vector<std::pair<std::string, Value>> entries = v.as_dict()->entries;
    size_t index = by == "key" ? 0 : 1;
    auto key_of = [&](const std::pair<std::string, Value>& e) {
      Value k = index == 0 ? Value(e.first) : e.second;
      return case_sensitive || !k.is_string() ? k : Value(ascii_lower(k.as_string()));
    };
    std::stable_sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) {
      return reverse ? compare(key_of(b), key_of(a)) < 0 : compare(key_of(a), key_of(b)) < 0;
    });
    std::vector<Value> out;
    for (auto& [key, value] : entries) out.push_back(make_list({Value(key), value}, true));
    return make_list(std::move(out));
  }
  throw EvalError(fmt::format("filter '{}' is not supported by whale", name));
}

}  // namespace

bool is_implemented_filter(std::string_view name) {
  return std::find(std::begin(kFilters), std::end(kFilters), name) != std::end(kFilters);
}

bool is_implemented_test(std::string_view name) {
  return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests);
}

Value apply_filter(Interpreter& interp, std::string_view name, const Value& v, CallArgs& args) {
  if (!is_implemented_filter(name)) throw EvalError(fmt::format("filter '{}' is not supported by whale", name));
  if (name == "map") return map_items(interp, v, args);
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    return select_items(interp, name, v, args);
  }
  if (name == "tojson") return to_json_filter(v, args);
  if (name == "format") {
    if (!args.positional.empty() && !args.keyword.empty())
      throw EvalError("format() takes positional or keyword arguments, not both");
    Value values = args.keyword.empty() ? make_list(args.positional, true) : make_dict(args.keyword);
    return Value(percent_format(interp, to_str(v), values));
  }
  if (name == "join" || name == "sort" || name == "unique" || name == "min" || name == "max" || name == "sum" ||
      name == "dictsort") {
    return sequence_filter(interp, name, v, args);
  }
  ArgReader r(name, args);
  if (name == "default" || name == "d") {
    Value fallback = r.get_or(0, "default_value", Value(""));
    bool boolean = truthy(r.get_or(1, "boolean", Value(false)));
    r.finish(2);
    return v.is_undefined() || (boolean && !truthy(v)) ? fallback : v;
  }
  if (name == "replace") {
    std::string old_text = to_str(r.get_or(0, "old", Value("")));
    std::string new_text = to_str(r.get_or(1, "new", Value("")));
    Value count = r.get_or(2, "count", Value(nullptr));
    r.finish(3);
    return Value(replace_all(interp, to_str(v), old_text, new_text, count.is_none() ? -1 : count.integer()));
  }
  if (name == "trim") {
    Value chars = r.get_or(0, "chars", Value(nullptr));
    r.finish(1);
    const std::string* set = chars.is_string() ? &chars.as_string() : nullptr;
    std::string s = to_str(v);
    return Value(std::string(strip_right(strip_left(s, set), set)));
  }
  if (name == "indent") {
    Value width = r.get_or(0, "width", Value(int64_t{4}));
    bool first = truthy(r.get_or(1, "first", Value(false)));
    bool blank = truthy(r.get_or(2, "blank", Value(false)));
    r.finish(3);
    std::string indention = width.is_string()
                                ? width.as_string()
                                : std::string(static_cast<size_t>(std::clamp<int64_t>(width.integer(), 0, 1024)), ' ');
    return Value(do_indent(to_str(v), indention, first, blank));
  }
  if (name == "int") {
    Value fallback = r.get_or(0, "default", Value(int64_t{0}));
    int64_t base = r.get_or(1, "base", Value(int64_t{10})).integer();
    r.finish(2);
    if (base < 2 || base > 36) throw EvalError("int() base must be between 2 and 36");
    return do_int(v, fallback, base);
  }
  if (name == "float") {
    Value fallback = r.get_or(0, "default", Value(0.0));
    r.finish(1);
    return do_float(v, fallback);
  }
  if (name == "round") {
    int64_t precision = r.get_or(0, "precision", Value(int64_t{0})).integer();
    std::string method = to_str(r.get_or(1, "method", Value("common")));
    r.finish(2);
    return do_round(v, std::clamp<int64_t>(precision, -300, 300), method);
  }
  if (name == "center") {
    int64_t width = r.get_or(0, "width", Value(int64_t{80})).integer();
    r.finish(1);
    CallArgs call_args;
    call_args.positional.emplace_back(width);
    return call_string_method(interp, to_str(v), "center", call_args);
  }
  if (name == "attr") {
    const Value* attribute = r.get(0, "name");
    r.finish(1);
    if (attribute == nullptr || !attribute->is_string()) throw EvalError("attr() needs an attribute name");
    if (v.is_dict())
      return has_method(v, attribute->as_string()) ? get_attr(v, attribute->as_string())
                                                   : Value(Undefined{"no such attribute"});
    return get_attr(v, attribute->as_string());
  }
  r.finish(0);
  if (name == "length" || name == "count") {
    switch (v.kind()) {
      case Kind::String: return Value(static_cast<int64_t>(code_point_count(v.as_string())));
      case Kind::List: return Value(static_cast<int64_t>(v.as_list()->items.size()));
      case Kind::Dict: return Value(static_cast<int64_t>(v.as_dict()->entries.size()));
      case Kind::Undefined: return Value(int64_t{0});
      default: throw EvalError(fmt::format("object of type '{}' has no len()", type_name(v)));
    }
  }
  if (name == "string") return Value(to_str(v));
  if (name == "safe") return v.is_string() ? v : Value(to_str(v));
  if (name == "pprint") return Value(to_repr(v));
  if (name == "escape" || name == "e" || name == "forceescape") return Value(html_escape(to_str(v)));
  if (name == "upper") return Value(ascii_upper(to_str(v)));
  if (name == "lower") return Value(ascii_lower(to_str(v)));
  if (name == "title") return Value(title_case(to_str(v)));
  if (name == "capitalize") return Value(capitalize(to_str(v)));
  if (name == "wordcount") return Value(word_count(to_str(v)));
  if (name == "first" || name == "last") return first_or_last(v, name == "first");
  if (name == "list") return make_list(iterate(v));
  if (name == "items") {
    if (v.is_undefined()) return make_list();
    if (!v.is_dict()) throw EvalError("can only get item pairs from a mapping");
    std::vector<Value> out;
    for (const auto& [key, value] : v.as_dict()->entries) out.push_back(make_list({Value(key), value}, true));
    return make_list(std::move(out));
  }
  if (name == "reverse") {
    if (v.is_string()) {
      std::vector<Value> chars = iterate(v);
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->as_string();
      return Value(std::move(out));
    }
    std::vector<Value> items = iterate(v);
    std::reverse(items.begin(), items.end());
    return make_list(std::move(items));
  }
  if (name == "abs") {
    if (v.is_float()) return Value(std::fabs(v.as_float()));
    if (v.is_int() || v.is_bool()) return unary_op(v.integer() < 0 ? UnaryOp::Neg : UnaryOp::Pos, v);
    throw EvalError(fmt::format("bad operand type for abs(): '{}'", type_name(v)));
  }
  throw EvalError(fmt::format("filter '{}' is not supported by whale", name));
}

bool apply_test(Interpreter& interp, std::string_view name, const Value& v, CallArgs& args) {
  if (!is_implemented_test(name)) throw EvalError(fmt::format("no test named '{}'", name));
  ArgReader r(name, args);
  const Value* other = r.get(0, "value");
  r.finish(other != nullptr ? 1 : 0);
  auto need_other = [&]() -> const Value& {
    if (other == nullptr) throw EvalError(fmt::format("test '{}' needs an argument", name));
    return *other;
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable" || name == "sequence") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "lower" || name == "upper") {
    std::string s = to_str(v);
    bool cased =
        std::any_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); });
    return cased && s == (name == "lower" ? ascii_lower(s) : ascii_upper(s));
  }
  if (name == "even" || name == "odd") {
    if (!v.is_int() && !v.is_bool())
      throw EvalError(fmt::format("test '{}' needs an integer, not {}", name, type_name(v)));
    bool even = v.integer() % 2 == 0;
    return name == "even" ? even : !even;
  }
  if (name == "filter" || name == "test") {
    return v.is_string() &&
           (name == "filter" ? is_implemented_filter(v.as_string()) : is_implemented_test(v.as_string()));
  }
  const Value& b = need_other();
  if (name == "eq" || name == "equalto" || name == "==") return equals(v, b);
  if (name == "ne" || name == "!=") return !equals(v, b);
  if (name == "lt" || name == "lessthan" || name == "<") return compare(v, b) < 0;
  if (name == "le" || name == "<=") return compare(v, b) <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return compare(v, b) > 0;
  if (name == "ge" || name == ">=") return compare(v, b) >= 0;
  if (name == "in") return contains(b, v);
  if (name == "sameas") {
    if (v.kind() != b.kind()) return false;
    if (v.is_list()) return v.as_list() == b.as_list();
    if (v.is_dict()) return v.as_dict() == b.as_dict();
    return equals(v, b);
  }
  if (name == "divisibleby") {
    if (!b.is_number() || b.number() == 0) throw EvalError("divisibleby needs a non-zero number");
    Value remainder = binary_op(interp, BinaryOp::Mod, v, b);
    return remainder.number() == 0;
  }
  throw EvalError(fmt::format("test '{}' is not supported by whale", name));
}

}  // namespace whale::jinja
