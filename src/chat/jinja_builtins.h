// Builtins of the template engine (internal): operators, filters, tests, methods of str/dict/list, attribute
// and item lookup, and the global functions (range, namespace, dict, raise_exception, strftime_now).
// Each throws EvalError on misuse; the interpreter adds the template location.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace whale::jinja {

class Interpreter;
struct Scope;

// Reads a builtin's arguments the way Python binds them: by position or by keyword.
class ArgReader {
 public:
  ArgReader(std::string_view function, const CallArgs& args) : function_(function), args_(args) {}
  // The argument at `index` or named `name`; nullptr when absent.
  const Value* get(size_t index, std::string_view name);
  Value get_or(size_t index, std::string_view name, Value fallback);
  // Fails on positional arguments past `max_positional` and on keywords never asked for.
  void finish(size_t max_positional) const;

 private:
  std::string_view function_;
  const CallArgs& args_;
  std::vector<std::string_view> used_keywords_;
};

// ---- operators (jinja_ops.cpp) ----
Value unary_op(UnaryOp op, const Value& operand);
Value binary_op(Interpreter& interp, BinaryOp op, const Value& left, const Value& right);
bool compare_op(CompareOp op, const Value& left, const Value& right);
bool contains(const Value& container, const Value& item);
// Python's printf-style `format % args`.
std::string percent_format(Interpreter& interp, const std::string& format, const Value& args);

// ---- lookup and iteration (jinja_methods.cpp) ----
// Jinja's getattr: a method of the object, else an item; Undefined when neither exists.
Value get_attr(const Value& object, const std::string& name);
// Jinja's getitem: an item, else a method named by a string key; Undefined when neither exists.
Value get_item(const Value& object, const Value& key);
Value slice_value(const Value& object, const Value& start, const Value& stop, const Value& step);
// Python iteration: list items, dict keys, string characters; Undefined iterates as empty.
std::vector<Value> iterate(const Value& value);
// A dotted attribute path ("a.b.0") as filters like map(attribute=...) and sort(attribute=...) take it.
Value get_attribute_path(const Value& value, const Value& path);
bool has_method(const Value& object, std::string_view name);
Value call_method(Interpreter& interp, const Value& object, std::string_view name, CallArgs& args);
void install_globals(Scope& scope);

// ---- filters and tests (jinja_filters.cpp) ----
Value apply_filter(Interpreter& interp, std::string_view name, const Value& operand, CallArgs& args);
bool apply_test(Interpreter& interp, std::string_view name, const Value& operand, CallArgs& args);
bool is_implemented_filter(std::string_view name);
bool is_implemented_test(std::string_view name);

}  // namespace whale::jinja
