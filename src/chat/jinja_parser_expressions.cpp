// Jinja expressions by recursive descent with Jinja2's precedence: condexpr > or > and > not > compare
// > + - > ~ > * / // % > ** > unary > primary with postfix (. [] ()) and filters / tests (| is).
#include <charconv>
#include <cstdlib>

#include "chat/jinja_parser_impl.h"

namespace whale::jinja::detail {
namespace {

// Every filter and test Jinja2 knows. A name outside these lists is an error when the template is parsed (as
// in Jinja2); a known one that whale does not implement fails when it is used.
constexpr std::string_view kJinjaFilters[] = {
    "abs",    "attr",       "batch",       "capitalize", "center",   "count",
    "d",      "default",    "dictsort",    "e",          "escape",   "filesizeformat",
    "first",  "float",      "forceescape", "format",     "groupby",  "indent",
    "int",    "items",      "join",        "last",       "length",   "list",
    "lower",  "map",        "max",         "min",        "pprint",   "random",
    "reject", "rejectattr", "replace",     "reverse",    "round",    "safe",
    "select", "selectattr", "slice",       "sort",       "string",   "striptags",
    "sum",    "title",      "tojson",      "trim",       "truncate", "unique",
    "upper",  "urlencode",  "urlize",      "wordcount",  "wordwrap", "xmlattr"};
constexpr std::string_view kJinjaTests[] = {
    "boolean",  "callable", "defined",  "divisibleby", "eq",          "equalto", "escaped", "even",     "false",
    "filter",   "float",    "ge",       "gt",          "greaterthan", "in",      "integer", "iterable", "le",
    "lower",    "lt",       "lessthan", "mapping",     "ne",          "none",    "number",  "odd",      "sameas",
    "sequence", "string",   "test",     "true",        "undefined",   "upper"};

}  // namespace

bool Parser::is_tuple_end(std::initializer_list<std::string_view> extra_end, bool explicit_parentheses) const {
  const Token& t = peek();
  if (t.type == TokenType::VarEnd || t.type == TokenType::BlockEnd || t.type == TokenType::End) return true;
  if (explicit_parentheses && at_op(")")) return true;
  for (std::string_view name : extra_end) {
    if (at_name(name)) return true;
  }
  return false;
}

ExprPtr Parser::parse_tuple(bool with_condexpr, std::initializer_list<std::string_view> extra_end,
                            bool explicit_parentheses) {
  size_t offset = peek().offset;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  for (;;) {
    if (!items.empty()) expect_op(",");
    if (is_tuple_end(extra_end, explicit_parentheses)) break;
    items.push_back(parse_expression(with_condexpr));
    if (at_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (items.empty()) error(peek().offset, fmt::format("expected an expression, got {}", describe(peek())));
    return std::move(items[0]);
  }
  auto list = std::make_unique<ListExpr>(offset, true);
  int depth = 1;
  for (auto& item : items) depth = std::max(depth, item->depth + 1);
  list->items = std::move(items);
  list->depth = depth;
  return finish(std::move(list), {});
}

ExprPtr Parser::parse_expression(bool with_condexpr) {
  NestingGuard guard(*this, peek().offset);
  return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr Parser::parse_condexpr() {
  size_t offset = peek().offset;
  ExprPtr expr = parse_or();
  while (skip_name("if")) {
    ExprPtr condition = parse_or();
    ExprPtr otherwise = skip_name("else") ? parse_condexpr() : nullptr;
    const Expr *a = expr.get(), *b = condition.get(), *c = otherwise.get();
    expr = finish(std::make_unique<CondExpr>(offset, std::move(condition), std::move(expr), std::move(otherwise)),
                  {a, b, c});
  }
  return expr;
}

ExprPtr Parser::binary(size_t offset, BinaryOp op, ExprPtr left, ExprPtr right) {
  const Expr *a = left.get(), *b = right.get();
  return finish(std::make_unique<BinaryExpr>(offset, op, std::move(left), std::move(right)), {a, b});
}

ExprPtr Parser::parse_or() {
  size_t offset = peek().offset;
  ExprPtr left = parse_and();
  while (skip_name("or")) left = binary(offset, BinaryOp::Or, std::move(left), parse_and());
  return left;
}

ExprPtr Parser::parse_and() {
  size_t offset = peek().offset;
  ExprPtr left = parse_not();
  while (skip_name("and")) left = binary(offset, BinaryOp::And, std::move(left), parse_not());
  return left;
}

ExprPtr Parser::parse_not() {
  if (at_name("not")) {
    size_t offset = next().offset;
    NestingGuard guard(*this, offset);
    ExprPtr operand = parse_not();
    const Expr* a = operand.get();
    return finish(std::make_unique<UnaryExpr>(offset, UnaryOp::Not, std::move(operand)), {a});
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  size_t offset = peek().offset;
  ExprPtr first = parse_math1();
  std::unique_ptr<CompareExpr> compare;
  for (;;) {
    CompareOp op;
    const Token& t = peek();
    if (t.type == TokenType::Operator && t.value == "==")
      op = CompareOp::Eq;
    else if (t.type == TokenType::Operator && t.value == "!=")
      op = CompareOp::Ne;
    else if (t.type == TokenType::Operator && t.value == "<")
      op = CompareOp::Lt;
    else if (t.type == TokenType::Operator && t.value == "<=")
      op = CompareOp::Le;
    else if (t.type == TokenType::Operator && t.value == ">")
      op = CompareOp::Gt;
    else if (t.type == TokenType::Operator && t.value == ">=")
      op = CompareOp::Ge;
    else if (at_name("in"))
      op = CompareOp::In;
    else if (at_name("not") && at_name("in", 1))
      op = CompareOp::NotIn;
    else
      break;
    next();
    if (op == CompareOp::NotIn) next();
    if (!compare) compare = std::make_unique<CompareExpr>(offset, std::move(first));
    compare->rest.emplace_back(op, parse_math1());
  }
  if (!compare) return first;
  int depth = compare->first->depth;
  for (auto& [op, operand] : compare->rest) depth = std::max(depth, operand->depth);
  compare->depth = depth + 1;
  return finish(std::move(compare), {});
}

ExprPtr Parser::parse_math1() {
  size_t offset = peek().offset;
  ExprPtr left = parse_concat();
  for (;;) {
    if (skip_op("+"))
      left = binary(offset, BinaryOp::Add, std::move(left), parse_concat());
    else if (skip_op("-"))
      left = binary(offset, BinaryOp::Sub, std::move(left), parse_concat());
    else
      return left;
  }
}

ExprPtr Parser::parse_concat() {
  size_t offset = peek().offset;
  ExprPtr left = parse_math2();
  while (skip_op("~")) left = binary(offset, BinaryOp::Concat, std::move(left), parse_math2());
  return left;
}

ExprPtr Parser::parse_math2() {
  size_t offset = peek().offset;
  ExprPtr left = parse_pow();
  for (;;) {
    if (skip_op("*"))
      left = binary(offset, BinaryOp::Mul, std::move(left), parse_pow());
    else if (skip_op("/"))
      left = binary(offset, BinaryOp::Div, std::move(left), parse_pow());
    else if (skip_op("//"))
      left = binary(offset, BinaryOp::FloorDiv, std::move(left), parse_pow());
    else if (skip_op("%"))
      left = binary(offset, BinaryOp::Mod, std::move(left), parse_pow());
    else
      return left;
  }
}

ExprPtr Parser::parse_pow() {
  size_t offset = peek().offset;
  ExprPtr left = parse_unary(true);
  while (skip_op("**")) left = binary(offset, BinaryOp::Pow, std::move(left), parse_unary(true));
  return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  size_t offset = peek().offset;
  ExprPtr node;
  if (at_op("-") || at_op("+")) {
    UnaryOp op = next().value == "-" ? UnaryOp::Neg : UnaryOp::Pos;
    NestingGuard guard(*this, offset);
    ExprPtr operand = parse_unary(false);
    const Expr* a = operand.get();
    node = finish(std::make_unique<UnaryExpr>(offset, op, std::move(operand)), {a});
  } else {
    node = parse_primary();
  }
  node = parse_postfix(std::move(node));
  if (with_filter) node = parse_filter_expr(std::move(node));
  return node;
}

ExprPtr Parser::parse_primary() {
  const Token& t = peek();
  size_t offset = t.offset;
  switch (t.type) {
    case TokenType::Name: {
      std::string name = next().value;
      if (name == "true" || name == "True") return std::make_unique<LiteralExpr>(offset, Value(true));
      if (name == "false" || name == "False") return std::make_unique<LiteralExpr>(offset, Value(false));
      if (name == "none" || name == "None") return std::make_unique<LiteralExpr>(offset, Value(nullptr));
      return std::make_unique<NameExpr>(offset, std::move(name));
    }
    case TokenType::String: {
      std::string value;
      while (peek().type == TokenType::String) value += next().value;  // adjacent literals concatenate
      return std::make_unique<LiteralExpr>(offset, Value(std::move(value)));
    }
    case TokenType::Integer: {
      int64_t value = 0;
      const std::string& text = t.value;
      auto result = std::from_chars(text.data(), text.data() + text.size(), value);
      if (result.ec != std::errc()) error(offset, fmt::format("integer literal {} is too large", text));
      next();
      return std::make_unique<LiteralExpr>(offset, Value(value));
    }
    case TokenType::Float: {
      double value = std::strtod(t.value.c_str(), nullptr);
      next();
      return std::make_unique<LiteralExpr>(offset, Value(value));
    }
    case TokenType::Operator:
      if (t.value == "(") {
        next();
        NestingGuard guard(*this, offset);
        ExprPtr inner = parse_tuple(true, {}, true);
        expect_op(")");
        return inner;
      }
      if (t.value == "[") return parse_list();
      if (t.value == "{") return parse_dict();
      break;
    default: break;
  }
  error(offset, fmt::format("unexpected {}", describe(t)));
}

ExprPtr Parser::parse_list() {
  size_t offset = next().offset;
  NestingGuard guard(*this, offset);
  auto list = std::make_unique<ListExpr>(offset, false);
  while (!at_op("]")) {
    if (!list->items.empty()) expect_op(",");
    if (at_op("]")) break;
    list->items.push_back(parse_expression(true));
    list->depth = std::max(list->depth, list->items.back()->depth + 1);
  }
  expect_op("]");
  return finish(std::move(list), {});
}

ExprPtr Parser::parse_dict() {
  size_t offset = next().offset;
  NestingGuard guard(*this, offset);
  auto dict = std::make_unique<DictExpr>(offset);
  while (!at_op("}")) {
    if (!dict->items.empty()) expect_op(",");
    if (at_op("}")) break;
    ExprPtr key = parse_expression(true);
    expect_op(":");
    ExprPtr value = parse_expression(true);
    dict->depth = std::max({dict->depth, key->depth + 1, value->depth + 1});
    dict->items.emplace_back(std::move(key), std::move(value));
  }
  expect_op("}");
  return finish(std::move(dict), {});
}

ExprPtr Parser::parse_postfix(ExprPtr node) {
  for (;;) {
    if (at_op(".") || at_op("["))
      node = parse_subscript(std::move(node));
    else if (at_op("("))
      node = parse_call(std::move(node));
    else
      return node;
  }
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
  for (;;) {
    if (at_op("|"))
      node = parse_filters(std::move(node), false);
    else if (at_name("is"))
      node = parse_test(std::move(node));
    else if (at_op("("))
      node = parse_call(std::move(node));
    else
      return node;
  }
}

ExprPtr Parser::parse_subscript(ExprPtr object) {
  const Token& t = next();
  size_t offset = t.offset;
  const Expr* obj = object.get();
  if (t.value == ".") {
    const Token& attr = next();
    if (attr.type == TokenType::Name) {
      return finish(std::make_unique<GetAttrExpr>(offset, std::move(object), attr.value), {obj});
    }
    if (attr.type == TokenType::Integer) {
      int64_t index = std::strtoll(attr.value.c_str(), nullptr, 10);
      auto literal = std::make_unique<LiteralExpr>(attr.offset, Value(index));
      return finish(std::make_unique<GetItemExpr>(offset, std::move(object), std::move(literal)), {obj});
    }
    error(attr.offset, fmt::format("expected an attribute name after '.', got {}", describe(attr)));
  }
  // '['
  NestingGuard guard(*this, offset);
  std::vector<ExprPtr> indexes;
  std::unique_ptr<SliceExpr> slice;
  do {
    if (at_op("]")) break;
    ExprPtr start;
    if (!at_op(":")) start = parse_expression(true);
    if (at_op(":")) {
      if (slice || !indexes.empty()) error(peek().offset, "unsupported: a slice inside a tuple index");
      next();
      slice = std::make_unique<SliceExpr>(offset, nullptr);
      slice->start = std::move(start);
      if (!at_op("]") && !at_op(",") && !at_op(":")) slice->stop = parse_expression(true);
      if (skip_op(":") && !at_op("]") && !at_op(",")) slice->step = parse_expression(true);
    } else {
      if (slice) error(start->offset, "unsupported: a slice inside a tuple index");
      indexes.push_back(std::move(start));
    }
  } while (skip_op(","));
  expect_op("]");
  if (slice) {
    if (!indexes.empty()) error(offset, "unsupported: a slice inside a tuple index");
    slice->object = std::move(object);
    const Expr *a = slice->start.get(), *b = slice->stop.get(), *c = slice->step.get();
    return finish(std::move(slice), {obj, a, b, c});
  }
  if (indexes.empty()) error(offset, "expected an index inside '[]'");
  ExprPtr index;
  if (indexes.size() == 1) {
    index = std::move(indexes[0]);
  } else {
    auto tuple = std::make_unique<ListExpr>(offset, true);
    for (auto& i : indexes) tuple->depth = std::max(tuple->depth, i->depth + 1);
    tuple->items = std::move(indexes);
    index = std::move(tuple);
  }
  const Expr* idx = index.get();
  return finish(std::make_unique<GetItemExpr>(offset, std::move(object), std::move(index)), {obj, idx});
}

void Parser::parse_args(std::vector<Arg>& args, int& depth) {
  expect_op("(");
  NestingGuard guard(*this, peek().offset);
  bool keyword_seen = false;
  while (!at_op(")")) {
    if (!args.empty()) expect_op(",");
    if (at_op(")")) break;
    if (at_op("*") || at_op("**")) error(peek().offset, "unsupported: * and ** arguments");
    Arg arg;
    if (peek().type == TokenType::Name && at_op("=", 1)) {
      arg.name = next().value;
      next();
      keyword_seen = true;
    } else if (keyword_seen) {
      error(peek().offset, "a positional argument follows a keyword argument");
    }
    arg.value = parse_expression(true);
    depth = std::max(depth, arg.value->depth + 1);
    args.push_back(std::move(arg));
  }
  expect_op(")");
}

ExprPtr Parser::parse_call(ExprPtr callee) {
  size_t offset = callee->offset;
  const Expr* c = callee.get();
  auto call = std::make_unique<CallExpr>(offset, std::move(callee));
  parse_args(call->args, call->depth);
  return finish(std::move(call), {c});
}

std::string Parser::parse_dotted_name(std::string_view what) {
  std::string name = expect_name(what);
  while (at_op(".") && peek(1).type == TokenType::Name) {
    next();
    name += "." + next().value;
  }
  return name;
}

ExprPtr Parser::parse_filters(ExprPtr node, bool first_without_pipe) {
  bool first = true;
  while ((first && first_without_pipe) || skip_op("|")) {
    first = false;
    size_t offset = peek().offset;
    std::string name = parse_dotted_name("a filter name");
    if (!contains(kJinjaFilters, name)) error(offset, fmt::format("no filter named '{}'", name));
    const Expr* operand = node.get();
    auto filter = std::make_unique<FilterExpr>(offset, std::move(node), std::move(name));
    if (at_op("(")) parse_args(filter->args, filter->depth);
    node = finish(std::move(filter), {operand});
  }
  return node;
}

ExprPtr Parser::parse_test(ExprPtr node) {
  next();  // 'is'
  bool negated = skip_name("not");
  size_t offset = peek().offset;
  std::string name = parse_dotted_name("a test name");
  if (!contains(kJinjaTests, name)) error(offset, fmt::format("no test named '{}'", name));
  const Expr* operand = node.get();
  auto test = std::make_unique<TestExpr>(offset, std::move(node), std::move(name));
  test->negated = negated;
  const Token& t = peek();
  if (at_op("(")) {
    parse_args(test->args, test->depth);
  } else if ((t.type == TokenType::Name || t.type == TokenType::String || t.type == TokenType::Integer ||
              t.type == TokenType::Float || at_op("[") || at_op("{")) &&
             !at_name("else") && !at_name("or") && !at_name("and")) {
    if (at_name("is")) error(t.offset, "tests cannot be chained with 'is'");
    Arg arg;
    arg.value = parse_postfix(parse_primary());
    test->depth = std::max(test->depth, arg.value->depth + 1);
    test->args.push_back(std::move(arg));
  }
  return finish(std::move(test), {operand});
}

}  // namespace whale::jinja::detail
