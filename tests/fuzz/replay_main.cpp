// The main of the fuzz targets in the ordinary build (fuzz_replay_<name>): runs LLVMFuzzerTestOneInput once
// over every file of the folders (or the single files) named on the command line, in name order, the way
// libFuzzer runs a corpus. A crash, a sanitizer report or an abort in the target fails the process; a missing
// or unreadable path fails too, so a misnamed corpus folder cannot pass as an empty one.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// A buffer of exactly the file's size, so that AddressSanitizer (WHALE_SANITIZE) catches a read past the end
// of an input as it does under libFuzzer.
bool read_file(const fs::path& path, std::vector<uint8_t>& out) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in) return false;
  out.resize(static_cast<size_t>(size));
  return static_cast<bool>(in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(size)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FOLDER_OR_FILE...\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path path(argv[i]);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      inputs.insert(inputs.end(), files.begin(), files.end());
    } else if (fs::is_regular_file(path, ec)) {
      inputs.push_back(path);
    } else {
      std::fprintf(stderr, "%s: no such file or folder\n", argv[i]);
      return 1;
    }
  }

  const auto start = std::chrono::steady_clock::now();
  for (const fs::path& path : inputs) {
    std::vector<uint8_t> bytes;
    if (!read_file(path, bytes)) {
      std::fprintf(stderr, "%s: cannot read\n", path.c_str());
      return 1;
    }
    // Named before it runs, so that the input at fault is the last line printed when the target crashes.
    std::fprintf(stderr, "running %s (%zu bytes)\n", path.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "%zu inputs replayed in %.2f s\n", inputs.size(), seconds);
  return 0;
}
