// Operators of the template engine with Python's semantics: arithmetic on int/float (bool counts as int),
// str and list concatenation and repetition, `in`, comparisons, and printf-style `%` formatting.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "chat/jinja_builtins.h"
#include "chat/jinja_interpreter.h"
#include "chat/jinja_text.h"

namespace whale::jinja {
namespace {

const char* op_symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
    case BinaryOp::FloorDiv: return "//";
    case BinaryOp::Mod: return "%";
    case BinaryOp::Pow: return "**";
    case BinaryOp::Concat: return "~";
    case BinaryOp::And: return "and";
    case BinaryOp::Or: return "or";
  }
  return "?";
}

[[noreturn]] void unsupported(BinaryOp op, const Value& a, const Value& b) {
  throw EvalError(
      fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op_symbol(op), type_name(a), type_name(b)));
}

[[noreturn]] void overflow() { throw EvalError("integer overflow (whale's integers are 64-bit)"); }

int64_t checked_int_pow(int64_t base, int64_t exponent) {
  int64_t result = 1;
  while (exponent > 0) {
    if ((exponent & 1) && __builtin_mul_overflow(result, base, &result)) overflow();
    exponent >>= 1;
    if (exponent > 0 && __builtin_mul_overflow(base, base, &base)) overflow();
  }
  return result;
}

Value repeat_string(Interpreter& interp, const std::string& s, int64_t count) {
  if (count <= 0 || s.empty()) return Value(std::string());
  if (static_cast<uint64_t>(count) > interp.limits().max_output_bytes / s.size() + 1) {
    interp.check_string_size(interp.limits().max_output_bytes + 1);
  }
  interp.check_string_size(s.size() * static_cast<size_t>(count));
  std::string out;
  out.reserve(s.size() * static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) out += s;
  return Value(std::move(out));
}

Value repeat_list(Interpreter& interp, const ListData& list, int64_t count) {
  std::vector<Value> items;
  if (count > 0 && !list.items.empty()) {
    if (static_cast<uint64_t>(count) > interp.limits().max_items / list.items.size() + 1) {
      interp.check_item_count(interp.limits().max_items + 1);
    }
    interp.check_item_count(list.items.size() * static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) items.insert(items.end(), list.items.begin(), list.items.end());
  }
  return make_list(std::move(items), list.is_tuple);
}

Value arithmetic(BinaryOp op, const Value& a, const Value& b) {
  if (a.is_float() || b.is_float()) {
    double x = a.number(), y = b.number();
    switch (op) {
      case BinaryOp::Add: return Value(x + y);
      case BinaryOp::Sub: return Value(x - y);
      case BinaryOp::Mul: return Value(x * y);
      case BinaryOp::Div:
        if (y == 0) throw EvalError("float division by zero");
        return Value(x / y);
      case BinaryOp::FloorDiv:
        if (y == 0) throw EvalError("float floor division by zero");
        return Value(std::floor(x / y));
      case BinaryOp::Mod: {
        if (y == 0) throw EvalError("float modulo by zero");
        double r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return Value(r);
      }
      case BinaryOp::Pow:
        if (x == 0 && y < 0) throw EvalError("0.0 cannot be raised to a negative power");
        return Value(std::pow(x, y));
      default: break;
    }
    unsupported(op, a, b);
  }
  int64_t x = a.integer(), y = b.integer(), r = 0;
  switch (op) {
    case BinaryOp::Add:
      if (__builtin_add_overflow(x, y, &r)) overflow();
      return Value(r);
    case BinaryOp::Sub:
      if (__builtin_sub_overflow(x, y, &r)) overflow();
      return Value(r);
    case BinaryOp::Mul:
      if (__builtin_mul_overflow(x, y, &r)) overflow();
      return Value(r);
    case BinaryOp::Div:
      if (y == 0) throw EvalError("division by zero");
      return Value(static_cast<double>(x) / static_cast<double>(y));
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod: {
      if (y == 0) throw EvalError("integer division or modulo by zero");
      if (x == std::numeric_limits<int64_t>::min() && y == -1) overflow();
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return Value(op == BinaryOp::FloorDiv ? q : m);
    }
    case BinaryOp::Pow:
      if (y < 0) {
        if (x == 0) throw EvalError("0.0 cannot be raised to a negative power");
        return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
      }
      return Value(checked_int_pow(x, y));
    default: break;
  }
  unsupported(op, a, b);
}

}  // namespace

Value unary_op(UnaryOp op, const Value& operand) {
  if (op == UnaryOp::Not) return Value(!truthy(operand));
  if (operand.is_undefined()) throw EvalError(operand.as_undefined().hint);
  if (operand.is_float()) return Value(op == UnaryOp::Neg ? -operand.as_float() : operand.as_float());
  if (operand.is_int() || operand.is_bool()) {
    int64_t v = operand.integer();
    if (op == UnaryOp::Pos) return Value(v);
    if (v == std::numeric_limits<int64_t>::min()) overflow();
    return Value(-v);
  }
  throw EvalError(
      fmt::format("bad operand type for unary {}: '{}'", op == UnaryOp::Neg ? "-" : "+", type_name(operand)));
}

