// safetensors reader tests: well-formed files and shards, then one broken header field per case.
#include "formats/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/hf_test_folder.h"

namespace whale::safetensors {
namespace {

using testing::StTensor;
using testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

TEST(Safetensors, ReadsTensorsAndMetadata) {
  TempDir dir;
  const auto bytes = testing::safetensors_bytes(
      {{"a", "F32", {2, 2}, testing::f32_bytes({1, 2, 3, 4})},
       {"b", "BF16", {3}, testing::bf16_bytes({1, -2, 0.5})},
       {"c", "F8_E4M3", {2}, {0x38, 0x40}},
       {"d", "F16", {1}, {0x00, 0x3c}}},
      {{"__metadata__", {{"format", "pt"}}}});
  File file = File::open(dir.write("model.safetensors", bytes));
  ASSERT_EQ(file.tensors().size(), 4u);
  const TensorView* a = file.find_tensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (Shape{2, 2}));
  EXPECT_EQ(a->dtype, DType::F32);
  float x;
  std::memcpy(&x, a->data + 12, 4);
  EXPECT_EQ(x, 4.0f);
  EXPECT_EQ(file.find_tensor("b")->dtype, DType::BF16);
  EXPECT_EQ(file.find_tensor("b")->data[1], 0x3f);  // 1.0 = 0x3f80, little-endian
  EXPECT_EQ(file.find_tensor("c")->dtype, DType::F8_E4M3);
  EXPECT_EQ(file.find_tensor("c")->data[1], 0x40);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.find_tensor("zz"), nullptr);
}

TEST(Safetensors, ScalarAndEmptyTensors) {
  TempDir dir;
  File file = File::open(dir.write(
      "m.safetensors", testing::safetensors_bytes({{"s", "F32", {}, testing::f32_bytes({7})}, {"e", "F32", {0, 4}, {}}})));
  EXPECT_EQ(file.find_tensor("s")->shape, Shape{});
  EXPECT_EQ(file.find_tensor("s")->bytes, 4u);
  EXPECT_EQ(file.find_tensor("e")->bytes, 0u);
}

TEST(Safetensors, ShardedCheckpointFollowsIndex) {
  TempDir dir;
  dir.write("model-00001-of-00002.safetensors",
            testing::safetensors_bytes({{"x", "F32", {1}, testing::f32_bytes({1})}}));
  dir.write("model-00002-of-00002.safetensors",
            testing::safetensors_bytes({{"y", "F32", {1}, testing::f32_bytes({2})}}));
  json index = {{"metadata", {{"total_size", 8}}},
                {"weight_map", {{"x", "model-00001-of-00002.safetensors"}, {"y", "model-00002-of-00002.safetensors"}}}};
  dir.write("model.safetensors.index.json", index.dump());
  Checkpoint ck = Checkpoint::open(dir.path());
  ASSERT_EQ(ck.tensors().size(), 2u);
  EXPECT_THAT(ck.file_of("y"), HasSubstr("model-00002-of-00002.safetensors"));
  float v;
  std::memcpy(&v, ck.find_tensor("y")->data, 4);
  EXPECT_EQ(v, 2.0f);
}

TEST(Safetensors, IndexErrors) {
  TempDir dir;
  dir.write("a.safetensors", testing::safetensors_bytes({{"x", "F32", {1}, testing::f32_bytes({1})}}));
  dir.write("model.safetensors.index.json", json({{"weight_map", {{"x", "b.safetensors"}}}}).dump());
  EXPECT_THAT([&] { Checkpoint::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("b.safetensors"), HasSubstr("missing"))));
  dir.write("model.safetensors.index.json", json({{"weight_map", {{"z", "a.safetensors"}}}}).dump());
  EXPECT_THAT([&] { Checkpoint::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("tensor z"), HasSubstr("does not hold it"))));
  dir.write("model.safetensors.index.json", json({{"weight_map", {{"x", "../a.safetensors"}}}}).dump());
  EXPECT_THAT([&] { Checkpoint::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("expected a file name in the same folder")));
  dir.write("model.safetensors.index.json", "{not json");
  EXPECT_THAT([&] { Checkpoint::open(dir.path()); }, ::testing::ThrowsMessage<Error>(HasSubstr("not valid JSON")));
}

