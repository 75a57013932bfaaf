// The parser of the template engine (internal): the Parser class and its token handling. The statement rules
// are in jinja_parser.cpp, the expression rules in jinja_parser_expressions.cpp.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja_parser.h"

namespace whale::jinja::detail {

constexpr int kMaxExprDepth = 2 * kMaxNesting;

template <size_t N>
bool contains(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// Recursive descent over the token list of one template; throws whale::Error "NAME:LINE:COLUMN: message".
class Parser {
 public:
  Parser(std::vector<Token> tokens, std::string_view source, std::string_view name)
      : tokens_(std::move(tokens)), src_(source), name_(name) {}

  Body parse_template() { return subparse({}); }

 private:
  // Bounds recursion: nested parentheses, unary chains and nested blocks.
  class NestingGuard {
   public:
    NestingGuard(Parser& parser, size_t offset) : parser_(parser) {
      if (++parser_.nesting_ > kMaxNesting) {
        parser_.error(offset, fmt::format("template nested too deeply (more than {} levels)", kMaxNesting));
      }
    }
    ~NestingGuard() { --parser_.nesting_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;

   private:
    Parser& parser_;
  };

  [[noreturn]] void error(size_t offset, std::string_view message) const { fail_at(name_, src_, offset, message); }

  const Token& peek(size_t k = 0) const { return tokens_[std::min(pos_ + k, tokens_.size() - 1)]; }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool at_op(std::string_view op, size_t k = 0) const {
    return peek(k).type == TokenType::Operator && peek(k).value == op;
  }
  bool at_name(std::string_view name, size_t k = 0) const {
    return peek(k).type == TokenType::Name && peek(k).value == name;
  }
  bool skip_op(std::string_view op) {
    if (!at_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!at_name(name)) return false;
    next();
    return true;
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::Text: return "template text";
      case TokenType::VarBegin: return "'{{'";
      case TokenType::VarEnd: return "'}}'";
      case TokenType::BlockBegin: return "'{%'";
      case TokenType::BlockEnd: return "'%}'";
      case TokenType::Name: return "'" + t.value + "'";
      case TokenType::String: return "a string";
      case TokenType::Integer:
      case TokenType::Float: return "number " + t.value;
      case TokenType::Operator: return "'" + t.value + "'";
      case TokenType::End: return "end of template";
    }
    return "?";
  }

  void expect_op(std::string_view op) {
    if (!skip_op(op)) error(peek().offset, fmt::format("expected '{}', got {}", op, describe(peek())));
  }
  std::string expect_name(std::string_view what) {
    if (peek().type != TokenType::Name)
      error(peek().offset, fmt::format("expected {}, got {}", what, describe(peek())));
    return next().value;
  }
  void expect_block_end() {
    if (peek().type != TokenType::BlockEnd)
      error(peek().offset, fmt::format("expected '%}}', got {}", describe(peek())));
    next();
  }

  ExprPtr finish(ExprPtr e, std::initializer_list<const Expr*> children) {
    for (const Expr* child : children) {
      if (child != nullptr) e->depth = std::max(e->depth, child->depth + 1);
    }
    if (e->depth > kMaxExprDepth) {
      error(e->offset, fmt::format("expression nested too deeply (more than {} levels)", kMaxExprDepth));
    }
    return e;
  }

  // ---- statements (jinja_parser.cpp) ----
  // Parses until a block tag named in `end_names`; leaves the parser on that name.
  Body subparse(std::initializer_list<std::string_view> end_names);
  StmtPtr parse_statement(size_t offset);
  void parse_names(std::vector<std::string>& names, bool& unpack, std::string_view stop);
  StmtPtr parse_for(size_t offset);
  StmtPtr parse_if(size_t offset);
  SetTarget parse_set_target();
  StmtPtr parse_set(size_t offset);
  std::vector<Param> parse_params();
  StmtPtr parse_macro(size_t offset);
  StmtPtr parse_call_block(size_t offset);
  StmtPtr parse_filter_block(size_t offset);
  StmtPtr parse_with(size_t offset);

  // ---- expressions (jinja_parser_expressions.cpp) ----
  bool is_tuple_end(std::initializer_list<std::string_view> extra_end, bool explicit_parentheses) const;
  ExprPtr parse_tuple(bool with_condexpr, std::initializer_list<std::string_view> extra_end, bool explicit_parentheses);
  ExprPtr parse_expression(bool with_condexpr);
  ExprPtr parse_condexpr();
  ExprPtr binary(size_t offset, BinaryOp op, ExprPtr left, ExprPtr right);
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_list();
  ExprPtr parse_dict();
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_filter_expr(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr object);
  void parse_args(std::vector<Arg>& args, int& depth);
  ExprPtr parse_call(ExprPtr callee);
  std::string parse_dotted_name(std::string_view what);
  // `| f(args) | g`; with `first_without_pipe` the first filter has no leading pipe ({% filter f %}).
  ExprPtr parse_filters(ExprPtr node, bool first_without_pipe);
  ExprPtr parse_test(ExprPtr node);

  std::vector<Token> tokens_;
  std::string_view src_;
  std::string_view name_;
  size_t pos_ = 0;
  int nesting_ = 0;
  int loop_depth_ = 0;
};

}  // namespace whale::jinja::detail
