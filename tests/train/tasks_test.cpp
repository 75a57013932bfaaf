// Tests of the built-in tasks: determinism, disjoint splits, traces whose every step is right (recomputed
// here from the question text, not from the generator's fields) and the reward checkers on hand-made
// completions.
#include "train/tasks.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"

namespace whale::train {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::vector<int64_t> numbers_in_question(const std::string& q) {
  std::vector<int64_t> values;
  std::regex number(R"(-?\d+)");
  for (auto it = std::sregex_iterator(q.begin(), q.end(), number); it != std::sregex_iterator(); ++it) {
    values.push_back(std::stoll(it->str()));
  }
  return values;
}

std::string completion_of(const Problem& p) { return fmt::format("<think>\n{}\n</think>\n\n{}", p.reasoning, p.answer); }

TEST(Tasks, NamesRoundTrip) {
  for (Task t : all_tasks()) EXPECT_EQ(parse_task(task_name(t)), t);
  EXPECT_FALSE(parse_task("division").has_value());
  EXPECT_EQ(parse_task_list("all").size(), 5u);
  EXPECT_EQ(parse_task_list("linear,addition,linear"), (std::vector<Task>{Task::Linear, Task::Addition}));
  EXPECT_THROW(parse_task_list("addition,division"), Error);
  EXPECT_THROW(parse_task_list(""), Error);
}

TEST(Tasks, DeterministicForSeedAndIndex) {
  for (Task t : all_tasks()) {
    for (uint64_t i = 0; i < 20; ++i) {
      Problem a = make_problem(t, Split::Train, 7, i), b = make_problem(t, Split::Train, 7, i);
      EXPECT_EQ(a.question, b.question);
      EXPECT_EQ(a.reasoning, b.reasoning);
      EXPECT_EQ(a.answer, b.answer);
    }
    std::set<std::string> distinct;
    for (uint64_t i = 0; i < 50; ++i) distinct.insert(make_problem(t, Split::Train, 7, i).question);
    EXPECT_GT(distinct.size(), 40u) << task_name(t);
    EXPECT_NE(make_problem(t, Split::Train, 7, 0).question, make_problem(t, Split::Train, 8, 0).question);
  }
}

TEST(Tasks, SplitsAreDisjoint) {
  for (Task t : all_tasks()) {
    std::set<std::vector<int64_t>> train, held_out;
    for (uint64_t i = 0; i < 1500; ++i) {
      Problem a = make_problem(t, Split::Train, 1, i), b = make_problem(t, Split::HeldOut, 1, i);
      EXPECT_EQ(split_of(t, problem_operands(a)), Split::Train);
      EXPECT_EQ(split_of(t, problem_operands(b)), Split::HeldOut);
      train.insert(problem_operands(a));
      held_out.insert(problem_operands(b));
    }
    // Different seeds draw from the same split too.
    for (uint64_t i = 0; i < 500; ++i) train.insert(problem_operands(make_problem(t, Split::Train, 99, i)));
    for (const auto& ops : held_out) EXPECT_EQ(train.count(ops), 0u) << task_name(t);
    EXPECT_GT(held_out.size(), 300u) << task_name(t);
  }
}

// Digits of `v` from the right.
std::vector<int> digits_right(int64_t v) {
  std::vector<int> d;
  do {
    d.push_back(static_cast<int>(v % 10));
    v /= 10;
  } while (v > 0);
  return d;
}

// Addition lines "A+B:x+y+c=s rR" from line i on: the operands shrink by one digit per line (0 once used
// up), x and y are their last digits, c the previous sum's tens digit, s right, and R the previous R with the
// sum's last digit (on the last line the whole sum) in front. Returns R of the last line.
int64_t check_addition_lines(const std::vector<std::string>& lines, size_t& i, int64_t a, int64_t b) {
  std::regex line(R"((\d+)\+(\d+):(\d)\+(\d)\+(\d)=(\d+) r(\d+))");
  int carry = 0;
  std::string result;
  std::smatch m;
  for (int64_t x_left = a, y_left = b; i < lines.size() && std::regex_match(lines[i], m, line); ++i) {
    EXPECT_EQ(std::stoll(m[1]), x_left) << lines[i];
    EXPECT_EQ(std::stoll(m[2]), y_left) << lines[i];
    int x = std::stoi(m[3]), y = std::stoi(m[4]), c = std::stoi(m[5]), s = std::stoi(m[6]);
    EXPECT_EQ(x, x_left % 10);
    EXPECT_EQ(y, y_left % 10);
    EXPECT_EQ(c, carry);
    EXPECT_EQ(x + y + c, s) << lines[i];
    x_left /= 10, y_left /= 10;
    bool last = x_left == 0 && y_left == 0;
    result.insert(0, std::to_string(last ? s : s % 10));
    EXPECT_EQ(m[7].str(), result) << lines[i];
    carry = s / 10;
  }
  return result.empty() ? -1 : std::stoll(result);
}

TEST(Tasks, AdditionTracesAreRight) {
  for (uint64_t i = 0; i < 300; ++i) {
    Problem p = make_problem(Task::Addition, i % 2 ? Split::Train : Split::HeldOut, 3, i);
    std::vector<int64_t> q = numbers_in_question(p.question);
    ASSERT_EQ(q.size(), 2u) << p.question;
    EXPECT_EQ(p.answer, std::to_string(q[0] + q[1])) << p.question;
    std::vector<std::string> lines = lines_of(p.reasoning);
    size_t at = 0;
    EXPECT_EQ(check_addition_lines(lines, at, q[0], q[1]), q[0] + q[1]);
    EXPECT_EQ(at, lines.size()) << p.reasoning;
    EXPECT_EQ(lines.size(), std::max(digits_right(q[0]).size(), digits_right(q[1]).size()));
    EXPECT_TRUE(answer_correct(p, completion_of(p)));
    EXPECT_TRUE(format_ok(completion_of(p)));
  }
  // The example from the issue, written out by hand.
  for (uint64_t i = 0;; ++i) {
    Problem p = make_problem(Task::Addition, Split::Train, 3, i);
    if (p.numbers != std::vector<int64_t>{4821, 3907} && i < 100000) continue;
    if (i >= 100000) break;  // not drawn: the generic checks above cover the format
    EXPECT_EQ(p.reasoning, "4821+3907:1+7+0=8 r8\n482+390:2+0+0=2 r28\n48+39:8+9+0=17 r728\n4+3:4+3+1=8 r8728");
    break;
  }
}

TEST(Tasks, SubtractionTracesAreRight) {
  std::regex line(R"((\d+)-(\d+):(\d)-(\d)-(\d)=(\d) b(\d) r(\d+))");
  for (uint64_t i = 0; i < 300; ++i) {
    Problem p = make_problem(Task::Subtraction, Split::Train, 4, i);
    std::vector<int64_t> q = numbers_in_question(p.question);
    ASSERT_EQ(q.size(), 2u) << p.question;
    int64_t a = std::max(std::llabs(q[0]), std::llabs(q[1])), b = std::min(std::llabs(q[0]), std::llabs(q[1]));
    EXPECT_EQ(p.answer, std::to_string(a - b)) << p.question;
    std::vector<std::string> lines = lines_of(p.reasoning);
    int borrow = 0;
    std::string result;
    int64_t x_left = a, y_left = b;
    std::smatch m;
    for (size_t k = 0; k + 1 < lines.size(); ++k) {
      ASSERT_TRUE(std::regex_match(lines[k], m, line)) << lines[k];
      EXPECT_EQ(std::stoll(m[1]), x_left);
      EXPECT_EQ(std::stoll(m[2]), y_left);
      int x = std::stoi(m[3]), y = std::stoi(m[4]), c = std::stoi(m[5]), d = std::stoi(m[6]), next = std::stoi(m[7]);
      EXPECT_EQ(x, x_left % 10);
      EXPECT_EQ(y, y_left % 10);
      EXPECT_EQ(c, borrow);
      EXPECT_EQ(x - y - c + 10 * next, d) << lines[k];
      EXPECT_TRUE(d >= 0 && d <= 9);
      result.insert(0, std::to_string(d));
      EXPECT_EQ(m[8].str(), result);
      borrow = next;
      x_left /= 10, y_left /= 10;
    }
    EXPECT_EQ(x_left, 0);
    EXPECT_EQ(borrow, 0);
    EXPECT_EQ(std::stoll(result), a - b);
    EXPECT_EQ(lines.back(), fmt::format("={}", p.answer));
    EXPECT_TRUE(answer_correct(p, completion_of(p)));
  }
}

TEST(Tasks, MultiplicationTracesAreRight) {
  std::regex line(R"((\d+)\*(\d):(\d)\*(\d)\+(\d)=(\d+) r(\d+))");
  int long_ones = 0;
  for (uint64_t i = 0; i < 300; ++i) {
    Problem p = make_problem(Task::Multiplication, Split::HeldOut, 5, i);
    std::vector<int64_t> q = numbers_in_question(p.question);
    ASSERT_EQ(q.size(), 2u) << p.question;
    int64_t a = q[0], b = q[1];
    EXPECT_EQ(p.answer, std::to_string(a * b)) << p.question;
    if (a >= 100 && b >= 10) ++long_ones;
    std::vector<std::string> lines = lines_of(p.reasoning);
    // One partial product per digit of b, from the right: digit products with carries, result so far.
    size_t k = 0;
    std::vector<int64_t> partials;
    std::smatch m;
    for (int d : digits_right(b)) {
      int carry = 0;
      std::string result;
      const size_t a_digits = digits_right(a).size();
      int64_t left = a;
      for (size_t j = 0; j < a_digits; ++j, left /= 10, ++k) {
        ASSERT_LT(k, lines.size()) << p.reasoning;
        ASSERT_TRUE(std::regex_match(lines[k], m, line)) << lines[k];
        EXPECT_EQ(std::stoll(m[1]), left);
        EXPECT_EQ(std::stoi(m[2]), d);
        EXPECT_EQ(std::stoi(m[3]), left % 10);
        EXPECT_EQ(std::stoi(m[4]), d);
        EXPECT_EQ(std::stoi(m[5]), carry);
        int v = std::stoi(m[6]);
        EXPECT_EQ(static_cast<int>(left % 10) * d + carry, v) << lines[k];
        result.insert(0, std::to_string(j + 1 == a_digits ? v : v % 10));
        EXPECT_EQ(m[7].str(), result) << lines[k];
        carry = v / 10;
      }
      EXPECT_EQ(std::stoll(result), a * d);
      partials.push_back(std::stoll(result));
    }
    if (partials.size() == 2) {
      EXPECT_EQ(check_addition_lines(lines, k, partials[0], partials[1] * 10), a * b);
    }
    EXPECT_EQ(k, lines.size()) << p.reasoning;
    EXPECT_TRUE(answer_correct(p, completion_of(p)));
  }
  EXPECT_GT(long_ones, 100);  // mostly 3-digit by 2-digit
}

TEST(Tasks, CountdownTracesReachTheTarget) {
  std::regex step(R"((\d+)([-+*/])(\d+)=(\d+))");
  for (uint64_t i = 0; i < 300; ++i) {
    Problem p = make_problem(Task::Countdown, Split::Train, 6, i);
    std::vector<int64_t> q = numbers_in_question(p.question);
    std::vector<std::string> lines = lines_of(p.reasoning);
    // The question lists the numbers and the target; the steps use each number once, in a chain.
    std::vector<int64_t> used;
    int64_t value = -1;
    std::smatch m;
    for (size_t k = 0; k + 1 < lines.size(); ++k) {
      ASSERT_TRUE(std::regex_match(lines[k], m, step)) << lines[k];
      int64_t x = std::stoll(m[1]), y = std::stoll(m[3]), z = std::stoll(m[4]);
      char op = m[2].str()[0];
      if (k == 0) {
        used.push_back(x);
      } else {
        EXPECT_EQ(x, value);
      }
      used.push_back(y);
      int64_t expect = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y;
      if (op == '/') {
        EXPECT_EQ(x % y, 0);
      }
      EXPECT_EQ(z, expect) << lines[k];
      value = z;
    }
    std::vector<int64_t> target_and_numbers = used;
    target_and_numbers.push_back(value);
    std::sort(target_and_numbers.begin(), target_and_numbers.end());
    std::sort(q.begin(), q.end());
    EXPECT_EQ(q, target_and_numbers) << p.question;
    EXPECT_EQ(p.target, value);
    EXPECT_TRUE(answer_correct(p, completion_of(p))) << p.answer;
    EXPECT_TRUE(format_ok(completion_of(p)));
  }
}

TEST(Tasks, LinearTracesSolveTheEquation) {
  std::regex eq(R"((\d+)\*?x *([-+]) *(\d+) *= *(-?\d+))");
  for (uint64_t i = 0; i < 300; ++i) {
    Problem p = make_problem(Task::Linear, Split::Train, 8, i);
    std::smatch m;
    int64_t a, b, c;
    if (std::regex_search(p.question, m, eq)) {
      a = std::stoll(m[1]), b = std::stoll(m[3]) * (m[2] == "-" ? -1 : 1), c = std::stoll(m[4]);
    } else {
      std::regex no_b(R"((\d+)\*?x *= *(-?\d+))");
      ASSERT_TRUE(std::regex_search(p.question, m, no_b)) << p.question;
      a = std::stoll(m[1]), b = 0, c = std::stoll(m[2]);
    }
    ASSERT_EQ(p.answer.substr(0, 2), "x=");
    int64_t x = std::stoll(p.answer.substr(2));
    EXPECT_EQ(a * x + b, c) << p.question;
    EXPECT_TRUE(answer_correct(p, completion_of(p)));
  }
}

TEST(Tasks, QuestionsArePhrasedTheWaysPeopleType) {
  std::set<std::string> shapes;
  bool spaced = false, unspaced = false;
  for (uint64_t i = 0; i < 400; ++i) {
    std::string q = make_problem(Task::Addition, Split::Train, 2, i).question;
    std::string shape = std::regex_replace(q, std::regex(R"(\d+)"), "N");
    shapes.insert(shape);
    spaced |= shape.find("N + N") != std::string::npos;
    unspaced |= shape.find("N+N") != std::string::npos;
  }
  EXPECT_TRUE(shapes.count("What is N + N?") || shapes.count("What is N+N?"));
  EXPECT_TRUE(shapes.count("Compute N+N.") || shapes.count("Compute N + N."));
  EXPECT_TRUE(shapes.count("N + N = ?") || shapes.count("N+N = ?"));
  EXPECT_TRUE(shapes.count("Please calculate N + N") || shapes.count("Please calculate N+N"));
  EXPECT_TRUE(spaced && unspaced);
  EXPECT_GE(shapes.size(), 12u);
}

TEST(Tasks, CheckersOnHandMadeCompletions) {
  Problem add{Task::Addition, "What is 4821 + 3907?", "", "8728", {4821, 3907}, 0};
  EXPECT_TRUE(answer_correct(add, "<think>\n1+7+0=8\n</think>\n\n8728"));
  EXPECT_TRUE(answer_correct(add, "steps\n</think>\n\nThe answer is 8728."));
  EXPECT_FALSE(answer_correct(add, "<think>\n8728\n</think>\n\n8727"));
  EXPECT_FALSE(answer_correct(add, "<think>\n</think>\n\n8728 or 8729"));
  EXPECT_FALSE(answer_correct(add, "<think>\n</think>\n\n87280"));
  EXPECT_FALSE(answer_correct(add, "<think>\n</think>\n\n"));
  EXPECT_FALSE(answer_correct(add, fmt::format("<think>\n</think>\n\n{}", std::string(40, '9'))));  // no overflow, just wrong

  Problem lin{Task::Linear, "Solve 3x + 7 = -8", "", "x=-5", {3, 7, -8}, 0};
  EXPECT_TRUE(answer_correct(lin, "r\n</think>\n\nx=-5"));
  EXPECT_TRUE(answer_correct(lin, "r\n</think>\n\nx = -5"));
  EXPECT_TRUE(answer_correct(lin, "r\n</think>\n\n-5"));
  EXPECT_FALSE(answer_correct(lin, "r\n</think>\n\nx=5"));
  EXPECT_FALSE(answer_correct(lin, "r\n</think>\n\n3-8"));

  Problem cd{Task::Countdown, "", "", "(25-5)*4+3=83", {25, 5, 4, 3}, 83};
  EXPECT_TRUE(answer_correct(cd, "s\n</think>\n\n(25-5)*4+3"));
  EXPECT_TRUE(answer_correct(cd, "s\n</think>\n\n(25 - 5) * 4 + 3 = 83"));
  EXPECT_TRUE(answer_correct(cd, "s\n</think>\n\n3+4*(25-5)"));
  EXPECT_FALSE(answer_correct(cd, "s\n</think>\n\n(25-5)*4+3=84"));
  EXPECT_FALSE(answer_correct(cd, "s\n</think>\n\n25-5*4+3"));       // precedence: 8
  EXPECT_FALSE(answer_correct(cd, "s\n</think>\n\n25*3+4+4"));       // 4 used twice
  EXPECT_FALSE(answer_correct(cd, "s\n</think>\n\n80+3"));           // 80 is not given
  EXPECT_FALSE(answer_correct(cd, "s\n</think>\n\n(25-5)*4+3)"));    // unbalanced
  EXPECT_FALSE(answer_correct(cd, fmt::format("s\n</think>\n\n{}", std::string(5000, '('))));
  Problem frac{Task::Countdown, "", "", "", {6, 4, 3}, 8};
  EXPECT_TRUE(answer_correct(frac, "</think>\n\n6/3*4"));
  EXPECT_TRUE(answer_correct(frac, "</think>\n\n4/(3/6)"));          // exact fractions
  EXPECT_FALSE(answer_correct(frac, "</think>\n\n6/(4-4)"));

  EXPECT_TRUE(format_ok("<think>\nstep\n</think>\n\n8728"));
  EXPECT_TRUE(format_ok("step\n</think>\n\n8728"));  // the prompt opened the block
  EXPECT_FALSE(format_ok("step\n</think>\n\n"));      // no answer
  EXPECT_FALSE(format_ok("8728"));                    // no think block
  EXPECT_FALSE(format_ok("step</think>\n\n8728"));    // close tag not on its own line
  EXPECT_FALSE(format_ok("step\n</think>8728"));
  EXPECT_FALSE(format_ok("step\n</think>\n\n8728</think>"));
  EXPECT_FALSE(format_ok("<think>\n\n</think>\n\n1"));  // empty reasoning
  EXPECT_FALSE(format_ok("a\n<think>\nb\n</think>\n\n1"));
  EXPECT_FALSE(format_ok(""));
}

}  // namespace
}  // namespace whale::train
