// Python semantics of template values: truthiness, comparison, str/repr and JSON.
#include "chat/jinja_value.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "chat/jinja_text.h"

namespace whale::jinja {
namespace {

// Children of containers being destroyed, waiting their turn. Only the outermost teardown on a thread drains
// it; a container destroyed while it drains adds its own children here instead of destroying them itself.
thread_local std::vector<Value> teardown_queue;
thread_local bool tearing_down = false;

void tear_down(Value& child) {
  if (child.is_list() || child.is_dict() || child.is_namespace()) teardown_queue.push_back(std::move(child));
}

void drain_teardown_queue() {
  if (tearing_down) return;
  tearing_down = true;
  while (!teardown_queue.empty()) {
    // Dropped at the end of this iteration: if it was the last owner, its children join the queue.
    Value last = std::move(teardown_queue.back());
    teardown_queue.pop_back();
  }
  tearing_down = false;
}

void check_nesting(int depth) {
  if (depth > kMaxValueNesting) {
    throw EvalError(fmt::format("value nested deeper than {} levels (or containing itself)", kMaxValueNesting));
  }
}

}  // namespace

ListData::~ListData() {
  for (Value& item : items) tear_down(item);
  drain_teardown_queue();
}

DictData::~DictData() {
  for (auto& entry : entries) tear_down(entry.second);
  drain_teardown_queue();
}

const Value* DictData::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

void DictData::set(std::string key, Value value) {
  for (auto& [k, v] : entries) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

double Value::number() const {
  switch (kind()) {
    case Kind::Int: return static_cast<double>(as_int());
    case Kind::Float: return as_float();
    case Kind::Bool: return as_bool() ? 1.0 : 0.0;
    default: throw EvalError(fmt::format("expected a number, got {}", type_name(*this)));
  }
}

int64_t Value::integer() const {
  switch (kind()) {
    case Kind::Int: return as_int();
    case Kind::Bool: return as_bool() ? 1 : 0;
    default: throw EvalError(fmt::format("expected an integer, got {}", type_name(*this)));
  }
}

Value make_list(std::vector<Value> items, bool is_tuple) {
  auto list = std::make_shared<ListData>();
  list->items = std::move(items);
  list->is_tuple = is_tuple;
  return Value(std::move(list));
}

Value make_dict(std::vector<std::pair<std::string, Value>> entries) {
  auto dict = std::make_shared<DictData>();
  dict->entries = std::move(entries);
  return Value(std::move(dict));
}

std::string type_name(const Value& value) {
  switch (value.kind()) {
    case Kind::Undefined: return "undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return value.as_list()->is_tuple ? "tuple" : "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Function: return "function";
  }
  return "?";
}

bool truthy(const Value& value) {
  switch (value.kind()) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return value.as_bool();
    case Kind::Int: return value.as_int() != 0;
    case Kind::Float: return value.as_float() != 0.0;
    case Kind::String: return !value.as_string().empty();
    case Kind::List: return !value.as_list()->items.empty();
    case Kind::Dict: return !value.as_dict()->entries.empty();
    case Kind::Namespace:
    case Kind::Function: return true;
  }
  return false;
}

namespace {

bool equals_at(const Value& a, const Value& b, int depth) {
  check_nesting(depth);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.number() == b.number();
    return a.integer() == b.integer();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return a.as_string() == b.as_string();
    case Kind::List: {
      const ListData& x = *a.as_list();
      const ListData& y = *b.as_list();
      if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!equals_at(x.items[i], y.items[i], depth + 1)) return false;
      }
      return true;
    }
    case Kind::Dict: {
      const DictData& x = *a.as_dict();
      const DictData& y = *b.as_dict();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [key, value] : x.entries) {
        const Value* other = y.find(key);
        if (other == nullptr || !equals_at(value, *other, depth + 1)) return false;
      }
      return true;
    }
    case Kind::Namespace: return a.as_namespace().data == b.as_namespace().data;
    case Kind::Function: return a.as_callable() == b.as_callable();
    default: return false;
  }
}

[[noreturn]] void not_orderable(const Value& a, const Value& b) {
  throw EvalError(fmt::format("'<' not supported between instances of '{}' and '{}'", type_name(a), type_name(b)));
}

