// Syntax tree of the Jinja-subset template engine. Every node records the byte offset of its first token so
// that errors can name a line and column.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace whale::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprType {
  Literal,
  Name,
  List,
  Dict,
  GetAttr,
  GetItem,
  Slice,
  Call,
  Filter,
  Test,
  Unary,
  Binary,
  Compare,
  Cond,
};

enum class UnaryOp { Not, Neg, Pos };
enum class BinaryOp { And, Or, Add, Sub, Mul, Div, FloorDiv, Mod, Pow, Concat };
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

// A call argument: positional when name is empty.
struct Arg {
  std::string name;
  ExprPtr value;
};

struct Expr {
  Expr(ExprType t, size_t o) : type(t), offset(o) {}
  virtual ~Expr() = default;
  ExprType type;
  size_t offset;
  int depth = 1;  // height of the subtree; bounded so that evaluation cannot exhaust the stack
};

struct LiteralExpr : Expr {
  LiteralExpr(size_t o, Value v) : Expr(ExprType::Literal, o), value(std::move(v)) {}
  Value value;
};

struct NameExpr : Expr {
  NameExpr(size_t o, std::string n) : Expr(ExprType::Name, o), name(std::move(n)) {}
  std::string name;
};

struct ListExpr : Expr {  // [a, b] or a tuple (a, b)
  ListExpr(size_t o, bool t) : Expr(ExprType::List, o), is_tuple(t) {}
  std::vector<ExprPtr> items;
  bool is_tuple;
};

struct DictExpr : Expr {
  explicit DictExpr(size_t o) : Expr(ExprType::Dict, o) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

struct GetAttrExpr : Expr {  // object.attr
  GetAttrExpr(size_t o, ExprPtr obj, std::string a)
      : Expr(ExprType::GetAttr, o), object(std::move(obj)), attr(std::move(a)) {}
  ExprPtr object;
  std::string attr;
};

struct GetItemExpr : Expr {  // object[index]
  GetItemExpr(size_t o, ExprPtr obj, ExprPtr i)
      : Expr(ExprType::GetItem, o), object(std::move(obj)), index(std::move(i)) {}
  ExprPtr object;
  ExprPtr index;
};

struct SliceExpr : Expr {  // object[start:stop:step]; each part may be null
  SliceExpr(size_t o, ExprPtr obj) : Expr(ExprType::Slice, o), object(std::move(obj)) {}
  ExprPtr object, start, stop, step;
};

struct CallExpr : Expr {
  CallExpr(size_t o, ExprPtr c) : Expr(ExprType::Call, o), callee(std::move(c)) {}
  ExprPtr callee;
  std::vector<Arg> args;
};

struct FilterExpr : Expr {  // operand | name(args); operand is null inside {% filter %} and {% set x | f %}
  FilterExpr(size_t o, ExprPtr op, std::string n)
      : Expr(ExprType::Filter, o), operand(std::move(op)), name(std::move(n)) {}
  ExprPtr operand;
  std::string name;
  std::vector<Arg> args;
};

struct TestExpr : Expr {  // operand is [not] name(args)
  TestExpr(size_t o, ExprPtr op, std::string n) : Expr(ExprType::Test, o), operand(std::move(op)), name(std::move(n)) {}
  ExprPtr operand;
  std::string name;
  std::vector<Arg> args;
  bool negated = false;
};

struct UnaryExpr : Expr {
  UnaryExpr(size_t o, UnaryOp p, ExprPtr a) : Expr(ExprType::Unary, o), op(p), operand(std::move(a)) {}
  UnaryOp op;
  ExprPtr operand;
};

struct BinaryExpr : Expr {
  BinaryExpr(size_t o, BinaryOp p, ExprPtr l, ExprPtr r)
      : Expr(ExprType::Binary, o), op(p), left(std::move(l)), right(std::move(r)) {}
  BinaryOp op;
  ExprPtr left, right;
};

struct CompareExpr : Expr {  // a < b <= c: chained as Python chains
  CompareExpr(size_t o, ExprPtr f) : Expr(ExprType::Compare, o), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};

struct CondExpr : Expr {  // then_value if condition else else_value (else_value may be null: undefined)
  CondExpr(size_t o, ExprPtr c, ExprPtr t, ExprPtr e)
      : Expr(ExprType::Cond, o), condition(std::move(c)), then_value(std::move(t)), else_value(std::move(e)) {}
  ExprPtr condition, then_value, else_value;
};

enum class StmtType {
  Text,
  Output,
  If,
  For,
  Set,
  SetBlock,
  Macro,
  CallBlock,
  FilterBlock,
  With,
  Group,
  Break,
  Continue
};

struct Stmt {
  Stmt(StmtType t, size_t o) : type(t), offset(o) {}
  virtual ~Stmt() = default;
  StmtType type;
  size_t offset;
};

struct TextStmt : Stmt {
  TextStmt(size_t o, std::string t) : Stmt(StmtType::Text, o), text(std::move(t)) {}
  std::string text;
};

struct OutputStmt : Stmt {
  OutputStmt(size_t o, ExprPtr e) : Stmt(StmtType::Output, o), expr(std::move(e)) {}
  ExprPtr expr;
};

struct IfStmt : Stmt {
  explicit IfStmt(size_t o) : Stmt(StmtType::If, o) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body else_body;
};

struct ForStmt : Stmt {
  explicit ForStmt(size_t o) : Stmt(StmtType::For, o) {}
  std::vector<std::string> targets;  // one name, or several to unpack
  bool unpack = false;               // targets written as a tuple
  ExprPtr iterable;
  ExprPtr filter;  // for x in xs if cond
  Body body;
  Body else_body;
};

// What `set` assigns to: names (several unpack a sequence) or one attribute of a namespace.
struct SetTarget {
  std::vector<std::string> names;
  bool unpack = false;
  std::string attr;  // when set: names[0].attr
};

struct SetStmt : Stmt {
  explicit SetStmt(size_t o) : Stmt(StmtType::Set, o) {}
  SetTarget target;
  ExprPtr value;
};

struct SetBlockStmt : Stmt {  // {% set x %}...{% endset %}, optionally {% set x | filter %}
  explicit SetBlockStmt(size_t o) : Stmt(StmtType::SetBlock, o) {}
  SetTarget target;
  ExprPtr filter;  // a FilterExpr chain whose innermost operand is null, or null
  Body body;
};

struct Param {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct MacroStmt : Stmt {
  explicit MacroStmt(size_t o) : Stmt(StmtType::Macro, o) {}
  std::string name;
  std::vector<Param> params;
  Body body;
};

struct CallBlockStmt : Stmt {  // {% call(params) macro(args) %}body{% endcall %}
  explicit CallBlockStmt(size_t o) : Stmt(StmtType::CallBlock, o) {}
  ExprPtr call;
  std::vector<Param> params;
  Body body;
};

struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(size_t o) : Stmt(StmtType::FilterBlock, o) {}
  ExprPtr filter;  // FilterExpr chain with a null innermost operand
  Body body;
};

struct WithStmt : Stmt {
  explicit WithStmt(size_t o) : Stmt(StmtType::With, o) {}
  std::vector<std::pair<std::string, ExprPtr>> assignments;
  Body body;
};

struct GroupStmt : Stmt {  // a body without a scope of its own: transformers' {% generation %} block
  explicit GroupStmt(size_t o) : Stmt(StmtType::Group, o) {}
  Body body;
};

struct LoopControlStmt : Stmt {  // {% break %} / {% continue %}
  LoopControlStmt(StmtType t, size_t o) : Stmt(t, o) {}
};

}  // namespace whale::jinja
