// Jinja statements: {% for %}, {% if %}, {% set %}, {% macro %}, {% call %}, {% filter %}, {% with %},
// {% generation %}, break/continue, and the loop over template text, output tags and blocks.
#include "chat/jinja_parser_impl.h"

namespace whale::jinja {
namespace detail {

Body Parser::subparse(std::initializer_list<std::string_view> end_names) {
  Body body;
  for (;;) {
    const Token& t = peek();
    switch (t.type) {
      case TokenType::End: {
        if (end_names.size() == 0) return body;
        std::string expected;
        for (std::string_view n : end_names) expected += (expected.empty() ? "'" : " or '") + std::string(n) + "'";
        error(t.offset, fmt::format("unexpected end of template, expected {}", expected));
      }
      case TokenType::Text:
        body.push_back(std::make_unique<TextStmt>(t.offset, t.value));
        next();
        break;
      case TokenType::VarBegin: {
        size_t offset = next().offset;
        ExprPtr e = parse_tuple(true, {}, false);
        if (peek().type != TokenType::VarEnd)
          error(peek().offset, fmt::format("expected '}}}}', got {}", describe(peek())));
        next();
        body.push_back(std::make_unique<OutputStmt>(offset, std::move(e)));
        break;
      }
      case TokenType::BlockBegin: {
        const Token& tag = peek(1);
        if (tag.type == TokenType::Name &&
            std::find(end_names.begin(), end_names.end(), tag.value) != end_names.end()) {
          next();
          return body;
        }
        size_t offset = next().offset;
        NestingGuard guard(*this, offset);
        body.push_back(parse_statement(offset));
        break;
      }
      default: error(t.offset, fmt::format("unexpected {}", describe(t)));
    }
  }
}

StmtPtr Parser::parse_statement(size_t offset) {
  if (peek().type != TokenType::Name)
    error(peek().offset, fmt::format("expected a tag name, got {}", describe(peek())));
  const Token& tag = next();
  const std::string& name = tag.value;
  if (name == "for") return parse_for(offset);
  if (name == "if") return parse_if(offset);
  if (name == "set") return parse_set(offset);
  if (name == "macro") return parse_macro(offset);
  if (name == "call") return parse_call_block(offset);
  if (name == "filter") return parse_filter_block(offset);
  if (name == "with") return parse_with(offset);
  if (name == "generation") {
    auto group = std::make_unique<GroupStmt>(offset);
    expect_block_end();
    group->body = subparse({"endgeneration"});
    next();
    expect_block_end();
    return group;
  }
  if (name == "break" || name == "continue") {
    if (loop_depth_ == 0) error(tag.offset, fmt::format("'{}' outside of a for loop", name));
    expect_block_end();
    return std::make_unique<LoopControlStmt>(name == "break" ? StmtType::Break : StmtType::Continue, offset);
  }
  static constexpr std::string_view kUnsupported[] = {"include",    "import", "from",  "extends",  "block",
                                                      "autoescape", "do",     "trans", "pluralize"};
  if (contains(kUnsupported, name)) error(tag.offset, fmt::format("unsupported tag '{}'", name));
  error(tag.offset, fmt::format("unknown tag '{}'", name));
}

void Parser::parse_names(std::vector<std::string>& names, bool& unpack, std::string_view stop) {
  bool parenthesized = skip_op("(");
  for (;;) {
    names.push_back(expect_name("a variable name"));
    if (!skip_op(",")) break;
    unpack = true;
    if ((parenthesized && at_op(")")) || at_name(stop)) break;
  }
  if (parenthesized) {
    expect_op(")");
    unpack = true;
  }
}

StmtPtr Parser::parse_for(size_t offset) {
  auto s = std::make_unique<ForStmt>(offset);
  parse_names(s->targets, s->unpack, "in");
  if (!skip_name("in")) error(peek().offset, fmt::format("expected 'in', got {}", describe(peek())));
  s->iterable = parse_tuple(false, {"recursive"}, false);
  if (skip_name("if")) s->filter = parse_expression(true);
  if (at_name("recursive")) error(peek().offset, "unsupported: recursive for loops");
  expect_block_end();
  ++loop_depth_;
  s->body = subparse({"endfor", "else"});
  --loop_depth_;
  if (next().value == "else") {
    expect_block_end();
    s->else_body = subparse({"endfor"});
    next();
  }
  expect_block_end();
  return s;
}

StmtPtr Parser::parse_if(size_t offset) {
  auto s = std::make_unique<IfStmt>(offset);
  ExprPtr condition = parse_tuple(false, {}, false);
  expect_block_end();
  for (;;) {
    Body body = subparse({"elif", "else", "endif"});
    s->branches.emplace_back(std::move(condition), std::move(body));
    std::string tag = next().value;
    if (tag == "elif") {
      condition = parse_tuple(false, {}, false);
      expect_block_end();
      continue;
    }
    if (tag == "else") {
      expect_block_end();
      s->else_body = subparse({"endif"});
      next();
    }
    break;
  }
  expect_block_end();
  return s;
}

SetTarget Parser::parse_set_target() {
  SetTarget target;
  if (peek().type == TokenType::Name && at_op(".", 1)) {
    target.names.push_back(next().value);
    next();
    target.attr = expect_name("an attribute name");
    return target;
  }
  parse_names(target.names, target.unpack, "");
  return target;
}

StmtPtr Parser::parse_set(size_t offset) {
  SetTarget target = parse_set_target();
  if (skip_op("=")) {
    auto s = std::make_unique<SetStmt>(offset);
    s->target = std::move(target);
    s->value = parse_tuple(true, {}, false);
    expect_block_end();
    return s;
  }
  auto s = std::make_unique<SetBlockStmt>(offset);
  s->target = std::move(target);
  if (s->target.unpack) error(offset, "a block set assigns to one name");
  if (at_op("|")) s->filter = parse_filters(nullptr, false);
  expect_block_end();
  s->body = subparse({"endset"});
  next();
  expect_block_end();
  return s;
}

std::vector<Param> Parser::parse_params() {
  std::vector<Param> params;
  expect_op("(");
  while (!at_op(")")) {
    if (!params.empty()) expect_op(",");
    if (at_op(")")) break;
    Param p;
    p.name = expect_name("a parameter name");
    if (skip_op("=")) p.default_value = parse_expression(true);
    params.push_back(std::move(p));
  }
  expect_op(")");
  return params;
}

StmtPtr Parser::parse_macro(size_t offset) {
  auto s = std::make_unique<MacroStmt>(offset);
  s->name = expect_name("a macro name");
  s->params = parse_params();
  expect_block_end();
  int saved_loop_depth = std::exchange(loop_depth_, 0);
  s->body = subparse({"endmacro"});
  loop_depth_ = saved_loop_depth;
  next();
  if (peek().type == TokenType::Name) next();  // {% endmacro name %}
  expect_block_end();
  return s;
}

StmtPtr Parser::parse_call_block(size_t offset) {
  auto s = std::make_unique<CallBlockStmt>(offset);
  if (at_op("(")) s->params = parse_params();
  s->call = parse_expression(true);
  if (s->call->type != ExprType::Call) error(s->call->offset, "expected a macro call after 'call'");
  expect_block_end();
  int saved_loop_depth = std::exchange(loop_depth_, 0);
  s->body = subparse({"endcall"});
  loop_depth_ = saved_loop_depth;
  next();
  expect_block_end();
  return s;
}

StmtPtr Parser::parse_filter_block(size_t offset) {
  auto s = std::make_unique<FilterBlockStmt>(offset);
  s->filter = parse_filters(nullptr, true);
  expect_block_end();
  s->body = subparse({"endfilter"});
  next();
  expect_block_end();
  return s;
}

StmtPtr Parser::parse_with(size_t offset) {
  auto s = std::make_unique<WithStmt>(offset);
  while (peek().type != TokenType::BlockEnd) {
    if (!s->assignments.empty()) expect_op(",");
    std::string name = expect_name("a variable name");
    expect_op("=");
    s->assignments.emplace_back(std::move(name), parse_expression(true));
  }
  expect_block_end();
  s->body = subparse({"endwith"});
  next();
  expect_block_end();
  return s;
}

}  // namespace detail

Body parse(std::string_view source, std::string_view name) {
  return detail::Parser(tokenize(source, name), source, name).parse_template();
}

}  // namespace whale::jinja
