// MappedFile in both residencies: the same bytes as the file, and clear errors for what cannot be read.
#include "core/mapped_file.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace whale {
namespace {

std::string write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

TEST(MappedFile, BothResidenciesHoldTheFilesBytes) {
  // Larger than one 2 MiB huge page and not a multiple of it, so the copy's tail is a partial page.
  std::vector<uint8_t> bytes(5 * 1024 * 1024 + 12345);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  const std::string path = write_file("whale-mapped-file-test.bin", bytes);
  for (auto residency : {MappedFile::Residency::Map, MappedFile::Residency::HugePageCopy}) {
    const MappedFile file(path, residency);
    ASSERT_EQ(file.size(), bytes.size());
    EXPECT_EQ(std::vector<uint8_t>(file.data(), file.data() + file.size()), bytes);
    MappedFile moved = MappedFile(path, residency);
    const MappedFile taken(std::move(moved));
    EXPECT_EQ(taken.bytes()[bytes.size() - 1], bytes.back());
  }
  std::filesystem::remove(path);
}

TEST(MappedFile, EmptyFilesAndMissingFiles) {
  const std::string path = write_file("whale-mapped-file-empty.bin", {});
  for (auto residency : {MappedFile::Residency::Map, MappedFile::Residency::HugePageCopy}) {
    const MappedFile file(path, residency);
    EXPECT_EQ(file.size(), 0u);
    try {
      MappedFile missing("/nonexistent/whale/model.gguf", residency);
      FAIL() << "a missing file opened";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("/nonexistent/whale/model.gguf"), std::string::npos) << e.what();
    }
    EXPECT_THROW(MappedFile(std::filesystem::temp_directory_path().string(), residency), Error);  // a folder
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace whale
