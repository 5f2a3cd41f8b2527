// The tiktoken BPE format (what Llama 3 ships as tokenizer.model and ExecuTorch's text runner reads):
// one `base64(token bytes) rank` line per token, ranks 0..n-1, then Llama 3's 256 special tokens
// at ids n..n+255 (<|begin_of_text|> is BOS, <|end_of_text|> EOS), and its pre-tokenizer pattern.
// Internal to etp::Tokenizer (include/etp/tokenizer.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "etp/status.h"

namespace etp::api {

class Tiktoken {
 public:
  // True when `bytes` starts like a tiktoken file (a base64 token, a space, a rank).
  static bool looks_like(const std::string& bytes);
  // Parses the file's bytes; errors name `path` and the line.
  static Result<Tiktoken> parse(const std::string& path, const std::string& bytes);

  // Special tokens in the text are recognised (as ExecuTorch's runner does); the rest is split by
  // the pattern and each piece merged byte pair by byte pair, lowest rank first.
  Result<std::vector<int64_t>> encode(const std::string& text) const;
  // The bytes of the tokens in order (special tokens as their text).
  Result<std::string> decode(const std::vector<int64_t>& ids) const;
  int64_t vocab_size() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t bos_id() const { return bos_; }
  int64_t eos_id() const { return eos_; }

 private:
  struct Pattern;
  std::string path_;
  std::vector<std::string> tokens_;  // by id: the file's ranks, then the special tokens
  std::unordered_map<std::string, int64_t> ranks_;
  int64_t num_base_ = 0, bos_ = -1, eos_ = -1;
  std::shared_ptr<const Pattern> pattern_;

  void merge(const std::string& piece, std::vector<int64_t>* out) const;
};

}  // namespace etp::api
