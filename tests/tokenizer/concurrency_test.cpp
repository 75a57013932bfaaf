// One Tokenizer shared by several threads (the server encodes requests in parallel): every thread gets the
// same ids as a single-threaded run, while the threads fill the shared word cache at the same time.
#include <gtest/gtest.h>

#include <thread>

#include "core/mapped_file.h"
#include "tiny_tokenizers.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace whale {
namespace {

using namespace whale::testing;

TEST(Concurrency, ThreadsShareOneTokenizer) {
  auto dir = npm_tokenizer_dir("deepseek_v3");
  if (!std::filesystem::exists(dir / "tokenizer.json")) GTEST_SKIP() << "npm test packages not installed";
  std::vector<std::string> docs;
  for (const char* name : {"man-ja.txt", "po-hi.txt", "code-c.txt", "man-ru.txt", "doc-en.txt"}) {
    std::string text = read_text_file((corpus_dir() / name).string());
    for (size_t start = 0; start < text.size(); start += 2000) docs.push_back(text.substr(start, 2000));
  }
  // Cut at byte offsets, a document may begin or end inside a character; keep only the valid ones.
  std::erase_if(docs, [](const std::string& d) { return tok::find_invalid_utf8(d) != std::string_view::npos; });
  ASSERT_GT(docs.size(), 50u);

  std::vector<std::vector<int32_t>> expected;
  {
    Tokenizer serial = Tokenizer::from_hf_files(dir.string());
    for (const std::string& d : docs) expected.push_back(serial.encode(d));
  }
  Tokenizer shared = Tokenizer::from_hf_files(dir.string());
  constexpr int kThreads = 4;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread walks the documents from a different starting point, so they race on the same words.
      for (size_t i = 0; i < docs.size(); ++i) {
        size_t k = (i + static_cast<size_t>(t) * docs.size() / kThreads) % docs.size();
        if (shared.encode(docs[k]) != expected[k]) ++mismatches[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace whale
