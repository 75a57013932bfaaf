// Built-in synthetic tasks whose answers a program checks: multi-digit addition and subtraction,
// multiplication, countdown (reach a target from given numbers with + - * /) and linear equations.
// Each problem has a question phrased the way people type it, a short step-by-step reasoning trace a small
// model can learn (every step local: one digit and one carry at a time), and the final answer.
// Problems are a pure function of (task, split, seed, index); the train and held-out splits are disjoint by
// construction: a hash of the operands (not of the seed or index) decides which split an operand tuple
// belongs to, so no operand tuple ever appears in both.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace whale::train {

enum class Task { Addition, Subtraction, Multiplication, Countdown, Linear };

// "addition" "subtraction" "multiplication" "countdown" "linear".
std::optional<Task> parse_task(std::string_view name);
const char* task_name(Task task);
std::vector<Task> all_tasks();
// A comma-separated list of task names, or "all". Throws whale::Error naming the unknown task and the known ones.
std::vector<Task> parse_task_list(std::string_view list);

enum class Split { Train, HeldOut };

struct Problem {
  Task task = Task::Addition;
  std::string question;   // the user's message
  std::string reasoning;  // the trace inside <think>...</think> (no surrounding newlines)
  std::string answer;     // the final answer text (the integer, e.g. "8728")
  // Countdown has many right answers: the numbers and target let the checker evaluate the model's
  // expression. Empty for the other tasks.
  std::vector<int64_t> numbers;
  int64_t target = 0;
};

// Deterministic for (task, split, seed, index).
Problem make_problem(Task task, Split split, uint64_t seed, uint64_t index);

// The split an operand tuple belongs to (what make_problem guarantees for its operands).
Split split_of(Task task, const std::vector<int64_t>& operands);
// The operands of a generated problem (for split checks in tests): a, b for arithmetic, the numbers then the
// target for countdown, a, b, c for a*x + b = c.
std::vector<int64_t> problem_operands(const Problem& problem);

// The final answer of a completion: the text after the last "</think>" (the whole text when there is none),
// trimmed.
std::string_view final_answer(std::string_view completion);
// Reward pieces. answer_correct: the final answer states exactly the right result (for countdown: an
// expression over the given numbers, each used at most once, that evaluates to the target, or "=target"
// after it). format_ok: the completion is "[<think>\n]reasoning\n</think>\n\nanswer" shaped: one non-empty
// think block closed once, then a non-empty answer without think tags.
bool answer_correct(const Problem& problem, std::string_view completion);
bool format_ok(std::string_view completion);

}  // namespace whale::train
