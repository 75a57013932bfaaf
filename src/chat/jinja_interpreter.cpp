// Evaluation of template statements and expressions.
#include "chat/jinja_interpreter.h"

#include <fmt/format.h>

#include "chat/jinja_builtins.h"
#include "chat/jinja_lexer.h"
#include "core/error.h"

namespace whale::jinja {

const Value* Scope::find(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent.get()) {
    for (const auto& [key, value] : s->vars) {
      if (key == name) return &value;
    }
  }
  return nullptr;
}

void Scope::set(std::string_view name, Value value) {
  for (auto& [key, existing] : vars) {
    if (key == name) {
      existing = std::move(value);
      return;
    }
  }
  vars.emplace_back(std::string(name), std::move(value));
}

namespace {

// A macro (or the `caller` of a call block) as a value: its body runs in a scope under the one it was
// defined in.
class MacroCallable : public Callable {
 public:
  MacroCallable(std::string name, const std::vector<Param>& params, const Body& body, ScopePtr closure,
                Value caller = Value())
      : name_(std::move(name)),
        params_(params),
        body_(body),
        closure_(std::move(closure)),
        caller_(std::move(caller)) {}

  std::string name() const override { return name_; }
  Value call(CallArgs& args, Interpreter& interp) override {
    return interp.invoke_macro(name_, params_, body_, closure_, args, caller_.is_undefined() ? nullptr : &caller_);
  }

 private:
  std::string name_;
  const std::vector<Param>& params_;
  const Body& body_;
  ScopePtr closure_;
  Value caller_;
};

// loop.cycle(a, b, ...): the argument at loop.index0 modulo their count.
class CycleCallable : public Callable {
 public:
  explicit CycleCallable(size_t index) : index_(index) {}
  std::string name() const override { return "loop.cycle"; }
  Value call(CallArgs& args, Interpreter&) override {
    if (args.positional.empty()) throw EvalError("loop.cycle() needs at least one argument");
    return args.positional[index_ % args.positional.size()];
  }

 private:
  size_t index_;
};

}  // namespace

Interpreter::~Interpreter() {
  for (const auto& weak : macro_scopes_) {
    if (auto scope = weak.lock()) scope->vars.clear();
  }
  for (const auto& weak : namespaces_) {
    if (auto data = weak.lock()) data->entries.clear();
  }
}

void Interpreter::fail(size_t offset, std::string_view message) const { fail_at(name_, source_, offset, message); }

void Interpreter::check_string_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes) {
    throw EvalError(fmt::format("string of {} bytes exceeds the limit of {} bytes", bytes, limits_.max_output_bytes));
  }
}

void Interpreter::check_item_count(size_t items) const {
  if (items > limits_.max_items) {
    throw EvalError(fmt::format("list of {} items exceeds the limit of {} items", items, limits_.max_items));
  }
}

void Interpreter::count_iteration() {
  if (++iterations_ > limits_.max_iterations) {
    throw EvalError(fmt::format("template ran more than {} loop iterations and macro calls", limits_.max_iterations));
  }
}

void Interpreter::write(std::string_view text) {
  if (out_->size() + text.size() > limits_.max_output_bytes) {
    throw EvalError(fmt::format("output exceeds the limit of {} bytes", limits_.max_output_bytes));
  }
  out_->append(text);
}

std::string Interpreter::render(const Body& body, const ScopePtr& scope) {
  std::string out;
  out_ = &out;
  exec(body, scope);
  return out;
}

