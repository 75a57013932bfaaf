// The rule-based rewards of the tasks: is the final answer right, and is the completion shaped
// "<think>\n...\n</think>\n\nanswer". Completions are model output, so anything may arrive: the checkers
// never throw and bound their work (countdown expressions are parsed with a length and depth limit).
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <numeric>
#include <optional>

#include "core/error.h"
#include "train/tasks.h"

namespace whale::train {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Every integer written in `text`; a '-' directly before the digits counts as a sign unless it follows a
// digit or ')' (then it is a subtraction). Nullopt when a number does not fit 18 digits.
std::optional<std::vector<int64_t>> integers_in(std::string_view text) {
  std::vector<int64_t> values;
  for (size_t i = 0; i < text.size();) {
    if (!is_digit(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && is_digit(text[j])) ++j;
    if (j - i > 18) return std::nullopt;
    int64_t v = 0;
    std::from_chars(text.data() + i, text.data() + j, v);
    size_t k = i;
    while (k > 0 && text[k - 1] == ' ') --k;
    if (k > 0 && text[k - 1] == '-') {
      size_t m = k - 1;
      while (m > 0 && text[m - 1] == ' ') --m;
      if (m == 0 || !(is_digit(text[m - 1]) || text[m - 1] == ')')) v = -v;
    }
    values.push_back(v);
    i = j;
  }
  return values;
}

// Exact rational arithmetic for countdown expressions (operands <= 4 numbers below 1000: no overflow).
struct Fraction {
  int64_t num = 0;
  int64_t den = 1;
};

Fraction reduce(int64_t num, int64_t den) {
  if (den < 0) num = -num, den = -den;
  int64_t g = std::gcd(num < 0 ? -num : num, den);
  if (g > 1) num /= g, den /= g;
  return {num, den};
}

// Recursive-descent parser over + - * / ( ) and integers that consumes the numbers it uses from `pool`.
class ExpressionParser {
 public:
  ExpressionParser(std::string_view text, std::vector<int64_t> pool) : text_(text), pool_(std::move(pool)) {}

  std::optional<Fraction> parse() {
    std::optional<Fraction> value = sum(0);
    skip_spaces();
    if (!value || pos_ != text_.size()) return std::nullopt;
    return value;
  }

 private:
  static constexpr int kMaxDepth = 16;

  void skip_spaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  bool take(char c) {
    skip_spaces();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  std::optional<Fraction> sum(int depth) {
    std::optional<Fraction> left = product(depth);
    while (left) {
      bool plus = take('+');
      if (!plus && !take('-')) break;
      std::optional<Fraction> right = product(depth);
      if (!right) return std::nullopt;
      int64_t num = plus ? left->num * right->den + right->num * left->den : left->num * right->den - right->num * left->den;
      left = reduce(num, left->den * right->den);
    }
    return left;
  }

  std::optional<Fraction> product(int depth) {
    std::optional<Fraction> left = atom(depth);
    while (left) {
      bool times = take('*') || take('x') || take_multiplication_sign();
      if (!times && !take('/')) break;
      std::optional<Fraction> right = atom(depth);
      if (!right) return std::nullopt;
      if (times) {
        left = reduce(left->num * right->num, left->den * right->den);
      } else {
        if (right->num == 0) return std::nullopt;
        left = reduce(left->num * right->den, left->den * right->num);
      }
    }
    return left;
  }

  bool take_multiplication_sign() {
    skip_spaces();
    constexpr std::string_view kTimes = "×";
    if (text_.substr(pos_, kTimes.size()) == kTimes) {
      pos_ += kTimes.size();
      return true;
    }
    return false;
  }

  std::optional<Fraction> atom(int depth) {
    if (depth > kMaxDepth) return std::nullopt;
    if (take('(')) {
      std::optional<Fraction> inner = sum(depth + 1);
      if (!inner || !take(')')) return std::nullopt;
      return inner;
    }
    skip_spaces();
    size_t start = pos_;
    while (pos_ < text_.size() && is_digit(text_[pos_]) && pos_ - start < 6) ++pos_;
    if (pos_ == start || (pos_ < text_.size() && is_digit(text_[pos_]))) return std::nullopt;
    int64_t v = 0;
    std::from_chars(text_.data() + start, text_.data() + pos_, v);
    auto it = std::find(pool_.begin(), pool_.end(), v);
    if (it == pool_.end()) return std::nullopt;  // not a given number, or used up
    pool_.erase(it);
    return Fraction{v, 1};
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::vector<int64_t> pool_;
};

bool countdown_correct(const Problem& problem, std::string_view answer) {
  if (answer.size() > 200) return false;
  size_t eq = answer.find('=');
  std::string_view expr = answer.substr(0, eq);
  if (eq != std::string_view::npos) {
    std::string_view stated = trim(answer.substr(eq + 1));
    if (stated != std::to_string(problem.target)) return false;
  }
  std::optional<Fraction> value = ExpressionParser(trim(expr), problem.numbers).parse();
  return value && value->den == 1 && value->num == problem.target;
}

}  // namespace

std::string_view final_answer(std::string_view completion) {
  size_t close = completion.rfind(kClose);
  if (close != std::string_view::npos) completion.remove_prefix(close + kClose.size());
  std::string_view answer = trim(completion);
  while (!answer.empty() && answer.back() == '.') answer.remove_suffix(1);
  return trim(answer);
}

bool answer_correct(const Problem& problem, std::string_view completion) {
  std::string_view answer = final_answer(completion);
  if (answer.empty() || answer.find('<') != std::string_view::npos) return false;
  if (problem.task == Task::Countdown) return countdown_correct(problem, answer);
  // Exactly one number in the answer, and it is the result ("8728", "x=-5", "The answer is 8728").
  std::optional<std::vector<int64_t>> values = integers_in(answer);
  std::optional<std::vector<int64_t>> expected = integers_in(problem.answer);
  WHALE_ASSERT(expected && expected->size() == 1);
  return values && values->size() == 1 && values->front() == expected->front();
}

bool format_ok(std::string_view completion) {
  // The prompt may already hold "<think>\n" (current R1 templates); otherwise the completion opens the block.
  if (completion.substr(0, kOpen.size()) == kOpen) {
    completion.remove_prefix(kOpen.size());
    if (completion.empty() || completion.front() != '\n') return false;
    completion.remove_prefix(1);
  }
  size_t close = completion.find(kClose);
  if (close == std::string_view::npos || completion.find(kClose, close + 1) != std::string_view::npos) return false;
  std::string_view reasoning = completion.substr(0, close);
  std::string_view rest = completion.substr(close + kClose.size());
  if (reasoning.find(kOpen) != std::string_view::npos) return false;
  if (reasoning.size() < 2 || reasoning.back() != '\n' || trim(reasoning).empty()) return false;
  if (rest.substr(0, 2) != "\n\n") return false;
  std::string_view answer = trim(rest);
  return !answer.empty() && answer.find(kOpen) == std::string_view::npos;
}

}  // namespace whale::train
