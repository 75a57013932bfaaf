// Values of the Jinja-subset template engine: a small variant with Python's semantics (the semantics of the
// Jinja2 that Hugging Face's apply_chat_template runs): truthiness, equality, ordering, str() and repr(), and
// the JSON conversions the chat templates need (input messages in, `tojson` out).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace whale::jinja {

class Interpreter;
struct Value;

// A Jinja Undefined: what a missing variable, key or attribute evaluates to. It prints as "", is false, and
// iterates as empty; most other uses are errors that name `hint` (e.g. "'dict object' has no attribute 'x'").
struct Undefined {
  std::string hint;
};

// Values nest at most this deep where the engine walks them (printing, tojson, comparing, converting input
// JSON), as Python's default recursion limit bounds Jinja2: deeper values, and a namespace that holds itself,
// are an EvalError instead of a stack overflow.
inline constexpr int kMaxValueNesting = 1000;

// Containers take their children apart one level at a time when the last owner goes (see jinja_value.cpp), so
// that dropping a value nested a million deep (a loop can build one) does not recurse a million times.
struct ListData {
  std::vector<Value> items;
  bool is_tuple = false;  // only changes repr(): (a, b)

  ~ListData();
};

// An insertion-ordered, string-keyed mapping (Python dict; also the storage of a namespace()).
struct DictData {
  std::vector<std::pair<std::string, Value>> entries;

  ~DictData();
  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);  // replaces in place or appends
};

// Positional and keyword arguments of a call.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Something callable: a builtin global, a bound method, a macro, a loop.cycle.
class Callable {
 public:
  virtual ~Callable() = default;
  virtual std::string name() const = 0;
  virtual Value call(CallArgs& args, Interpreter& interp) = 0;
};

using ListPtr = std::shared_ptr<ListData>;
using DictPtr = std::shared_ptr<DictData>;
using CallablePtr = std::shared_ptr<Callable>;

// A namespace() object: a mutable attribute bag, the one thing `set x.attr = ...` may write to.
struct Namespace {
  DictPtr data;
};

enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function };

struct Value {
  std::variant<Undefined, std::nullptr_t, bool, int64_t, double, std::string, ListPtr, DictPtr, Namespace, CallablePtr>
      v;

  Value() : v(Undefined{}) {}
  Value(std::nullptr_t) : v(nullptr) {}
  Value(bool b) : v(b) {}
  Value(int i) : v(int64_t{i}) {}
  Value(int64_t i) : v(i) {}
  Value(double d) : v(d) {}
  Value(std::string s) : v(std::move(s)) {}
  Value(const char* s) : v(std::string(s)) {}
  Value(ListPtr l) : v(std::move(l)) {}
  Value(DictPtr d) : v(std::move(d)) {}
  Value(Namespace n) : v(std::move(n)) {}
  Value(CallablePtr c) : v(std::move(c)) {}
  Value(Undefined u) : v(std::move(u)) {}

  Kind kind() const { return static_cast<Kind>(v.index()); }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }  // Python: bool is an int
  bool is_string() const { return kind() == Kind::String; }
  bool is_list() const { return kind() == Kind::List; }
  bool is_dict() const { return kind() == Kind::Dict; }
  bool is_namespace() const { return kind() == Kind::Namespace; }
  bool is_callable() const { return kind() == Kind::Function; }

  bool as_bool() const { return std::get<bool>(v); }
  int64_t as_int() const { return std::get<int64_t>(v); }
  double as_float() const { return std::get<double>(v); }
  const std::string& as_string() const { return std::get<std::string>(v); }
  const ListPtr& as_list() const { return std::get<ListPtr>(v); }
  const DictPtr& as_dict() const { return std::get<DictPtr>(v); }
  const Namespace& as_namespace() const { return std::get<Namespace>(v); }
  const CallablePtr& as_callable() const { return std::get<CallablePtr>(v); }
  const Undefined& as_undefined() const { return std::get<Undefined>(v); }

  // Numeric value of an int, float or bool.
  double number() const;
  // Integer value of an int or bool.
  int64_t integer() const;
};

Value make_list(std::vector<Value> items = {}, bool is_tuple = false);
Value make_dict(std::vector<std::pair<std::string, Value>> entries = {});

// Python's type names, used in error messages: 'str', 'int', 'list', 'dict', 'NoneType', 'undefined', ...
std::string type_name(const Value& value);

bool truthy(const Value& value);
// Python ==: numbers compare by value (True == 1), containers element-wise, Undefined equals Undefined.
bool equals(const Value& a, const Value& b);
// Python <: numbers, strings (by code point) and lists; throws EvalError for other pairs.
bool less(const Value& a, const Value& b);
// -1, 0 or 1 under less() and equals().
int compare(const Value& a, const Value& b);

// Python str() of a value, as `{{ value }}` prints it: None -> "None", True -> "True", 1.0 -> "1.0",
// containers in repr form, Undefined -> "".
std::string to_str(const Value& value);
// Python repr(): strings quoted as Python quotes them.
std::string to_repr(const Value& value);
// Python's float repr (shortest round trip): 1.0, 0.1, 1e+16, 1e-05, inf, nan.
std::string float_repr(double value);

struct JsonOptions {
  int indent = -1;  // < 0: single line
  bool ensure_ascii = false;
  bool sort_keys = false;
  std::string item_separator;  // empty: Python's default, ", " (or "," when indenting)
  std::string key_separator;   // empty: ": "
};
// json.dumps as transformers' `tojson` filter calls it (ensure_ascii=False by default).
std::string to_json(const Value& value, const JsonOptions& options = {});

// Converts input JSON. Object keys keep their order (ordered_json); integers stay integers. Throws EvalError
// for JSON nested deeper than kMaxValueNesting.
Value from_json(const nlohmann::ordered_json& json);

// An error raised while evaluating; the interpreter adds the template location.
class EvalError : public std::exception {
 public:
  explicit EvalError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

}  // namespace whale::jinja