Value binary_op(Interpreter& interp, BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::Concat) {
    std::string out = to_str(a);
    std::string right = to_str(b);
    interp.check_string_size(out.size() + right.size());
    out += right;
    return Value(std::move(out));
  }
  if (a.is_undefined()) throw EvalError(a.as_undefined().hint);
  if (b.is_undefined()) throw EvalError(b.as_undefined().hint);
  if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
  switch (op) {
    case BinaryOp::Add:
      if (a.is_string() && b.is_string()) {
        interp.check_string_size(a.as_string().size() + b.as_string().size());
        return Value(a.as_string() + b.as_string());
      }
      if (a.is_list() && b.is_list() && a.as_list()->is_tuple == b.as_list()->is_tuple) {
        std::vector<Value> items = a.as_list()->items;
        interp.check_item_count(items.size() + b.as_list()->items.size());
        items.insert(items.end(), b.as_list()->items.begin(), b.as_list()->items.end());
        return make_list(std::move(items), a.as_list()->is_tuple);
      }
      break;
    case BinaryOp::Mul:
      if (a.is_string() && (b.is_int() || b.is_bool())) return repeat_string(interp, a.as_string(), b.integer());
      if (b.is_string() && (a.is_int() || a.is_bool())) return repeat_string(interp, b.as_string(), a.integer());
      if (a.is_list() && (b.is_int() || b.is_bool())) return repeat_list(interp, *a.as_list(), b.integer());
      if (b.is_list() && (a.is_int() || a.is_bool())) return repeat_list(interp, *b.as_list(), a.integer());
      break;
    case BinaryOp::Mod:
      if (a.is_string()) return Value(percent_format(interp, a.as_string(), b));
      break;
    default: break;
  }
  unsupported(op, a, b);
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::String:
      if (!item.is_string()) {
        throw EvalError(fmt::format("'in <string>' requires string as left operand, not {}", type_name(item)));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Kind::List:
      for (const Value& v : container.as_list()->items) {
        if (equals(v, item)) return true;
      }
      return false;
    case Kind::Dict: return item.is_string() && container.as_dict()->find(item.as_string()) != nullptr;
    case Kind::Undefined: return false;
    default: throw EvalError(fmt::format("argument of type '{}' is not iterable", type_name(container)));
  }
}

bool compare_op(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::Eq: return equals(a, b);
    case CompareOp::Ne: return !equals(a, b);
    case CompareOp::Lt: return compare(a, b) < 0;
    case CompareOp::Le: return compare(a, b) <= 0;
    case CompareOp::Gt: return compare(a, b) > 0;
    case CompareOp::Ge: return compare(a, b) >= 0;
    case CompareOp::In: return contains(b, a);
    case CompareOp::NotIn: return !contains(b, a);
  }
  return false;
}

std::string percent_format(Interpreter& interp, const std::string& format, const Value& args) {
  std::vector<Value> positional;
  const DictData* mapping = nullptr;
  if (args.is_list() && args.as_list()->is_tuple)
    positional = args.as_list()->items;
  else if (args.is_dict())
    mapping = args.as_dict().get();
  else
    positional.push_back(args);
  size_t next_arg = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i >= format.size()) throw EvalError("incomplete format");
    const Value* arg = nullptr;
    if (format[i] == '(') {
      size_t close = format.find(')', i);
      if (close == std::string::npos || mapping == nullptr) throw EvalError("format requires a mapping");
      arg = mapping->find(format.substr(i + 1, close - i - 1));
      if (arg == nullptr)
        throw EvalError(fmt::format("format key '{}' is missing", format.substr(i + 1, close - i - 1)));
      i = close + 1;
    }
    std::string flags;
    while (i < format.size() && std::string_view("-+ #0").find(format[i]) != std::string_view::npos)
      flags += format[i++];
    std::string width, precision;
    while (i < format.size() && format[i] >= '0' && format[i] <= '9') width += format[i++];
    if (i < format.size() && format[i] == '.') {
      precision.push_back('.');
      ++i;
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') precision += format[i++];
    }
    if (i >= format.size()) throw EvalError("incomplete format");
    if (width.size() > 6 || precision.size() > 7) throw EvalError("format width or precision too large");
    char conversion = format[i];
    if (conversion == '%') {
      out += '%';
      continue;
    }
    if (arg == nullptr) {
      if (next_arg >= positional.size()) throw EvalError("not enough arguments for format string");
      arg = &positional[next_arg++];
    }
    std::string spec = "%" + flags + width + precision;
    char buffer[512];
    switch (conversion) {
      case 's':
      case 'r':
      case 'a': {
        std::string text = conversion == 's' ? to_str(*arg) : to_repr(*arg);
        if (precision.size() > 1) {
          std::vector<size_t> offsets = code_point_offsets(text);
          size_t keep = std::stoul(precision.substr(1));
          if (keep + 1 < offsets.size()) text.resize(offsets[keep]);
        }
        size_t pad = width.empty() ? 0 : std::stoul(width);
        size_t length = code_point_count(text);
        if (pad > length) {
          interp.check_string_size(pad);
          std::string fill(pad - length, ' ');
          text = flags.find('-') != std::string::npos ? text + fill : fill + text;
        }
        out += text;
        continue;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        if (!arg->is_number())
          throw EvalError(fmt::format("%{} format: a number is required, not {}", conversion, type_name(*arg)));
        long long v =
            arg->is_float() ? static_cast<long long>(arg->as_float()) : static_cast<long long>(arg->integer());
        char c = conversion == 'i' || conversion == 'u' ? 'd' : conversion;
        std::snprintf(buffer, sizeof(buffer), (spec + "ll" + c).c_str(), v);
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G':
        if (!arg->is_number())
          throw EvalError(fmt::format("%{} format: a real number is required, not {}", conversion, type_name(*arg)));
        std::snprintf(buffer, sizeof(buffer), (spec + conversion).c_str(), arg->number());
        break;
      default: throw EvalError(fmt::format("unsupported format character '{}'", conversion));
    }
    out += buffer;
    interp.check_string_size(out.size());
  }
  if (mapping == nullptr && next_arg < positional.size()) {
    throw EvalError("not all arguments converted during string formatting");
  }
  return out;
}

}  // namespace whale::jinja
