// Problem generation for the built-in tasks: operands drawn from a counter-based random stream, the split
// decided by a hash of the operands, questions in several typed phrasings, and reasoning traces whose every
// line depends only on a few digits (a column of an addition, one digit product), so a small model can
// learn each step.
#include "train/tasks.h"

#include <algorithm>
#include <array>
#include <cstdlib>

#include "core/error.h"
#include "train/tasks_rng.h"

namespace whale::train {
namespace {

constexpr std::array<const char*, 5> kTaskNames = {"addition", "subtraction", "multiplication", "countdown",
                                                   "linear"};
// One operand tuple in kHeldOutEvery goes to the held-out split.
constexpr uint64_t kHeldOutEvery = 8;

int64_t number_with_digits(Rng& rng, int digits) {
  if (digits <= 1) return rng.uniform(0, 9);
  int64_t low = 1;
  for (int i = 1; i < digits; ++i) low *= 10;
  return rng.uniform(low, low * 10 - 1);
}

std::vector<int> digits_from_right(int64_t value) {
  std::vector<int> digits;
  do {
    digits.push_back(static_cast<int>(value % 10));
    value /= 10;
  } while (value > 0);
  return digits;
}

// Binary operator as typed, with or without spaces around it.
std::string join_op(Rng& rng, int64_t a, std::string_view op, int64_t b) {
  bool spaced = rng.uniform(0, 1) == 1;
  if (op == "times" || op == "plus" || op == "minus") spaced = true;
  return spaced ? fmt::format("{} {} {}", a, op, b) : fmt::format("{}{}{}", a, op, b);
}

std::string arithmetic_question(Rng& rng, int64_t a, int64_t b, char op) {
  std::string_view sym(&op, 1);
  std::string_view word = op == '+' ? "plus" : op == '-' ? "minus" : "times";
  std::string_view verb_with = op == '+' ? "Add" : op == '-' ? "Subtract" : "Multiply";
  if (op == '*') {
    int64_t r = rng.uniform(0, 9);
    if (r == 0) sym = "x";
    if (r == 1) sym = "×";
  }
  std::string expr = join_op(rng, a, sym, b);
  switch (rng.uniform(0, 9)) {
    case 0: return fmt::format("What is {}?", expr);
    case 1: return fmt::format("Compute {}.", expr);
    case 2: return fmt::format("{} = ?", expr);
    case 3: return fmt::format("Please calculate {}", expr);
    case 4: return fmt::format("{}=", expr);
    case 5: return fmt::format("Calculate {}", expr);
    case 6: return fmt::format("What's {}?", join_op(rng, a, word, b));
    case 7: return fmt::format("How much is {}?", expr);
    case 8:
      if (op == '-') return fmt::format("Subtract {} from {}.", b, a);
      return fmt::format("{} {} and {}.", verb_with, a, b);
    default: return expr;
  }
}

// The arithmetic traces work on the operands from the right, one digit per line, and every line restates what
// is left of the operands (the previous line's operands less their last digit) and the result so far (the
// previous result with the new digit in front). So each token depends on the line above at a fixed place:
// the last digits sit right before the operator and the colon, the carry is the previous sum's tens digit.
// A tiny model learns these local rules; finding "the i-th digit from the right" in the question is much harder.
//   addition        4821+3907:1+7+0=8 r8   then 482+390:2+0+0=2 r28 ... the last line prepends the whole sum
//   subtraction     4821-3907:1-7-0=4 b1 r4 ...   (digit, next borrow, result so far), then "=N" without leading 0s
//   multiplication  one partial product per digit of b (306*9:6*9+0=54 r4 ...), then their column sum

std::string prefix_text(const std::vector<int>& digits_right, size_t dropped) {
  if (dropped >= digits_right.size()) return "0";
  std::string text;
  for (size_t i = digits_right.size(); i > dropped; --i) text += static_cast<char>('0' + digits_right[i - 1]);
  return text;
}

// Appends the addition lines of a + b; returns a + b.
int64_t add_lines(int64_t a, int64_t b, std::string& out) {
  std::vector<int> da = digits_from_right(a), db = digits_from_right(b);
  size_t n = std::max(da.size(), db.size());
  int carry = 0;
  std::string result;
  for (size_t i = 0; i < n; ++i) {
    int x = i < da.size() ? da[i] : 0, y = i < db.size() ? db[i] : 0;
    int sum = x + y + carry;
    result.insert(0, std::to_string(i + 1 == n ? sum : sum % 10));
    out += fmt::format("{}+{}:{}+{}+{}={} r{}\n", prefix_text(da, i), prefix_text(db, i), x, y, carry, sum, result);
    carry = sum / 10;
  }
  return a + b;
}

Problem addition(Rng& rng, Split split) {
  int64_t a = 0, b = 0;
  do {
    bool long_form = rng.uniform(0, 1) == 1;
    a = number_with_digits(rng, long_form ? 4 : static_cast<int>(rng.uniform(1, 4)));
    b = number_with_digits(rng, long_form ? 4 : static_cast<int>(rng.uniform(1, 4)));
  } while (split_of(Task::Addition, {a, b}) != split);
  Problem p;
  p.task = Task::Addition;
  p.question = arithmetic_question(rng, a, b, '+');
  add_lines(a, b, p.reasoning);
  p.reasoning.pop_back();
  p.answer = std::to_string(a + b);
  p.numbers = {a, b};
  return p;
}

Problem subtraction(Rng& rng, Split split) {
  int64_t a = 0, b = 0;
  do {
    bool long_form = rng.uniform(0, 1) == 1;
    a = number_with_digits(rng, long_form ? 4 : static_cast<int>(rng.uniform(1, 4)));
    b = number_with_digits(rng, long_form ? 4 : static_cast<int>(rng.uniform(1, 4)));
    if (a < b) std::swap(a, b);
  } while (split_of(Task::Subtraction, {a, b}) != split);
  Problem p;
  p.task = Task::Subtraction;
  p.question = arithmetic_question(rng, a, b, '-');
  std::vector<int> da = digits_from_right(a), db = digits_from_right(b);
  int borrow = 0;
  std::string result;
  for (size_t i = 0; i < da.size(); ++i) {
    int x = da[i], y = i < db.size() ? db[i] : 0;
    int d = x - y - borrow;
    int next = d < 0 ? 1 : 0;
    if (d < 0) d += 10;
    result.insert(0, std::to_string(d));
    p.reasoning += fmt::format("{}-{}:{}-{}-{}={} b{} r{}\n", prefix_text(da, i), prefix_text(db, i), x, y, borrow, d,
                               next, result);
    borrow = next;
  }
  p.reasoning += fmt::format("={}", a - b);
  p.answer = std::to_string(a - b);
  p.numbers = {a, b};
  return p;
}

Problem multiplication(Rng& rng, Split split) {
  int64_t a = 0, b = 0;
  do {
    bool long_form = rng.uniform(0, 4) >= 2;
    a = number_with_digits(rng, long_form ? 3 : static_cast<int>(rng.uniform(1, 3)));
    b = number_with_digits(rng, long_form ? 2 : static_cast<int>(rng.uniform(1, 2)));
  } while (split_of(Task::Multiplication, {a, b}) != split);
  Problem p;
  p.task = Task::Multiplication;
  p.question = arithmetic_question(rng, a, b, '*');
  std::vector<int> da = digits_from_right(a), db = digits_from_right(b);
  std::vector<int64_t> partials;
  for (int d : db) {
    int carry = 0;
    std::string result;
    for (size_t i = 0; i < da.size(); ++i) {
      int v = da[i] * d + carry;
      result.insert(0, std::to_string(i + 1 == da.size() ? v : v % 10));
      p.reasoning += fmt::format("{}*{}:{}*{}+{}={} r{}\n", prefix_text(da, i), d, da[i], d, carry, v, result);
      carry = v / 10;
    }
    partials.push_back(a * d);
  }
  if (partials.size() == 2) add_lines(partials[0], partials[1] * 10, p.reasoning);
  p.reasoning.pop_back();
  p.answer = std::to_string(a * b);
  p.numbers = {a, b};
  return p;
}

// Countdown: a left-to-right chain over all the numbers, each step an exact, positive integer result, so the
// trace is the chain and the answer an expression with the parentheses precedence needs.
Problem countdown(Rng& rng, Split split) {
  static constexpr std::array<char, 4> kOps = {'+', '-', '*', '/'};
  std::vector<int64_t> numbers;
  std::string steps, expr;
  int64_t value = 0;
  for (;;) {
    size_t count = static_cast<size_t>(rng.uniform(3, 4));
    numbers.clear();
    for (size_t i = 0; i < count; ++i) numbers.push_back(rng.uniform(1, i == 0 ? 25 : 12));
    steps.clear();
    value = numbers[0];
    expr = std::to_string(value);
    bool low_precedence = false;  // expr's top-level operator is + or -
    bool ok = true;
    for (size_t i = 1; i < count && ok; ++i) {
      int64_t x = numbers[i];
      std::vector<char> valid;
      for (char op : kOps) {
        if (op == '-' && value - x <= 0) continue;
        if (op == '/' && (x == 1 || value % x != 0)) continue;
        if (op == '*' && (x == 1 || value * x > 999)) continue;
        valid.push_back(op);
      }
      if (valid.empty()) {
        ok = false;
        break;
      }
      char op = valid[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(valid.size()) - 1))];
      int64_t next = op == '+' ? value + x : op == '-' ? value - x : op == '*' ? value * x : value / x;
      steps += fmt::format("{}{}{}={}\n", value, op, x, next);
      bool high = op == '*' || op == '/';
      if (high && low_precedence) expr = fmt::format("({})", expr);
      expr += fmt::format("{}{}", op, x);
      low_precedence = !high;
      value = next;
    }
    if (!ok || value < 10 || value > 999) continue;
    std::vector<int64_t> operands = numbers;
    std::sort(operands.begin(), operands.end());
    operands.push_back(value);
    if (split_of(Task::Countdown, operands) == split) break;
  }
  Problem p;
  p.task = Task::Countdown;
  p.target = value;
  p.numbers = numbers;
  // The question lists the numbers in a shuffled order; the trace uses them in chain order.
  std::vector<int64_t> shown = numbers;
  for (size_t i = shown.size(); i > 1; --i) {
    std::swap(shown[i - 1], shown[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(i) - 1))]);
  }
  std::string comma, spaced, last_and;
  for (size_t i = 0; i < shown.size(); ++i) {
    std::string v = std::to_string(shown[i]);
    comma += fmt::format("{}{}", i ? ", " : "", v);
    spaced += fmt::format("{}{}", i ? " " : "", v);
    last_and += fmt::format("{}{}", i == 0 ? "" : i + 1 == shown.size() ? " and " : ", ", v);
  }
  switch (rng.uniform(0, 3)) {
    case 0: p.question = fmt::format("Using the numbers {}, make {} with + - * /.", comma, value); break;
    case 1: p.question = fmt::format("Reach {} with {} (+ - * /)", value, spaced); break;
    case 2: p.question = fmt::format("Countdown: numbers {}, target {}", comma, value); break;
    default: p.question = fmt::format("Make {} from {} using + - * /.", value, last_and); break;
  }
  p.reasoning = steps + fmt::format("{}={}", expr, value);
  p.answer = fmt::format("{}={}", expr, value);
  return p;
}