int compare_at(const Value& a, const Value& b, int depth) {
  check_nesting(depth);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.number(), y = b.number();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    int64_t x = a.integer(), y = b.integer();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.as_list()->is_tuple == b.as_list()->is_tuple) {
    const auto& x = a.as_list()->items;
    const auto& y = b.as_list()->items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals_at(x[i], y[i], depth + 1)) continue;
      return compare_at(x[i], y[i], depth + 1);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  not_orderable(a, b);
}

}  // namespace

bool equals(const Value& a, const Value& b) { return equals_at(a, b, 0); }

int compare(const Value& a, const Value& b) { return compare_at(a, b, 0); }

bool less(const Value& a, const Value& b) { return compare(a, b) < 0; }

std::string float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  std::string_view sci(buffer, result.ptr - buffer);
  std::string out;
  if (!sci.empty() && sci[0] == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  std::string_view exp_text = sci.substr(e + 1);
  if (!exp_text.empty() && exp_text[0] == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  if (exponent >= -4 && exponent < 16) {
    if (exponent >= 0) {
      size_t int_len = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_len) {
        out.append(digits).append(int_len - digits.size(), '0').append(".0");
      } else {
        out.append(digits, 0, int_len).append(1, '.').append(digits, int_len);
      }
    } else {
      out.append("0.").append(static_cast<size_t>(-exponent - 1), '0').append(digits);
    }
    return out;
  }
  out.append(digits, 0, 1);
  if (digits.size() > 1) out.append(1, '.').append(digits, 1);
  out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out;
}

namespace {

// Python's str.isprintable() for non-ASCII code points, close enough for repr(): separators, format and
// control characters and private-use code points are escaped.
bool is_printable(char32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp < 0x80) return true;
  if (cp <= 0xA0 || cp == 0xAD) return false;
  if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F)) return false;
  if ((cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF) return false;
  if ((cp >= 0xD800 && cp <= 0xF8FF) || (cp >= 0xFFF9 && cp <= 0xFFFB)) return false;
  return true;
}

std::string string_repr(const std::string& s) {
  char quote = '\'';
  if (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) quote = '"';
  std::string out(1, quote);
  for (size_t pos = 0; pos < s.size();) {
    size_t start = pos;
    char32_t cp = decode_utf8(s, pos);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (is_printable(cp)) {
      out.append(s, start, pos - start);
    } else if (cp < 0x100) {
      out += fmt::format("\\x{:02x}", static_cast<uint32_t>(cp));
    } else if (cp < 0x10000) {
      out += fmt::format("\\u{:04x}", static_cast<uint32_t>(cp));
    } else {
      out += fmt::format("\\U{:08x}", static_cast<uint32_t>(cp));
    }
  }
  out += quote;
  return out;
}

void append_repr(std::string& out, const Value& value, int depth);

void append_str(std::string& out, const Value& value) {
  switch (value.kind()) {
    case Kind::Undefined: return;
    case Kind::String: out += value.as_string(); return;
    default: append_repr(out, value, 0);
  }
}

void append_repr(std::string& out, const Value& value, int depth) {
  check_nesting(depth);
  switch (value.kind()) {
    case Kind::Undefined: return;
    case Kind::None: out += "None"; return;
    case Kind::Bool: out += value.as_bool() ? "True" : "False"; return;
    case Kind::Int: out += std::to_string(value.as_int()); return;
    case Kind::Float: out += float_repr(value.as_float()); return;
    case Kind::String: out += string_repr(value.as_string()); return;
    case Kind::List: {
      const ListData& list = *value.as_list();
      out += list.is_tuple ? '(' : '[';
      for (size_t i = 0; i < list.items.size(); ++i) {
        if (i > 0) out += ", ";
        append_repr(out, list.items[i], depth + 1);
      }
      if (list.is_tuple && list.items.size() == 1) out += ',';
      out += list.is_tuple ? ')' : ']';
      return;
    }
    case Kind::Dict:
    case Kind::Namespace: {
      const DictData& dict = value.is_dict() ? *value.as_dict() : *value.as_namespace().data;
      if (value.is_namespace()) out += "<Namespace ";
      out += '{';
      bool first = true;
      for (const auto& [key, item] : dict.entries) {
        if (!first) out += ", ";
        first = false;
        out += string_repr(key);
        out += ": ";
        append_repr(out, item, depth + 1);
      }
      out += '}';
      if (value.is_namespace()) out += '>';
      return;
    }
    case Kind::Function: out += "<function " + value.as_callable()->name() + ">"; return;
  }
}

