// Tree-walking evaluator of the template engine (internal). Scopes follow Jinja2: a for loop, a macro call and
// a with block open a scope; if does not, so `set` inside a loop body stays in the loop (hence namespace()).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_template.h"
#include "chat/jinja_value.h"

namespace whale::jinja {

struct Scope {
  std::shared_ptr<Scope> parent;
  std::vector<std::pair<std::string, Value>> vars;

  explicit Scope(std::shared_ptr<Scope> p = nullptr) : parent(std::move(p)) {}
  const Value* find(std::string_view name) const;
  void set(std::string_view name, Value value);
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow { Normal, Break, Continue };

class Interpreter {
 public:
  Interpreter(std::string_view source, std::string_view name, const RenderLimits& limits)
      : source_(source), name_(name), limits_(limits) {}
  // Breaks the reference cycles a render can leave (a macro held by the scope it closes over, a namespace
  // stored in itself) so that everything the render allocated is freed.
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  std::string render(const Body& body, const ScopePtr& scope);

  Value eval(const Expr& expr, const ScopePtr& scope);
  // Calls a callable value (a builtin, a bound method, a macro).
  Value call(const Value& callee, CallArgs& args);
  // Runs a macro body (or a call block's caller) in a new scope under `closure` and returns its output.
  Value invoke_macro(const std::string& name, const std::vector<Param>& params, const Body& body,
                     const ScopePtr& closure, CallArgs& args, const Value* caller);

  const RenderLimits& limits() const { return limits_; }
  // Throws EvalError when a string of `bytes` or a list of `items` would exceed the limits.
  void check_string_size(size_t bytes) const;
  void check_item_count(size_t items) const;
  void count_iteration();
  // Registers a namespace() object for the clean-up in the destructor.
  void track_namespace(const DictPtr& data) { namespaces_.push_back(data); }

 private:
  Flow exec(const Body& body, const ScopePtr& scope);
  Flow exec_stmt(const Stmt& stmt, const ScopePtr& scope);
  Flow exec_for(const ForStmt& stmt, const ScopePtr& scope);
  void exec_set(const SetTarget& target, Value value, const ScopePtr& scope);
  std::string capture(const Body& body, const ScopePtr& scope);
  void write(std::string_view text);

  Value eval_node(const Expr& expr, const ScopePtr& scope);
  Value eval_call(const CallExpr& call, const ScopePtr& scope);
  Value eval_filter(const FilterExpr& filter, const ScopePtr& scope, const Value* block_value);
  CallArgs eval_args(const std::vector<Arg>& args, const ScopePtr& scope);
  bool eval_compare(const CompareExpr& compare, const ScopePtr& scope);

  [[noreturn]] void fail(size_t offset, std::string_view message) const;

  std::string_view source_;
  std::string_view name_;
  RenderLimits limits_;
  std::string* out_ = nullptr;
  std::vector<std::weak_ptr<Scope>> macro_scopes_;  // scopes that hold a macro closing over them
  std::vector<std::weak_ptr<DictData>> namespaces_;
  int call_depth_ = 0;
  uint64_t iterations_ = 0;
};

}  // namespace whale::jinja