std::string Interpreter::capture(const Body& body, const ScopePtr& scope) {
  std::string buffer;
  std::string* saved = std::exchange(out_, &buffer);
  try {
    exec(body, scope);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buffer;
}

Flow Interpreter::exec(const Body& body, const ScopePtr& scope) {
  for (const StmtPtr& stmt : body) {
    Flow flow = exec_stmt(*stmt, scope);
    if (flow != Flow::Normal) return flow;
  }
  return Flow::Normal;
}

Flow Interpreter::exec_stmt(const Stmt& stmt, const ScopePtr& scope) {
  try {
    switch (stmt.type) {
      case StmtType::Text: write(static_cast<const TextStmt&>(stmt).text); return Flow::Normal;
      case StmtType::Output: {
        Value value = eval(*static_cast<const OutputStmt&>(stmt).expr, scope);
        if (value.is_string())
          write(value.as_string());
        else
          write(to_str(value));
        return Flow::Normal;
      }
      case StmtType::If: {
        const auto& s = static_cast<const IfStmt&>(stmt);
        for (const auto& [condition, body] : s.branches) {
          if (truthy(eval(*condition, scope))) return exec(body, scope);
        }
        return exec(s.else_body, scope);
      }
      case StmtType::For: return exec_for(static_cast<const ForStmt&>(stmt), scope);
      case StmtType::Set: {
        const auto& s = static_cast<const SetStmt&>(stmt);
        exec_set(s.target, eval(*s.value, scope), scope);
        return Flow::Normal;
      }
      case StmtType::SetBlock: {
        const auto& s = static_cast<const SetBlockStmt&>(stmt);
        Value value(capture(s.body, scope));
        if (s.filter) value = eval_filter(static_cast<const FilterExpr&>(*s.filter), scope, &value);
        exec_set(s.target, std::move(value), scope);
        return Flow::Normal;
      }
      case StmtType::Macro: {
        const auto& s = static_cast<const MacroStmt&>(stmt);
        scope->set(s.name, Value(CallablePtr(std::make_shared<MacroCallable>(s.name, s.params, s.body, scope))));
        macro_scopes_.push_back(scope);
        return Flow::Normal;
      }
      case StmtType::CallBlock: {
        const auto& s = static_cast<const CallBlockStmt&>(stmt);
        Value caller(CallablePtr(std::make_shared<MacroCallable>("caller", s.params, s.body, scope)));
        const auto& call = static_cast<const CallExpr&>(*s.call);
        Value callee = eval(*call.callee, scope);
        CallArgs args = eval_args(call.args, scope);
        if (!callee.is_callable()) throw EvalError(fmt::format("'{}' object is not callable", type_name(callee)));
        args.keyword.emplace_back("caller", caller);
        write(to_str(this->call(callee, args)));
        return Flow::Normal;
      }
      case StmtType::FilterBlock: {
        const auto& s = static_cast<const FilterBlockStmt&>(stmt);
        Value value(capture(s.body, scope));
        write(to_str(eval_filter(static_cast<const FilterExpr&>(*s.filter), scope, &value)));
        return Flow::Normal;
      }
      case StmtType::With: {
        const auto& s = static_cast<const WithStmt&>(stmt);
        auto inner = std::make_shared<Scope>(scope);
        for (const auto& [name, expr] : s.assignments) inner->set(name, eval(*expr, scope));
        return exec(s.body, inner);
      }
      case StmtType::Group: return exec(static_cast<const GroupStmt&>(stmt).body, scope);
      case StmtType::Break: return Flow::Break;
      case StmtType::Continue: return Flow::Continue;
    }
  } catch (const EvalError& e) {
    fail(stmt.offset, e.what());
  }
  return Flow::Normal;
}

void Interpreter::exec_set(const SetTarget& target, Value value, const ScopePtr& scope) {
  if (!target.attr.empty()) {
    const Value* object = scope->find(target.names[0]);
    if (object == nullptr || !object->is_namespace()) {
      throw EvalError(
          fmt::format("cannot assign attribute '{}' on '{}': it is not a namespace()", target.attr, target.names[0]));
    }
    object->as_namespace().data->set(target.attr, std::move(value));
    return;
  }
  if (!target.unpack) {
    scope->set(target.names[0], std::move(value));
    return;
  }
  std::vector<Value> items = iterate(value);
  if (items.size() != target.names.size()) {
    throw EvalError(fmt::format("cannot unpack {} values into {} names", items.size(), target.names.size()));
  }
  for (size_t i = 0; i < items.size(); ++i) scope->set(target.names[i], std::move(items[i]));
}

Flow Interpreter::exec_for(const ForStmt& stmt, const ScopePtr& scope) {
  Value iterable = eval(*stmt.iterable, scope);
  if (!iterable.is_list() && !iterable.is_dict() && !iterable.is_string() && !iterable.is_undefined()) {
    throw EvalError(fmt::format("'{}' object is not iterable", type_name(iterable)));
  }
  auto loop_scope = std::make_shared<Scope>(scope);
  auto bind = [&](const Value& item) {
    if (!stmt.unpack) {
      loop_scope->set(stmt.targets[0], item);
      return;
    }
    std::vector<Value> parts = iterate(item);
    if (parts.size() != stmt.targets.size()) {
      throw EvalError(fmt::format("cannot unpack {} values into {} loop variables", parts.size(), stmt.targets.size()));
    }
    for (size_t i = 0; i < parts.size(); ++i) loop_scope->set(stmt.targets[i], std::move(parts[i]));
  };

  std::vector<Value> items = iterate(iterable);
  if (stmt.filter) {
    std::vector<Value> kept;
    for (Value& item : items) {
      count_iteration();
      bind(item);
      if (truthy(eval(*stmt.filter, loop_scope))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  const auto length = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < length; ++i) {
    count_iteration();
    bind(items[i]);
    Value loop = make_dict({
        {"index", Value(i + 1)},
        {"index0", Value(i)},
        {"revindex", Value(length - i)},
        {"revindex0", Value(length - i - 1)},
        {"first", Value(i == 0)},
        {"last", Value(i == length - 1)},
        {"length", Value(length)},
        {"previtem", i > 0 ? items[i - 1] : Value(Undefined{"there is no previous item"})},
        {"nextitem", i + 1 < length ? items[i + 1] : Value(Undefined{"there is no next item"})},
        {"depth", Value(1)},
        {"depth0", Value(0)},
        {"cycle", Value(CallablePtr(std::make_shared<CycleCallable>(static_cast<size_t>(i))))},
    });
    loop_scope->set("loop", std::move(loop));
    if (exec(stmt.body, loop_scope) == Flow::Break) break;
  }
  if (length == 0) return exec(stmt.else_body, loop_scope);
  return Flow::Normal;
}

Value Interpreter::invoke_macro(const std::string& name, const std::vector<Param>& params, const Body& body,
                                const ScopePtr& closure, CallArgs& args, const Value* caller) {
  if (call_depth_ >= limits_.max_call_depth) {
    throw EvalError(
        fmt::format("macro calls nested deeper than {} (runaway recursion in '{}'?)", limits_.max_call_depth, name));
  }
  count_iteration();
  auto scope = std::make_shared<Scope>(closure);
  std::vector<bool> bound(params.size(), false);
  std::vector<Value> varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < params.size()) {
      scope->set(params[i].name, std::move(args.positional[i]));
      bound[i] = true;
    } else {
      varargs.push_back(std::move(args.positional[i]));
    }
  }
  std::vector<std::pair<std::string, Value>> kwargs;
  Value caller_value = caller != nullptr ? *caller : Value();
  for (auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < params.size() && params[i].name != key) ++i;
    if (i < params.size()) {
      if (bound[i]) throw EvalError(fmt::format("macro '{}' got multiple values for argument '{}'", name, key));
      scope->set(key, std::move(value));
      bound[i] = true;
    } else if (key == "caller") {
      caller_value = std::move(value);
    } else {
      kwargs.emplace_back(key, std::move(value));
    }
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (bound[i]) continue;
    scope->set(params[i].name, params[i].default_value
                                   ? eval(*params[i].default_value, scope)
                                   : Value(Undefined{fmt::format("parameter '{}' was not provided", params[i].name)}));
  }
  scope->set("varargs", make_list(std::move(varargs)));
  scope->set("kwargs", make_dict(std::move(kwargs)));
  if (!caller_value.is_undefined()) scope->set("caller", std::move(caller_value));
  ++call_depth_;
  std::string output;
  try {
    output = capture(body, scope);
  } catch (...) {
    --call_depth_;
    throw;
  }
  --call_depth_;
  return Value(std::move(output));
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) throw EvalError(callee.as_undefined().hint);
  if (!callee.is_callable()) throw EvalError(fmt::format("'{}' object is not callable", type_name(callee)));
  return callee.as_callable()->call(args, *this);
}

