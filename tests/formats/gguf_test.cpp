// GGUF reader/writer tests: round trips through the writer, files written byte by byte by hand (v2 and v3,
// custom alignment), and the typed metadata getters.
#include "formats/gguf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "formats/gguf_test_bytes.h"

namespace whale::gguf {
namespace {

using testing::GgufBytes;
using testing::TempDir;
using ::testing::HasSubstr;

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> float_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

TEST(Gguf, WriterOutputMatchesHandWrittenBytes) {
  TempDir dir;
  Writer writer;
  writer.metadata().set_string("general.architecture", "llama");
  writer.metadata().set_uint32("llama.block_count", 2);
  writer.add_tensor("a", DType::F32, {2, 3}, float_bytes({1, 2, 3, 4, 5, 6}));
  writer.add_tensor("b", DType::F32, {1}, float_bytes({7}));
  writer.write(dir.file("w.gguf"));

  GgufBytes expected;
  expected.header(2, 2)
      .kv_str("general.architecture", "llama")
      .kv_u32("llama.block_count", 2)
      .tensor("a", {3, 2}, 0, 0)   // dims innermost first
      .tensor("b", {1}, 0, 32)     // 24 bytes of "a", padded to 32
      .pad(32);
  for (float f : {1, 2, 3, 4, 5, 6}) expected.f32(f);
  expected.pad(32).f32(7).pad(32);
  EXPECT_EQ(read_all(dir.file("w.gguf")), expected.bytes);
}

TEST(Gguf, RoundTripsEveryValueTypeAndTensorType) {
  TempDir dir;
  Writer writer;
  Metadata& md = writer.metadata();
  md.set("u8", Value{uint8_t{200}});
  md.set("i8", Value{int8_t{-100}});
  md.set("u16", Value{uint16_t{60000}});
  md.set("i16", Value{int16_t{-30000}});
  md.set_uint32("u32", 4000000000u);
  md.set_int32("i32", -2000000000);
  md.set_float32("f32", 1.5f);
  md.set_bool("bool", true);
  md.set_string("str", std::string("h\xc3\xa9llo\0x", 8));
  md.set("u64", Value{uint64_t{1} << 40});
  md.set("i64", Value{int64_t{-1} << 40});
  md.set("f64", Value{0.1});
  md.set_string_array("strs", {"a", "", "ccc"});
  md.set_int32_array("ints", {1, -2, 3});
  md.set_float32_array("floats", {0.5f, -0.25f});
  ArrayValue inner1{ValueType::Uint8, {Value{uint8_t{1}}, Value{uint8_t{2}}}};
  ArrayValue inner2{ValueType::Uint8, {}};
  md.set("nested", Value{ArrayValue{ValueType::Array, {Value{inner1}, Value{inner2}}}});
  md.set_uint32("u32", 7);  // replaces in place, keeps position

  std::vector<uint8_t> q8(34 * 2, 0);
  q8[0] = 0x00;
  q8[1] = 0x3c;  // d = 1.0
  q8[2] = 5;
  std::vector<uint8_t> ref_bytes(2 * 2, 0x11);
  writer.add_tensor("f32", DType::F32, {3}, float_bytes({1, 2, 3}));
  writer.add_tensor("q8", DType::Q8_0, {2, 32}, q8);
  writer.add_tensor_ref("bf16", DType::BF16, {2}, ref_bytes.data(), ref_bytes.size());
  writer.add_tensor_generated("gen", DType::F16, {2, 2, 2}, [](uint8_t* dst) {
    for (int i = 0; i < 16; ++i) dst[i] = static_cast<uint8_t>(i);
  });
  writer.add_tensor("q4k", DType::Q4_K, {256}, std::vector<uint8_t>(144, 0xab));
  const std::string path = dir.file("all.gguf");
  writer.write(path);

  File file = File::open(path);
  EXPECT_EQ(file.version(), 3u);
  const Metadata& m = file.metadata();
  ASSERT_EQ(m.entries().size(), 16u);
  EXPECT_EQ(m.entries()[4].first, "u32");
  EXPECT_EQ(m.get_int("u32"), 7);
  EXPECT_EQ(m.find("u32")->type(), ValueType::Uint32);
  EXPECT_EQ(m.get_int("u8"), 200);
  EXPECT_EQ(m.get_int("i8"), -100);
  EXPECT_EQ(m.get_int("u16"), 60000);
  EXPECT_EQ(m.get_int("i16"), -30000);
  EXPECT_EQ(m.get_int("i32"), -2000000000);
  EXPECT_EQ(m.get_float("f32"), 1.5);
  EXPECT_EQ(m.find_bool("bool"), true);
  EXPECT_EQ(m.get_string("str"), std::string("h\xc3\xa9llo\0x", 8));
  EXPECT_EQ(m.get_int("u64"), int64_t{1} << 40);
  EXPECT_EQ(m.get_int("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(m.get_float("f64"), 0.1);
  EXPECT_EQ(m.find("f64")->type(), ValueType::Float64);
  EXPECT_EQ(m.get_string_array("strs"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(m.get_int_array("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(m.get_float_array("floats"), (std::vector<double>{0.5, -0.25}));
  const ArrayValue& nested = m.find("nested")->as_array("nested");
  ASSERT_EQ(nested.element_type, ValueType::Array);
  ASSERT_EQ(nested.items.size(), 2u);
  EXPECT_EQ(nested.items[0].as_array("x").items[1].as_int("x"), 2);
  EXPECT_EQ(nested.items[1].as_array("x").items.size(), 0u);
  EXPECT_EQ(nested.items[1].as_array("x").element_type, ValueType::Uint8);

  ASSERT_EQ(file.tensors().size(), 5u);
  const TensorView& q8v = file.tensor("q8");
  EXPECT_EQ(q8v.shape, (Shape{2, 32}));
  EXPECT_EQ(q8v.dtype, DType::Q8_0);
  EXPECT_EQ(q8v.bytes, 68u);
  EXPECT_EQ(std::vector<uint8_t>(q8v.data, q8v.data + q8v.bytes), q8);
  const TensorView& gen = file.tensor("gen");
  EXPECT_EQ(gen.shape, (Shape{2, 2, 2}));
  EXPECT_EQ(gen.data[15], 15);
  EXPECT_EQ(file.tensor("bf16").data[3], 0x11);
  EXPECT_EQ(file.tensor("q4k").data[143], 0xab);
  float f[3];
  std::memcpy(f, file.tensor("f32").data, 12);
  EXPECT_EQ(f[2], 3.0f);
  for (const TensorView& t : file.tensors()) {
    EXPECT_EQ((t.data - file.tensors()[0].data) % 32, 0) << t.name;
  }
  EXPECT_EQ(file.find_tensor("nope"), nullptr);
  EXPECT_THAT([&] { file.tensor("nope"); }, ::testing::ThrowsMessage<Error>(HasSubstr("tensor nope: missing")));
}

TEST(Gguf, ReadsHandWrittenV2FileWithCustomAlignment) {
  TempDir dir;
  GgufBytes b;
  b.header(2, 2, 2).kv_u32("general.alignment", 64).kv_str("general.architecture", "qwen2");
  b.tensor("w", {4, 2}, 0, 0);  // 2 rows of 4 floats
  b.tensor("v", {2}, 0, 64);
  b.pad(64);
  const size_t data_start = b.bytes.size();
  for (int i = 0; i < 8; ++i) b.f32(static_cast<float>(i));
  b.pad(64).f32(10).f32(11);
  File file = File::open(dir.write("v2.gguf", b.bytes));
  EXPECT_EQ(file.version(), 2u);
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.data_offset(), data_start);
  const TensorView& w = file.tensor("w");
  EXPECT_EQ(w.shape, (Shape{2, 4}));
  EXPECT_EQ(w.rows(), 2);
  EXPECT_EQ(w.row_length(), 4);
  float x;
  std::memcpy(&x, w.data + 4 * 5, 4);  // row 1, column 1
  EXPECT_EQ(x, 5.0f);
  std::memcpy(&x, file.tensor("v").data + 4, 4);
  EXPECT_EQ(x, 11.0f);
}

TEST(Gguf, WriterHonoursAlignmentKey) {
  TempDir dir;
  Writer writer;
  writer.metadata().set_uint32("general.alignment", 128);
  writer.add_tensor("a", DType::F32, {1}, float_bytes({1}));
  writer.add_tensor("b", DType::F32, {1}, float_bytes({2}));
  writer.write(dir.file("a.gguf"));
  File file = File::open(dir.file("a.gguf"));
  EXPECT_EQ(file.data_offset() % 128, 0u);
  EXPECT_EQ(file.tensor("b").data - file.tensor("a").data, 128);
}

TEST(Gguf, WriteIsAtomic) {
  TempDir dir;
  const std::string path = dir.file("m.gguf");
  {
    Writer writer;
    writer.metadata().set_string("general.name", "first");
    writer.write(path);
  }
  Writer failing;
  failing.metadata().set_string("general.name", "second");
  failing.add_tensor_generated("t", DType::F32, {4}, [](uint8_t*) { fail("producer failed"); });
  EXPECT_THROW(failing.write(path), Error);
  // The old file is intact and no temporary file is left behind.
  EXPECT_EQ(File::open(path).metadata().get_string("general.name"), "first");
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
  EXPECT_THROW(failing.write(dir.file("no/such/dir/x.gguf")), Error);
}

TEST(Gguf, WriterRejectsBadTensors) {
  Writer writer;
  EXPECT_THAT([&] { writer.add_tensor("t", DType::F32, {3}, std::vector<uint8_t>(8)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("tensor t: expected 12 bytes of data, got 8")));
  EXPECT_THAT([&] { writer.add_tensor("q", DType::Q8_0, {31}, std::vector<uint8_t>(34)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("not a multiple")));
  EXPECT_THAT([&] { writer.add_tensor("f8", DType::F8_E4M3, {2}, std::vector<uint8_t>(2)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("no GGUF id")));
  writer.add_tensor("t", DType::F32, {3}, std::vector<uint8_t>(12));
  EXPECT_THAT([&] { writer.add_tensor("t", DType::F32, {3}, std::vector<uint8_t>(12)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("added twice")));
  EXPECT_EQ(writer.tensor_count(), 1u);
}

TEST(Metadata, TypedGettersNameKeyAndExpectation) {
  Metadata md("model.gguf");
  md.set_string("general.name", "x");
  md.set_float32("eps", 1e-5f);
  md.set("big", Value{uint64_t{1} << 63});
  EXPECT_THAT([&] { md.get_int("general.name"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("model.gguf: key general.name: expected an integer, got string")));
  EXPECT_THAT([&] { md.get_string("missing.key"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("model.gguf: key missing.key: missing")));
  EXPECT_THAT([&] { md.get_int("eps"); }, ::testing::ThrowsMessage<Error>(HasSubstr("expected an integer")));
  EXPECT_THAT([&] { md.get_int("big"); }, ::testing::ThrowsMessage<Error>(HasSubstr("below 2^63")));
  EXPECT_THAT([&] { md.get_string_array("eps"); }, ::testing::ThrowsMessage<Error>(HasSubstr("expected an array")));
  EXPECT_FALSE(md.find_int("nope").has_value());
  EXPECT_NEAR(*md.find_float("eps"), 1e-5, 1e-12);
  EXPECT_THROW(md.find_bool("eps"), Error);
}

}  // namespace
}  // namespace whale::gguf
