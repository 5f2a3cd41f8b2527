// Text to token ids and back with a SentencePiece model (`.model`, what Llama 2 style exports
// ship; through Debian's libsentencepiece) or a tiktoken BPE file (what Llama 3 ships as
// tokenizer.model: `base64 rank` lines; Llama 3's pattern and 256 special tokens after the ranks,
// <|begin_of_text|> BOS and <|end_of_text|> EOS, as ExecuTorch's runner reads it). The format is
// told from the file's content. A model entry of a manifest names its tokenizer (`tokenizer:
// FILE`); `etp generate --prompt TEXT` uses it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "etp/status.h"

namespace etp {

class Tokenizer {
 public:
  // Reads a SentencePiece model or a tiktoken file. kNotFound for a missing file, kMalformed for
  // one that is neither (the message names the file, and the line of a bad tiktoken file).
  static Result<Tokenizer> open(const std::string& path);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // The ids of `text` (with the BOS id first when add_bos and the model has one).
  Result<std::vector<int64_t>> encode(const std::string& text, bool add_bos = false) const;
  // The text of `ids`; kInvalidArgument names an id outside the vocabulary.
  Result<std::string> decode(const std::vector<int64_t>& ids) const;
  int64_t vocab_size() const;
  int64_t bos_id() const;  // -1 when the model has none
  int64_t eos_id() const;  // -1 when the model has none
  const std::string& path() const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace etp