Value Interpreter::eval(const Expr& expr, const ScopePtr& scope) {
  try {
    return eval_node(expr, scope);
  } catch (const EvalError& e) {
    fail(expr.offset, e.what());
  }
}

CallArgs Interpreter::eval_args(const std::vector<Arg>& args, const ScopePtr& scope) {
  CallArgs out;
  for (const Arg& arg : args) {
    if (arg.name.empty())
      out.positional.push_back(eval(*arg.value, scope));
    else
      out.keyword.emplace_back(arg.name, eval(*arg.value, scope));
  }
  return out;
}

Value Interpreter::eval_call(const CallExpr& call, const ScopePtr& scope) {
  if (call.callee->type == ExprType::GetAttr) {
    const auto& attr = static_cast<const GetAttrExpr&>(*call.callee);
    Value object = eval(*attr.object, scope);
    if (object.is_undefined()) throw EvalError(object.as_undefined().hint);
    if (has_method(object, attr.attr)) {
      CallArgs args = eval_args(call.args, scope);
      return call_method(*this, object, attr.attr, args);
    }
    Value callee = get_attr(object, attr.attr);
    CallArgs args = eval_args(call.args, scope);
    return this->call(callee, args);
  }
  Value callee = eval(*call.callee, scope);
  CallArgs args = eval_args(call.args, scope);
  return this->call(callee, args);
}

Value Interpreter::eval_filter(const FilterExpr& filter, const ScopePtr& scope, const Value* block_value) {
  Value operand;
  if (filter.operand) {
    operand = filter.operand->type == ExprType::Filter
                  ? eval_filter(static_cast<const FilterExpr&>(*filter.operand), scope, block_value)
                  : eval(*filter.operand, scope);
  } else if (block_value != nullptr) {
    operand = *block_value;
  }
  CallArgs args = eval_args(filter.args, scope);
  try {
    return apply_filter(*this, filter.name, operand, args);
  } catch (const EvalError& e) {
    fail(filter.offset, e.what());
  }
}

