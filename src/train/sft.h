// The supervised training loop (the R1 recipe's cold start, and the distillation student's training): batches
// of chat examples with the loss on the completion tokens, AdamW with warmup + cosine decay, gradient
// clipping, expert-bias balancing, the MTP loss, periodic logs, curves and checkpoints with resume.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "train/chat_format.h"
#include "train/network.h"

namespace whale::train {

struct SftOptions {
  int64_t steps = 1000;
  int64_t warmup = 50;
  float lr = 3e-3f;      // peak learning rate
  float min_lr = 3e-4f;  // floor of the cosine decay
  float weight_decay = 0.1f;
  float clip = 1.0f;             // global gradient-norm limit
  float mtp_weight = 0.3f;       // weight of the MTP loss (deepseek2 with MTP)
  float bias_rate = 1e-3f;       // expert score-bias update speed (aux-loss-free balancing)
  int64_t log_every = 10;        // steps between log lines and curve rows
  int64_t checkpoint_every = 0;  // 0: only at the end
  std::string checkpoint;        // checkpoint path ("" = none)
  bool resume = false;           // continue from `checkpoint`
  int64_t stop_after = 0;        // > 0: stop (with a checkpoint) after this many steps of this run
  std::string curves;            // curves prefix ("" = none): PREFIX.csv and PREFIX-<column>.svg
  // Identifies the data stream (seed, tasks, batch size): a checkpoint written with another one is refused.
  std::string data_fingerprint;
};

struct SftResult {
  int64_t steps_run = 0;   // steps of this call (after a resume: the remaining ones)
  int64_t tokens = 0;      // tokens processed by this call
  double seconds = 0.0;    // wall time of the steps (forward, backward, update)
  float last_loss = 0.0f;  // mean completion cross-entropy of the last step
};

// The batch of a step; must be a pure function of the step so that a resumed run sees the same data.
using BatchSource = std::function<std::vector<Example>(int64_t step)>;

// Trains `network` for options.steps steps (from the checkpoint's step when resuming). Examples longer than
// the model's context are cut. Logs "step S/N loss L ..." lines through `log`.
SftResult run_sft(Network& network, const BatchSource& batches, const SftOptions& options,
                  const std::function<void(const std::string&)>& log);

}  // namespace whale::train