TEST(Safetensors, DuplicateTensorAcrossFiles) {
  TempDir dir;
  dir.write("a.safetensors", testing::safetensors_bytes({{"x", "F32", {1}, testing::f32_bytes({1})}}));
  dir.write("b.safetensors", testing::safetensors_bytes({{"x", "F32", {1}, testing::f32_bytes({1})}}));
  EXPECT_THAT([&] { Checkpoint::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("tensor x is in both"), HasSubstr("a.safetensors"))));
}

TEST(Safetensors, EmptyFolder) {
  TempDir dir;
  EXPECT_THAT([&] { Checkpoint::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("expected model.safetensors")));
}

class SafetensorsHostile : public ::testing::Test {
 protected:
  std::string error_for(const std::vector<uint8_t>& bytes) {
    const std::string path = dir_.write("bad.safetensors", bytes);
    try {
      File::open(path);
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path));
      return e.what();
    }
    ADD_FAILURE() << "opened without error";
    return {};
  }
  // A file whose header is `header` verbatim, followed by `data_bytes` zero bytes.
  std::vector<uint8_t> raw_header(const std::string& header, size_t data_bytes = 16) {
    testing::GgufBytes b;
    b.u64(header.size()).raw(header.data(), header.size()).zeros(data_bytes);
    return b.bytes;
  }
  TempDir dir_;
};

TEST_F(SafetensorsHostile, TooShort) { EXPECT_THAT(error_for({1, 2, 3}), HasSubstr("truncated")); }

TEST_F(SafetensorsHostile, HeaderLengthBeyondFile) {
  testing::GgufBytes b;
  b.u64(uint64_t{1} << 40).raw("{}", 2);
  EXPECT_THAT(error_for(b.bytes), HasSubstr("header length 1099511627776"));
}

TEST_F(SafetensorsHostile, HeaderNotJson) { EXPECT_THAT(error_for(raw_header("{\"a\": ")), HasSubstr("not valid JSON")); }

TEST_F(SafetensorsHostile, HeaderNotObject) { EXPECT_THAT(error_for(raw_header("[1,2]")), HasSubstr("expected a JSON object")); }

TEST_F(SafetensorsHostile, UnsupportedDtype) {
  EXPECT_THAT(error_for(raw_header(R"({"w":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})")),
              AllOf(HasSubstr("tensor w"), HasSubstr("unsupported dtype I64")));
}

TEST_F(SafetensorsHostile, NegativeShape) {
  EXPECT_THAT(error_for(raw_header(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})")),
              AllOf(HasSubstr("tensor w"), HasSubstr("non-negative")));
}

TEST_F(SafetensorsHostile, OverflowingShape) {
  EXPECT_THAT(
      error_for(raw_header(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})")),
      AllOf(HasSubstr("tensor w"), HasSubstr("too many elements")));
}

TEST_F(SafetensorsHostile, OffsetsOutOfBounds) {
  EXPECT_THAT(error_for(raw_header(R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})")),
              AllOf(HasSubstr("tensor w"), HasSubstr("outside the data section of 16 bytes")));
  EXPECT_THAT(error_for(raw_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})")),
              HasSubstr("outside the data section"));
}

TEST_F(SafetensorsHostile, SizeDoesNotMatchShape) {
  EXPECT_THAT(error_for(raw_header(R"({"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}})")),
              AllOf(HasSubstr("tensor w"), HasSubstr("hold 8 bytes"), HasSubstr("BF16 [3] needs 6")));
}

TEST_F(SafetensorsHostile, MissingFields) {
  EXPECT_THAT(error_for(raw_header(R"({"w":{"shape":[1],"data_offsets":[0,4]}})")), HasSubstr("missing dtype"));
  EXPECT_THAT(error_for(raw_header(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})")), HasSubstr("shape"));
  EXPECT_THAT(error_for(raw_header(R"({"w":{"dtype":"F32","shape":[1]}})")), HasSubstr("data_offsets"));
  EXPECT_THAT(error_for(raw_header(R"({"w":5})")), HasSubstr("expected an object"));
}

TEST_F(SafetensorsHostile, OverlappingTensors) {
  EXPECT_THAT(error_for(raw_header(
                  R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})")),
              HasSubstr("overlaps"));
}

TEST_F(SafetensorsHostile, BadMetadata) {
  EXPECT_THAT(error_for(raw_header(R"({"__metadata__":{"x":1}})")), HasSubstr("__metadata__.x"));
}

}  // namespace
}  // namespace whale::safetensors
