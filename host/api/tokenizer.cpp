// etp::Tokenizer over SentencePiece or the tiktoken format (include/etp/tokenizer.h). The model
// file is read here, with a size limit, and parsed from memory, so a bad file is an error naming it.
#include "etp/tokenizer.h"

#include <sentencepiece_processor.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "api/tiktoken.h"
#include "core/error.h"

namespace etp {

struct Tokenizer::Impl {
  std::string path;
  sentencepiece::SentencePieceProcessor processor;
  std::optional<api::Tiktoken> tiktoken;  // set for a tiktoken file; else the processor serves
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::open(const std::string& path) {
  constexpr std::streamoff kMaxBytes = 256 << 20;  // far above any real vocabulary's model
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Status(StatusCode::kNotFound, path + ": cannot open the tokenizer model");
  const std::streamoff size = in.tellg();
  if (size <= 0 || size > kMaxBytes) {
    return Status(StatusCode::kMalformed, path + ": a tokenizer model of " + std::to_string(size) +
                                              " bytes (expected a SentencePiece or tiktoken model of 1 byte to "
                                              "256 MiB)");
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), size)) return Status(StatusCode::kMalformed, path + ": cannot read the tokenizer model");
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  if (api::Tiktoken::looks_like(bytes)) {
    ETP_TRY(api::Tiktoken tiktoken, api::Tiktoken::parse(path, bytes));
    impl->tiktoken.emplace(std::move(tiktoken));
    return Tokenizer(std::move(impl));
  }
  const sentencepiece::util::Status status = impl->processor.LoadFromSerializedProto(bytes);
  if (!status.ok()) {
    return Status(StatusCode::kMalformed, path + ": not a SentencePiece model (" + status.ToString() + ")");
  }
  if (impl->processor.GetPieceSize() <= 0) {
    return Status(StatusCode::kMalformed, path + ": a SentencePiece model without pieces");
  }
  return Tokenizer(std::move(impl));
}

Result<std::vector<int64_t>> Tokenizer::encode(const std::string& text, bool add_bos) const {
  if (impl_->tiktoken) {
    ETP_TRY(std::vector<int64_t> ids, impl_->tiktoken->encode(text));
    if (add_bos) ids.insert(ids.begin(), bos_id());
    return ids;
  }
  std::vector<int> ids;
  const sentencepiece::util::Status status = impl_->processor.Encode(text, &ids);
  if (!status.ok())
    return Status(StatusCode::kInvalidArgument, impl_->path + ": cannot encode (" + status.ToString() + ")");
  std::vector<int64_t> out;
  out.reserve(ids.size() + 1);
  if (add_bos && bos_id() >= 0) out.push_back(bos_id());
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

Result<std::string> Tokenizer::decode(const std::vector<int64_t>& ids) const {
  if (impl_->tiktoken) return impl_->tiktoken->decode(ids);
  std::vector<int> narrow;
  narrow.reserve(ids.size());
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      return Status(StatusCode::kInvalidArgument, impl_->path + ": token " + std::to_string(id) +
                                                      " is outside the vocabulary of " + std::to_string(vocab_size()));
    }
    narrow.push_back(static_cast<int>(id));
  }
  std::string text;
  const sentencepiece::util::Status status = impl_->processor.Decode(narrow, &text);
  if (!status.ok())
    return Status(StatusCode::kInvalidArgument, impl_->path + ": cannot decode (" + status.ToString() + ")");
  return text;
}

int64_t Tokenizer::vocab_size() const {
  return impl_->tiktoken ? impl_->tiktoken->vocab_size() : impl_->processor.GetPieceSize();
}
int64_t Tokenizer::bos_id() const { return impl_->tiktoken ? impl_->tiktoken->bos_id() : impl_->processor.bos_id(); }
int64_t Tokenizer::eos_id() const { return impl_->tiktoken ? impl_->tiktoken->eos_id() : impl_->processor.eos_id(); }
const std::string& Tokenizer::path() const { return impl_->path; }

}  // namespace etp