bool Interpreter::eval_compare(const CompareExpr& compare, const ScopePtr& scope) {
  Value left = eval(*compare.first, scope);
  for (const auto& [op, operand] : compare.rest) {
    Value right = eval(*operand, scope);
    if (!compare_op(op, left, right)) return false;
    left = std::move(right);
  }
  return true;
}

Value Interpreter::eval_node(const Expr& expr, const ScopePtr& scope) {
  switch (expr.type) {
    case ExprType::Literal: return static_cast<const LiteralExpr&>(expr).value;
    case ExprType::Name: {
      const auto& name = static_cast<const NameExpr&>(expr).name;
      const Value* value = scope->find(name);
      if (value != nullptr) return *value;
      return Value(Undefined{fmt::format("'{}' is undefined", name)});
    }
    case ExprType::List: {
      const auto& list = static_cast<const ListExpr&>(expr);
      std::vector<Value> items;
      items.reserve(list.items.size());
      for (const ExprPtr& item : list.items) items.push_back(eval(*item, scope));
      return make_list(std::move(items), list.is_tuple);
    }
    case ExprType::Dict: {
      std::vector<std::pair<std::string, Value>> entries;
      for (const auto& [key_expr, value_expr] : static_cast<const DictExpr&>(expr).items) {
        Value key = eval(*key_expr, scope);
        if (!key.is_string()) throw EvalError(fmt::format("unsupported: a dict key of type '{}'", type_name(key)));
        Value value = eval(*value_expr, scope);
        bool replaced = false;
        for (auto& entry : entries) {
          if (entry.first == key.as_string()) {
            entry.second = value;
            replaced = true;
          }
        }
        if (!replaced) entries.emplace_back(key.as_string(), std::move(value));
      }
      return make_dict(std::move(entries));
    }
    case ExprType::GetAttr: {
      const auto& attr = static_cast<const GetAttrExpr&>(expr);
      Value object = eval(*attr.object, scope);
      if (object.is_undefined()) throw EvalError(object.as_undefined().hint);
      return get_attr(object, attr.attr);
    }
    case ExprType::GetItem: {
      const auto& item = static_cast<const GetItemExpr&>(expr);
      Value object = eval(*item.object, scope);
      if (object.is_undefined()) throw EvalError(object.as_undefined().hint);
      return get_item(object, eval(*item.index, scope));
    }
    case ExprType::Slice: {
      const auto& slice = static_cast<const SliceExpr&>(expr);
      Value object = eval(*slice.object, scope);
      if (object.is_undefined()) throw EvalError(object.as_undefined().hint);
      Value none(nullptr);
      return slice_value(object, slice.start ? eval(*slice.start, scope) : none,
                         slice.stop ? eval(*slice.stop, scope) : none, slice.step ? eval(*slice.step, scope) : none);
    }
    case ExprType::Call: return eval_call(static_cast<const CallExpr&>(expr), scope);
    case ExprType::Filter: return eval_filter(static_cast<const FilterExpr&>(expr), scope, nullptr);
    case ExprType::Test: {
      const auto& test = static_cast<const TestExpr&>(expr);
      Value operand = eval(*test.operand, scope);
      CallArgs args = eval_args(test.args, scope);
      return Value(apply_test(*this, test.name, operand, args) != test.negated);
    }
    case ExprType::Unary: {
      const auto& unary = static_cast<const UnaryExpr&>(expr);
      return unary_op(unary.op, eval(*unary.operand, scope));
    }
    case ExprType::Binary: {
      const auto& binary = static_cast<const BinaryExpr&>(expr);
      Value left = eval(*binary.left, scope);
      if (binary.op == BinaryOp::And) return truthy(left) ? eval(*binary.right, scope) : left;
      if (binary.op == BinaryOp::Or) return truthy(left) ? left : eval(*binary.right, scope);
      return binary_op(*this, binary.op, left, eval(*binary.right, scope));
    }
    case ExprType::Compare: return Value(eval_compare(static_cast<const CompareExpr&>(expr), scope));
    case ExprType::Cond: {
      const auto& cond = static_cast<const CondExpr&>(expr);
      if (truthy(eval(*cond.condition, scope))) return eval(*cond.then_value, scope);
      if (cond.else_value) return eval(*cond.else_value, scope);
      return Value(Undefined{"the condition of an inline if was false and it has no else"});
    }
  }
  return Value();
}

}  // namespace whale::jinja
