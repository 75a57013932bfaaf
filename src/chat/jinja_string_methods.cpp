// Python str methods with Python's semantics (indexes count code points; whitespace is Python's).
#include "chat/jinja_string_methods.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "chat/jinja_builtins.h"
#include "chat/jinja_interpreter.h"
#include "chat/jinja_text.h"

namespace whale::jinja {
namespace {

constexpr std::string_view kStringMethods[] = {
    "startswith", "endswith", "split",   "rsplit",  "strip",      "lstrip",       "rstrip",
    "replace",    "lower",    "upper",   "title",   "capitalize", "swapcase",     "format",
    "find",       "rfind",    "index",   "rindex",  "count",      "join",         "isdigit",
    "isalpha",    "isalnum",  "isspace", "islower", "isupper",    "removeprefix", "removesuffix",
    "splitlines", "zfill",    "center",  "ljust",   "rjust",      "partition",    "rpartition"};

const std::string& string_arg(const Value* v, std::string_view method, std::string_view what) {
  if (v == nullptr || !v->is_string()) {
    throw EvalError(fmt::format("{}() {} must be a string, not {}", method, what, v ? type_name(*v) : "missing"));
  }
  return v->as_string();
}

int64_t int_arg(const Value* v, int64_t fallback, std::string_view method) {
  if (v == nullptr || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool())
    throw EvalError(fmt::format("{}() expects an integer, not {}", method, type_name(*v)));
  return v->integer();
}

int64_t code_point_index(const std::string& text, size_t byte_offset) {
  return static_cast<int64_t>(code_point_count(std::string_view(text).substr(0, byte_offset)));
}

std::vector<Value> split(const std::string& s, const Value* sep, int64_t maxsplit) {
  std::vector<Value> out;
  if (sep == nullptr || sep->is_none()) {
    size_t pos = 0;
    for (int64_t splits = 0;; ++splits) {
      std::string_view rest = strip_left(std::string_view(s).substr(pos), nullptr);
      pos = s.size() - rest.size();
      if (rest.empty()) break;
      if (maxsplit >= 0 && splits == maxsplit) {
        out.emplace_back(std::string(rest));
        break;
      }
      size_t end = pos;
      while (end < s.size()) {
        size_t next = end;
        if (is_python_space(decode_utf8(s, next))) break;
        end = next;
      }
      out.emplace_back(s.substr(pos, end - pos));
      pos = end;
    }
    return out;
  }
  const std::string& delimiter = string_arg(sep, "split", "separator");
  if (delimiter.empty()) throw EvalError("empty separator");
  size_t pos = 0;
  for (int64_t splits = 0;; ++splits) {
    size_t found = s.find(delimiter, pos);
    if (found == std::string::npos || (maxsplit >= 0 && splits == maxsplit)) {
      out.emplace_back(s.substr(pos));
      return out;
    }
    out.emplace_back(s.substr(pos, found - pos));
    pos = found + delimiter.size();
  }
}

std::vector<Value> rsplit(const std::string& s, const Value* sep, int64_t maxsplit) {
  std::vector<Value> out;
  if (sep == nullptr || sep->is_none()) {
    size_t end = s.size();
    for (int64_t splits = 0;; ++splits) {
      std::string_view rest = strip_right(std::string_view(s).substr(0, end), nullptr);
      end = rest.size();
      if (rest.empty()) break;
      if (maxsplit >= 0 && splits == maxsplit) {
        out.emplace_back(std::string(rest));
        break;
      }
      std::vector<size_t> offsets = code_point_offsets(rest);
      size_t k = offsets.size() - 1;
      while (k > 0) {
        size_t p = offsets[k - 1];
        if (is_python_space(decode_utf8(rest, p))) break;
        --k;
      }
      out.emplace_back(std::string(rest.substr(offsets[k])));
      end = offsets[k];
    }
  } else {
    const std::string& delimiter = string_arg(sep, "rsplit", "separator");
    if (delimiter.empty()) throw EvalError("empty separator");
    size_t end = s.size();
    for (int64_t splits = 0;; ++splits) {
      size_t found = end >= delimiter.size() ? s.rfind(delimiter, end - delimiter.size()) : std::string::npos;
      if (found == std::string::npos || (maxsplit >= 0 && splits == maxsplit)) {
        out.emplace_back(s.substr(0, end));
        break;
      }
      out.emplace_back(s.substr(found + delimiter.size(), end - found - delimiter.size()));
      end = found;
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

// The part of `self` between code point indexes start and end (Python's optional start/end arguments).
std::string window(const std::string& self, const Value* start, const Value* end) {
  if ((start == nullptr || start->is_none()) && (end == nullptr || end->is_none())) return self;
  Value none(nullptr);
  return slice_value(Value(self), start ? *start : none, end ? *end : none, none).as_string();
}

bool affix_match(const std::string& text, const Value& affix, bool prefix, std::string_view method) {
  auto test = [&](const Value& candidate) {
    const std::string& a = string_arg(&candidate, method, "argument");
    if (a.size() > text.size()) return false;
    return prefix ? text.compare(0, a.size(), a) == 0 : text.compare(text.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list() && affix.as_list()->is_tuple) {
    return std::any_of(affix.as_list()->items.begin(), affix.as_list()->items.end(), test);
  }
  return test(affix);
}

std::string pad(Interpreter& interp, const std::string& text, int64_t width, char align, const std::string& fill) {
  auto length = static_cast<int64_t>(code_point_count(text));
  if (width <= length) return text;
  interp.check_string_size(static_cast<size_t>(width) * std::max<size_t>(fill.size(), 1));
  auto missing = static_cast<size_t>(width - length);
  size_t left = align == '<' ? 0 : align == '>' ? missing : missing / 2;
  if (align == '^' && (missing % 2 == 1) && (width % 2 == 1)) left = missing / 2 + 1;  // Python's center()
  std::string out;
  for (size_t i = 0; i < left; ++i) out += fill;
  out += text;
  for (size_t i = left; i < missing; ++i) out += fill;
  return out;
}

// format(value, spec) for the subset [[fill]align][sign][0][width][.precision][type].
std::string format_field(Interpreter& interp, const Value& value, const std::string& spec) {
  if (spec.empty()) return to_str(value);
  size_t i = 0;
  std::string fill = " ";
  char align = 0;
  size_t first_end = 0;
  if (!spec.empty()) {
    first_end = 0;
    decode_utf8(spec, first_end);
  }
  if (first_end < spec.size() && std::string_view("<>^").find(spec[first_end]) != std::string_view::npos) {
    fill = spec.substr(0, first_end);
    align = spec[first_end];
    i = first_end + 1;
  } else if (std::string_view("<>^").find(spec[0]) != std::string_view::npos) {
    align = spec[0];
    i = 1;
  }
  std::string sign;
  if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ')) sign = spec[i++];
  if (i < spec.size() && spec[i] == '0' && align == 0) {
    fill = "0";
    align = '>';
    ++i;
  }
  std::string width, precision;
  while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') width += spec[i++];
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') precision += spec[i++];
  }
  char type = i < spec.size() ? spec[i++] : 0;
  if (i != spec.size() || width.size() > 6 || precision.size() > 6) {
    throw EvalError(fmt::format("unsupported format specification '{}'", spec));
  }
  std::string text;
  if (value.is_string() || type == 's') {
    if (!value.is_string()) throw EvalError(fmt::format("format code 's' for object of type '{}'", type_name(value)));
    text = value.as_string();
    if (!precision.empty()) {
      std::vector<size_t> offsets = code_point_offsets(text);
      size_t keep = std::stoul(precision);
      if (keep + 1 < offsets.size()) text.resize(offsets[keep]);
    }
    if (align == 0) align = '<';
  } else if (value.is_number()) {
    char buffer[512];
    std::string printf_spec = "%" + sign + (precision.empty() ? "" : "." + precision);
    if (type == 0 && !value.is_float() && precision.empty()) {
      text = std::to_string(value.integer());
      if (!sign.empty() && sign != "-" && value.integer() >= 0) text = sign + text;
    } else if (type == 'd') {
      if (value.is_float()) throw EvalError("format code 'd' for object of type 'float'");
      std::snprintf(buffer, sizeof(buffer), (printf_spec + "lld").c_str(), static_cast<long long>(value.integer()));
      text = buffer;
    } else if (type == 0 && precision.empty()) {
      text = float_repr(value.number());
    } else if (type == 'f' || type == 'F' || type == 'e' || type == 'E' || type == 'g' || type == 'G' || type == '%' ||
               type == 0) {
      double number = value.number() * (type == '%' ? 100.0 : 1.0);
      char conversion = type == '%' ? 'f' : type == 0 ? 'g' : type;
      if (precision.empty()) printf_spec += ".6";
      std::snprintf(buffer, sizeof(buffer), (printf_spec + conversion).c_str(), number);
      text = buffer;
      if (type == '%') text += '%';
    } else {
      throw EvalError(fmt::format("unsupported format code '{}'", type));
    }
    if (align == 0) align = '>';
  } else {
    text = to_str(value);
    if (align == 0) align = '<';
  }
  return width.empty() ? text : pad(interp, text, std::stoll(width), align, fill);
}

// Python str.format with automatic or numbered fields, keyword fields, .attr and [key] lookups, !r / !s
// conversions and the common format specifications.
std::string str_format(Interpreter& interp, const std::string& format, CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}')
        ++i;
      else
        throw EvalError("single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = format.find('}', i);
    if (close == std::string::npos) throw EvalError("single '{' encountered in format string");
    std::string field = format.substr(i + 1, close - i - 1);
    i = close;
    std::string spec, conversion;
    size_t colon = field.find(':');
    if (colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    size_t bang = field.find('!');
    if (bang != std::string::npos) {
      conversion = field.substr(bang + 1);
      field.resize(bang);
    }
    size_t name_end = field.find_first_of(".[");
    std::string name = field.substr(0, name_end);
    Value value;
    if (name.empty() || std::all_of(name.begin(), name.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      size_t index = name.empty() ? auto_index++ : std::stoul(name.substr(0, 9));
      if (index >= args.positional.size()) throw EvalError(fmt::format("replacement index {} out of range", index));
      value = args.positional[index];
    } else {
      auto it =
          std::find_if(args.keyword.begin(), args.keyword.end(), [&](const auto& kv) { return kv.first == name; });
      if (it == args.keyword.end()) throw EvalError(fmt::format("format key '{}' is missing", name));
      value = it->second;
    }
    for (size_t p = name_end; p != std::string::npos && p < field.size();) {
      if (field[p] == '.') {
        size_t next = field.find_first_of(".[", p + 1);
        value = get_attr(value, field.substr(p + 1, next == std::string::npos ? std::string::npos : next - p - 1));
        p = next;
      } else {
        size_t end = field.find(']', p);
        if (end == std::string::npos) throw EvalError("missing ']' in format string");
        std::string key = field.substr(p + 1, end - p - 1);
        bool digits = !key.empty() && key.size() < 18 &&
                      std::all_of(key.begin(), key.end(), [](char d) { return d >= '0' && d <= '9'; });
        value = digits ? get_item(value, Value(static_cast<int64_t>(std::stoll(key)))) : get_item(value, Value(key));
        p = end + 1;
      }
    }
    if (conversion == "r" || conversion == "a")
      value = Value(to_repr(value));
    else if (conversion == "s")
      value = Value(to_str(value));
    else if (!conversion.empty())
      throw EvalError(fmt::format("unknown conversion '!{}'", conversion));
    out += format_field(interp, value, spec);
    interp.check_string_size(out.size());
  }
  return out;
}

bool all_code_points(const std::string& s, bool (*predicate)(char32_t)) {
  if (s.empty()) return false;
  for (size_t pos = 0; pos < s.size();) {
    if (!predicate(decode_utf8(s, pos))) return false;
  }
  return true;
}

bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
// Non-ASCII code points count as letters: close to Python for the scripts chat text uses.
bool is_alpha(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0x80 && !is_python_space(c));
}
bool is_alnum(char32_t c) { return is_alpha(c) || is_ascii_digit(c); }

}  // namespace

bool is_string_method(std::string_view name) {
  return std::find(std::begin(kStringMethods), std::end(kStringMethods), name) != std::end(kStringMethods);
}

std::vector<std::string> split_lines(std::string_view text, bool keep_ends) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t at = pos;
    char32_t cp = decode_utf8(text, pos);
    bool is_break = cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 ||
                    cp == 0x2028 || cp == 0x2029;
    if (!is_break) continue;
    if (cp == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
    lines.emplace_back(text.substr(start, (keep_ends ? pos : at) - start));
    start = pos;
  }
  if (start < text.size()) lines.emplace_back(text.substr(start));
  return lines;
}

std::string replace_all(Interpreter& interp, const std::string& text, const std::string& old_text,
                        const std::string& new_text, int64_t count) {
  std::string out;
  int64_t done = 0;
  if (old_text.empty()) {
    // Python inserts `new` before every code point and at the end.
    size_t pos = 0;
    while (count < 0 || done < count) {
      out += new_text;
      ++done;
      interp.check_string_size(out.size() + text.size() - pos);
      if (pos >= text.size()) break;
      size_t start = pos;
      decode_utf8(text, pos);
      out.append(text, start, pos - start);
    }
    out.append(text, std::min(pos, text.size()));
    return out;
  }
  size_t pos = 0;
  while (count < 0 || done < count) {
    size_t found = text.find(old_text, pos);
    if (found == std::string::npos) break;
    out.append(text, pos, found - pos);
    out += new_text;
    pos = found + old_text.size();
    ++done;
    interp.check_string_size(out.size() + text.size() - pos);
  }
  out.append(text, pos);
  return out;
}

Value call_string_method(Interpreter& interp, const std::string& self, std::string_view name, CallArgs& args) {
  if (name == "format") return Value(str_format(interp, self, args));
  ArgReader r(name, args);
  if (name == "startswith" || name == "endswith") {
    const Value* affix = r.get(0, "prefix");
    const Value* start = r.get(1, "start");
    const Value* end = r.get(2, "end");
    r.finish(3);
    if (affix == nullptr) throw EvalError(fmt::format("{}() takes at least 1 argument", name));
    return Value(affix_match(window(self, start, end), *affix, name == "startswith", name));
  }
  if (name == "split" || name == "rsplit") {
    const Value* sep = r.get(0, "sep");
    int64_t maxsplit = int_arg(r.get(1, "maxsplit"), -1, name);
    r.finish(2);
    return make_list(name == "split" ? split(self, sep, maxsplit) : rsplit(self, sep, maxsplit));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const Value* chars = r.get(0, "chars");
    r.finish(1);
    const std::string* set = chars == nullptr || chars->is_none() ? nullptr : &string_arg(chars, name, "argument");
    std::string_view view = self;
    if (name != "rstrip") view = strip_left(view, set);
    if (name != "lstrip") view = strip_right(view, set);
    return Value(std::string(view));
  }
  if (name == "replace") {
    const std::string& old_text = string_arg(r.get(0, "old"), name, "old");
    const std::string& new_text = string_arg(r.get(1, "new"), name, "new");
    int64_t count = int_arg(r.get(2, "count"), -1, name);
    r.finish(3);
    return Value(replace_all(interp, self, old_text, new_text, count));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    const std::string& sub = string_arg(r.get(0, "sub"), name, "argument");
    const Value* start = r.get(1, "start");
    const Value* end = r.get(2, "end");
    r.finish(3);
    std::string text = window(self, start, end);
    auto length = static_cast<int64_t>(code_point_count(self));
    int64_t base = 0;
    if (start != nullptr && !start->is_none()) {
      base = int_arg(start, 0, name);
      if (base < 0) base = std::max<int64_t>(0, base + length);
      base = std::min(base, length);
    }
    if (name == "count") {
      if (sub.empty()) return Value(static_cast<int64_t>(code_point_count(text)) + 1);
      int64_t n = 0;
      for (size_t p = text.find(sub); p != std::string::npos; p = text.find(sub, p + sub.size())) ++n;
      return Value(n);
    }
    size_t found = name == "find" || name == "index" ? text.find(sub) : text.rfind(sub);
    if (found == std::string::npos) {
      if (name == "index" || name == "rindex") throw EvalError("substring not found");
      return Value(int64_t{-1});
    }
    return Value(base + code_point_index(text, found));
  }
  if (name == "join") {
    const Value* items = r.get(0, "iterable");
    r.finish(1);
    if (items == nullptr) throw EvalError("join() takes exactly one argument");
    std::string out;
    size_t i = 0;
    for (const Value& item : iterate(*items)) {
      if (!item.is_string())
        throw EvalError(fmt::format("sequence item {}: expected str instance, {} found", i, type_name(item)));
      if (i++ > 0) out += self;
      out += item.as_string();
      interp.check_string_size(out.size());
    }
    return Value(std::move(out));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const std::string& affix = string_arg(r.get(0, "affix"), name, "argument");
    r.finish(1);
    bool prefix = name == "removeprefix";
    if (affix_match(self, Value(affix), prefix, name)) {
      return Value(prefix ? self.substr(affix.size()) : self.substr(0, self.size() - affix.size()));
    }
    return Value(self);
  }
  if (name == "splitlines") {
    bool keep = truthy(r.get_or(0, "keepends", Value(false)));
    r.finish(1);
    std::vector<Value> lines;
    for (std::string& line : split_lines(self, keep)) lines.emplace_back(std::move(line));
    return make_list(std::move(lines));
  }
  if (name == "zfill" || name == "center" || name == "ljust" || name == "rjust") {
    int64_t width = int_arg(r.get(0, "width"), 0, name);
    std::string fill = name == "zfill"        ? "0"
                       : r.get(1, "fillchar") ? string_arg(r.get(1, "fillchar"), name, "fillchar")
                                              : " ";
    r.finish(name == "zfill" ? 1 : 2);
    if (name == "zfill" && !self.empty() && (self[0] == '-' || self[0] == '+')) {
      return Value(self.substr(0, 1) + pad(interp, self.substr(1), width - 1, '>', "0"));
    }
    char align = name == "center" ? '^' : name == "ljust" ? '<' : '>';
    return Value(pad(interp, self, width, align, fill));
  }
  if (name == "partition" || name == "rpartition") {
    const std::string& sep = string_arg(r.get(0, "sep"), name, "separator");
    r.finish(1);
    if (sep.empty()) throw EvalError("empty separator");
    size_t found = name == "partition" ? self.find(sep) : self.rfind(sep);
    if (found == std::string::npos) {
      return name == "partition" ? make_list({Value(self), Value(""), Value("")}, true)
                                 : make_list({Value(""), Value(""), Value(self)}, true);
    }
    return make_list({Value(self.substr(0, found)), Value(sep), Value(self.substr(found + sep.size()))}, true);
  }
  r.finish(0);
  if (name == "lower") return Value(ascii_lower(self));
  if (name == "upper") return Value(ascii_upper(self));
  if (name == "title") return Value(title_case(self));
  if (name == "capitalize") return Value(capitalize(self));
  if (name == "swapcase") {
    std::string out = self;
    for (char& c : out) {
      if (c >= 'a' && c <= 'z')
        c = static_cast<char>(c - 'a' + 'A');
      else if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
    }
    return Value(std::move(out));
  }
  if (name == "isdigit") return Value(all_code_points(self, is_ascii_digit));
  if (name == "isalpha") return Value(all_code_points(self, is_alpha));
  if (name == "isalnum") return Value(all_code_points(self, is_alnum));
  if (name == "isspace") return Value(all_code_points(self, is_python_space));
  if (name == "islower" || name == "isupper") {
    bool lower = name == "islower", cased = false;
    for (char c : self) {
      if (c >= 'a' && c <= 'z') {
        if (!lower) return Value(false);
        cased = true;
      } else if (c >= 'A' && c <= 'Z') {
        if (lower) return Value(false);
        cased = true;
      }
    }
    return Value(cased);
  }
  throw EvalError(fmt::format("'str' object has no method '{}'", name));
}

}  // namespace whale::jinja