std::string linear_lhs(int64_t a, int64_t b, bool spaced, bool star) {
  std::string ax = star ? fmt::format("{}*x", a) : fmt::format("{}x", a);
  if (b == 0) return ax;
  char sign = b < 0 ? '-' : '+';
  return spaced ? fmt::format("{} {} {}", ax, sign, std::llabs(b)) : fmt::format("{}{}{}", ax, sign, std::llabs(b));
}

Problem linear(Rng& rng, Split split) {
  int64_t a = 0, x = 0, b = 0;
  do {
    a = rng.uniform(2, 12);
    x = rng.uniform(-20, 20);
    b = rng.uniform(-50, 50);
  } while (split_of(Task::Linear, {a, b, a * x + b}) != split);
  int64_t c = a * x + b;
  bool spaced = rng.uniform(0, 1) == 1;
  bool star = rng.uniform(0, 3) == 0;
  std::string eq = fmt::format("{}{}{}", linear_lhs(a, b, spaced, star), spaced ? " = " : "=", c);
  Problem p;
  p.task = Task::Linear;
  switch (rng.uniform(0, 4)) {
    case 0: p.question = fmt::format("Solve {}", eq); break;
    case 1: p.question = fmt::format("Solve for x: {}", eq); break;
    case 2: p.question = fmt::format("{}, x=?", eq); break;
    case 3: p.question = fmt::format("Find x if {}.", eq); break;
    default: p.question = fmt::format("If {}, what is x?", eq); break;
  }
  // Move b across, then divide: "ax=c-b=v" and "x=v/a=x".
  int64_t v = c - b;
  std::string moved = b == 0 ? std::to_string(c) : fmt::format("{}{}{}", c, b > 0 ? '-' : '+', std::llabs(b));
  p.reasoning = fmt::format("{}x={}={}\nx={}/{}={}", a, moved, v, v, a, x);
  p.answer = fmt::format("x={}", x);
  p.numbers = {a, b, c};
  return p;
}

}  // namespace

