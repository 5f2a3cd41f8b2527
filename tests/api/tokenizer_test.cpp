// etp::Tokenizer against references on the same model files, written by scripts/export_fixtures.py:
// SentencePiece (through Debian's libsentencepiece) against the sentencepiece Python package
// (tests/fixtures/tokenizer_samples.json), the tiktoken format against ExecuTorch's own C++
// Tiktoken (tiktoken_samples.json); and bad model files.
#include <gtest/gtest.h>

#include <fstream>

#include "etp/tokenizer.h"
#include "support/fixtures.h"

namespace etp::test {
namespace {

nlohmann::json read_json(const std::string& name) {
  std::ifstream in(fixture_path(name));
  return nlohmann::json::parse(in);
}

// Opens the document's model and checks its vocabulary, BOS, EOS and every sample: ids, ids with
// BOS, and the decoded text (`decoded`, or the text itself when the sample has none).
void check_samples(const nlohmann::json& doc, Tokenizer* out = nullptr) {
  auto tokenizer = Tokenizer::open(fixture_path(doc["model"]));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().to_string();
  EXPECT_EQ(tokenizer->vocab_size(), doc["vocab_size"].get<int64_t>());
  EXPECT_EQ(tokenizer->bos_id(), doc["bos_id"].get<int64_t>());
  EXPECT_EQ(tokenizer->eos_id(), doc["eos_id"].get<int64_t>());
  ASSERT_GE(doc["samples"].size(), 5u);
  for (const auto& s : doc["samples"]) {
    const std::string text = s["text"];
    auto ids = tokenizer->encode(text);
    ASSERT_TRUE(ids.ok()) << text << ": " << ids.status().to_string();
    EXPECT_EQ(*ids, s["ids"].get<std::vector<int64_t>>()) << "'" << text << "'";
    auto with_bos = tokenizer->encode(text, /*add_bos=*/true);
    ASSERT_TRUE(with_bos.ok());
    EXPECT_EQ(*with_bos, s["ids_with_bos"].get<std::vector<int64_t>>()) << "'" << text << "'";
    auto decoded = tokenizer->decode(*ids);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, s.value("decoded", text)) << "'" << text << "'";
  }
  if (out != nullptr) *out = std::move(*tokenizer);
}

TEST(TokenizerTest, EncodesAndDecodesAsSentencePiecesPythonPackage) {
  check_samples(read_json("tokenizer_samples.json"));
}

TEST(TokenizerTest, BadModelsAndIdsAreNamed) {
  auto missing = Tokenizer::open(fixture_path("no_such.model"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no_such.model"), std::string::npos);
  auto not_a_model = Tokenizer::open(fixture_path("add.pte"));
  ASSERT_FALSE(not_a_model.ok());
  EXPECT_EQ(not_a_model.status().code(), StatusCode::kMalformed) << not_a_model.status().message();
  EXPECT_NE(not_a_model.status().message().find("not a SentencePiece model"), std::string::npos)
      << not_a_model.status().message();
  // Every truncation of a real model is refused or loads; none crashes.
  const std::vector<uint8_t> bytes = read_bytes(fixture_path("tiny_sp.model"));
  const std::string path = ::testing::TempDir() + "/truncated.model";
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, bytes.size() / 2, bytes.size() - 1}) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(n));
    auto t = Tokenizer::open(path);
    if (!t.ok()) {
      EXPECT_EQ(t.status().code(), StatusCode::kMalformed) << n;
    }
  }
  auto tokenizer = Tokenizer::open(fixture_path("tiny_sp.model"));
  ASSERT_TRUE(tokenizer.ok());
  auto bad = tokenizer->decode({5, tokenizer->vocab_size()});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("outside the vocabulary"), std::string::npos);
}

// The tiktoken format (Llama 3's tokenizer.model): Llama 3's pattern, byte-pair merges, special
// tokens recognised in the text, and BOS / EOS after the file's ranks, exactly as ExecuTorch's
// text runner's tokenizer encodes; decoding gives the text back.
TEST(TokenizerTest, TiktokenEncodesAsExecuTorchsTokenizer) {
  auto tokenizer = Tokenizer::open(fixture_path("tiny_tiktoken.model"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().to_string();
  check_samples(read_json("tiktoken_samples.json"), &*tokenizer);
  auto invalid = tokenizer->encode(std::string("ok \xff\xfe", 5));
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.status().message().find("not valid UTF-8"), std::string::npos) << invalid.status().message();
  auto outside = tokenizer->decode({tokenizer->vocab_size()});
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("outside the vocabulary"), std::string::npos);
}

TEST(TokenizerTest, BadTiktokenFilesNameTheLine) {
  const std::string path = ::testing::TempDir() + "/bad.tiktoken";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"YQ== 0\nYg== 2\n", "line 2 has rank 2, expected 1"},
      {"YQ== 0\nYQ== 1\n", "line 2 repeats the token of an earlier rank"},
      {"YQ== 0\nY!== 1\n", "line 2 is not `base64-token rank`"},
      {"YQ== 0\nYg==\n", "line 2 is not `base64-token rank`"},
      {"YQ== 0\nYg== 1x\n", "line 2 is not `base64-token rank`"},
  };
  for (const auto& [content, message] : cases) {
    std::ofstream(path, std::ios::binary) << content;
    auto t = Tokenizer::open(path);
    ASSERT_FALSE(t.ok()) << content;
    EXPECT_EQ(t.status().code(), StatusCode::kMalformed);
    EXPECT_NE(t.status().message().find(message), std::string::npos) << t.status().message();
    EXPECT_NE(t.status().message().find("bad.tiktoken"), std::string::npos);
  }
  // Every truncation of the real file loads (a prefix of ranks is a smaller vocabulary) or is refused.
  const std::vector<uint8_t> bytes = read_bytes(fixture_path("tiny_tiktoken.model"));
  for (size_t n = 1; n < bytes.size(); n += 97) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(n));
    auto t = Tokenizer::open(path);
    if (t.ok()) {
      EXPECT_TRUE(t->encode("cat 12+7=19 héllo").ok()) << n;
    } else {
      EXPECT_EQ(t.status().code(), StatusCode::kMalformed) << n;
    }
  }
}

}  // namespace
}  // namespace etp::test