void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t pos = 0; pos < s.size();) {
    size_t start = pos;
    char32_t cp = decode_utf8(s, pos);
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<uint32_t>(cp));
    } else if (cp >= 0x80 && ensure_ascii) {
      if (cp >= 0x10000) {
        char32_t v = cp - 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        out += fmt::format("\\u{:04x}", static_cast<uint32_t>(cp));
      }
    } else {
      out.append(s, start, pos - start);
    }
  }
  out += '"';
}

void append_json(std::string& out, const Value& value, const JsonOptions& options, int depth) {
  check_nesting(depth);
  const bool pretty = options.indent >= 0;
  const std::string item_sep = !options.item_separator.empty() ? options.item_separator : (pretty ? "," : ", ");
  const std::string key_sep = !options.key_separator.empty() ? options.key_separator : ": ";
  auto newline = [&](int level) {
    out += '\n';
    out.append(static_cast<size_t>(options.indent) * static_cast<size_t>(level), ' ');
  };
  switch (value.kind()) {
    case Kind::None: out += "null"; return;
    case Kind::Bool: out += value.as_bool() ? "true" : "false"; return;
    case Kind::Int: out += std::to_string(value.as_int()); return;
    case Kind::Float: {
      double d = value.as_float();
      if (std::isnan(d))
        out += "NaN";
      else if (std::isinf(d))
        out += d < 0 ? "-Infinity" : "Infinity";
      else
        out += float_repr(d);
      return;
    }
    case Kind::String: append_json_string(out, value.as_string(), options.ensure_ascii); return;
    case Kind::List: {
      const auto& items = value.as_list()->items;
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += item_sep;
        if (pretty) newline(depth + 1);
        append_json(out, items[i], options, depth + 1);
      }
      if (pretty) newline(depth);
      out += ']';
      return;
    }
    case Kind::Dict: {
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& entry : value.as_dict()->entries) entries.push_back(&entry);
      if (options.sort_keys) {
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto* a, const auto* b) { return a->first < b->first; });
      }
      if (entries.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += item_sep;
        if (pretty) newline(depth + 1);
        append_json_string(out, entries[i]->first, options.ensure_ascii);
        out += key_sep;
        append_json(out, entries[i]->second, options, depth + 1);
      }
      if (pretty) newline(depth);
      out += '}';
      return;
    }
    default: throw EvalError(fmt::format("Object of type {} is not JSON serializable", type_name(value)));
  }
}

}  // namespace

std::string to_str(const Value& value) {
  if (value.is_string()) return value.as_string();
  std::string out;
  append_str(out, value);
  return out;
}

std::string to_repr(const Value& value) {
  std::string out;
  append_repr(out, value, 0);
  return out;
}

std::string to_json(const Value& value, const JsonOptions& options) {
  std::string out;
  append_json(out, value, options, 0);
  return out;
}

namespace {

Value from_json_at(const nlohmann::ordered_json& json, int depth) {
  check_nesting(depth);
  using Type = nlohmann::ordered_json::value_t;
  switch (json.type()) {
    case Type::null: return Value(nullptr);
    case Type::boolean: return Value(json.get<bool>());
    case Type::number_integer: return Value(json.get<int64_t>());
    case Type::number_unsigned: {
      uint64_t u = json.get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case Type::number_float: return Value(json.get<double>());
    case Type::string: return Value(json.get<std::string>());
    case Type::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(from_json_at(item, depth + 1));
      return make_list(std::move(items));
    }
    case Type::object: {
      std::vector<std::pair<std::string, Value>> entries;
      entries.reserve(json.size());
      for (const auto& [key, item] : json.items()) entries.emplace_back(key, from_json_at(item, depth + 1));
      return make_dict(std::move(entries));
    }
    default: return Value(nullptr);  // binary and discarded values do not come from parsed JSON text
  }
}

}  // namespace

Value from_json(const nlohmann::ordered_json& json) { return from_json_at(json, 0); }

}  // namespace whale::jinja