std::optional<Task> parse_task(std::string_view name) {
  for (size_t i = 0; i < kTaskNames.size(); ++i) {
    if (name == kTaskNames[i]) return static_cast<Task>(i);
  }
  return std::nullopt;
}

const char* task_name(Task task) { return kTaskNames[static_cast<size_t>(task)]; }

std::vector<Task> all_tasks() {
  return {Task::Addition, Task::Subtraction, Task::Multiplication, Task::Countdown, Task::Linear};
}

std::vector<Task> parse_task_list(std::string_view list) {
  if (list == "all") return all_tasks();
  std::vector<Task> tasks;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view name = list.substr(start, end - start);
    std::optional<Task> task = parse_task(name);
    if (!task) {
      fail("--task: unknown task \"{}\" (expected all or a comma-separated list of addition, subtraction, "
           "multiplication, countdown, linear)", name);
    }
    if (std::find(tasks.begin(), tasks.end(), *task) == tasks.end()) tasks.push_back(*task);
    start = end + 1;
  }
  return tasks;
}

Split split_of(Task task, const std::vector<int64_t>& operands) {
  uint64_t h = mix64(0x7461736b73ULL + static_cast<uint64_t>(task));
  for (int64_t v : operands) h = mix64(h ^ static_cast<uint64_t>(v));
  return h % kHeldOutEvery == 0 ? Split::HeldOut : Split::Train;
}

std::vector<int64_t> problem_operands(const Problem& problem) {
  if (problem.task == Task::Countdown) {
    std::vector<int64_t> operands = problem.numbers;
    std::sort(operands.begin(), operands.end());
    operands.push_back(problem.target);
    return operands;
  }
  return problem.numbers;
}

Problem make_problem(Task task, Split split, uint64_t seed, uint64_t index) {
  Rng rng(mix64(mix64(seed) ^ mix64(static_cast<uint64_t>(task) * 2 + static_cast<uint64_t>(split) + 1) ^
                mix64(index + 0x9e3779b97f4a7c15ULL)));
  switch (task) {
    case Task::Addition: return addition(rng, split);
    case Task::Subtraction: return subtraction(rng, split);
    case Task::Multiplication: return multiplication(rng, split);
    case Task::Countdown: return countdown(rng, split);
    case Task::Linear: return linear(rng, split);
  }
  WHALE_ASSERT(false);
}

}  // namespace whale::train
