// The tiktoken BPE tokenizer (host/api/tiktoken.h). The pattern runs on PCRE2 (Debian's
// libpcre2-dev): it needs Unicode properties (\p{L}, \p{N}), which std::regex lacks.
#include "api/tiktoken.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"

#include <algorithm>
#include <limits>

namespace etp::api {
namespace {

// The pre-tokenizer pattern ExecuTorch's runner uses for tiktoken files: Llama 3's without its
// `\s+(?!\S)` alternative (ExecuTorch's C++ tokenizer drops it, as RE2 has no lookahead). We follow
// ExecuTorch, so a prompt encodes to the ids its runner feeds the model; Python's tiktoken differs
// only on a run of spaces before a word ("  two": ExecuTorch "  " + "two", tiktoken " " + " two").
constexpr const char* kPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+)";

// Llama 3's special tokens, in id order after the file's ranks (256 in all).
std::vector<std::string> special_tokens() {
  std::vector<std::string> t = {"<|begin_of_text|>",
                                "<|end_of_text|>",
                                "<|reserved_special_token_0|>",
                                "<|reserved_special_token_1|>",
                                "<|finetune_right_pad_id|>",
                                "<|step_id|>",
                                "<|start_header_id|>",
                                "<|end_header_id|>",
                                "<|eom_id|>",
                                "<|eot_id|>",
                                "<|python_tag|>"};
  for (int i = 2; t.size() < 256; ++i) t.push_back("<|reserved_special_token_" + std::to_string(i) + "|>");
  return t;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with '=' padding; false on anything else.
bool base64_decode(const std::string& in, std::string* out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  out->clear();
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        v[j] = 0;
        ++pad;
      } else if (pad > 0 || (v[j] = base64_value(c)) < 0) {
        return false;
      }
    }
    const uint32_t n = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out->push_back(static_cast<char>(n >> 16));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

}  // namespace

struct Tiktoken::Pattern {
  pcre2_code* code = nullptr;
  ~Pattern() { pcre2_code_free(code); }
};

bool Tiktoken::looks_like(const std::string& bytes) {
  const size_t space = bytes.find(' ');
  if (space == 0 || space == std::string::npos || space > 1024) return false;
  for (size_t i = 0; i < space; ++i) {
    if (base64_value(bytes[i]) < 0 && bytes[i] != '=') return false;
  }
  return space + 1 < bytes.size() && bytes[space + 1] >= '0' && bytes[space + 1] <= '9';
}

Result<Tiktoken> Tiktoken::parse(const std::string& path, const std::string& bytes) {
  Tiktoken t;
  t.path_ = path;
  size_t line_no = 0;
  for (size_t pos = 0; pos < bytes.size();) {
    size_t end = bytes.find('\n', pos);
    if (end == std::string::npos) end = bytes.size();
    std::string line = bytes.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    std::string token;
    int64_t rank = -1;
    if (space != std::string::npos && base64_decode(line.substr(0, space), &token) && space + 1 < line.size() &&
        line.size() - space - 1 <= 12) {
      rank = 0;
      for (size_t i = space + 1; i < line.size() && rank >= 0; ++i) {
        rank = line[i] >= '0' && line[i] <= '9' ? rank * 10 + (line[i] - '0') : -1;
      }
    }
    if (rank < 0) {
      return Status(StatusCode::kMalformed,
                    path + ": line " + std::to_string(line_no) + " is not `base64-token rank` (a tiktoken BPE file)");
    }
    if (rank != static_cast<int64_t>(t.tokens_.size())) {
      return Status(StatusCode::kMalformed, path + ": line " + std::to_string(line_no) + " has rank " +
                                                std::to_string(rank) + ", expected " +
                                                std::to_string(t.tokens_.size()) + " (ranks 0, 1, 2, ... in order)");
    }
    if (!t.ranks_.emplace(token, rank).second) {
      return Status(StatusCode::kMalformed,
                    path + ": line " + std::to_string(line_no) + " repeats the token of an earlier rank");
    }
    t.tokens_.push_back(std::move(token));
  }
  // Not empty here: looks_like() let through only a file whose first line is a token, and a
  // first line that does not parse was refused above.
  t.num_base_ = static_cast<int64_t>(t.tokens_.size());
  for (std::string& s : special_tokens()) t.tokens_.push_back(std::move(s));
  t.bos_ = t.num_base_;
  t.eos_ = t.num_base_ + 1;
  int error = 0;
  PCRE2_SIZE offset = 0;
  auto pattern = std::make_shared<Pattern>();
  pattern->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPattern), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                                &error, &offset, nullptr);
  if (pattern->code == nullptr)
    return Status(StatusCode::kInternal, "tiktoken: the pre-tokenizer pattern does not compile");
  t.pattern_ = std::move(pattern);
  return t;
}

// tiktoken's byte-pair merge: repeatedly join the adjacent pair whose bytes have the lowest rank
// (the leftmost on a tie) until no pair is a token.
void Tiktoken::merge(const std::string& piece, std::vector<int64_t>* out) const {
  if (auto whole = ranks_.find(piece); whole != ranks_.end()) {
    out->push_back(whole->second);
    return;
  }
  constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  std::vector<size_t> starts(piece.size() + 1);
  for (size_t i = 0; i <= piece.size(); ++i) starts[i] = i;
  auto pair_rank = [&](size_t i) -> int64_t {  // rank of parts i and i+1 joined
    if (i + 2 >= starts.size()) return kNone;
    auto it = ranks_.find(piece.substr(starts[i], starts[i + 2] - starts[i]));
    return it == ranks_.end() ? kNone : it->second;
  };
  std::vector<int64_t> pair(starts.size(), kNone);
  for (size_t i = 0; i + 2 < starts.size(); ++i) pair[i] = pair_rank(i);
  while (starts.size() > 2) {
    size_t best = 0;
    for (size_t i = 1; i + 2 < starts.size(); ++i) {
      if (pair[i] < pair[best]) best = i;
    }
    if (pair[best] == kNone) break;
    starts.erase(starts.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    pair.erase(pair.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    pair[best] = pair_rank(best);
    if (best > 0) pair[best - 1] = pair_rank(best - 1);
  }
  for (size_t i = 0; i + 1 < starts.size(); ++i) {
    // Every single byte is a rank in a well-formed file; a file without some byte cannot encode it.
    auto it = ranks_.find(piece.substr(starts[i], starts[i + 1] - starts[i]));
    if (it != ranks_.end()) out->push_back(it->second);
  }
}

Result<std::vector<int64_t>> Tiktoken::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  pcre2_match_data* match = pcre2_match_data_create_from_pattern(pattern_->code, nullptr);
  if (match == nullptr) return Status(StatusCode::kOutOfMemory, "tiktoken: no memory for a match");
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> guard(match, pcre2_match_data_free);
  // Ordinary text [begin, end): the pattern's pieces, each merged.
  auto ordinary = [&](size_t begin, size_t end) -> Status {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    uint32_t options = 0;
    for (size_t at = begin; at < end;) {
      const int rc = pcre2_match(pattern_->code, subject, end, at, options, match, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        return Status(StatusCode::kInvalidArgument, path_ + ": cannot encode the text (" +
                                                        (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21
                                                             ? std::string("it is not valid UTF-8")
                                                             : "pattern error " + std::to_string(rc)) +
                                                        ")");
      }
      const PCRE2_SIZE* span = pcre2_get_ovector_pointer(match);
      if (span[1] == span[0]) {  // an empty match cannot happen with this pattern; never loop on one
        ++at;
        continue;
      }
      merge(text.substr(span[0], span[1] - span[0]), &ids);
      at = span[1];
      options = PCRE2_NO_UTF_CHECK;  // checked once, on the first call
    }
    return Status::success();
  };
  size_t at = 0;
  while (at <= text.size()) {
    // The earliest special token from `at` (the longest at one position).
    size_t found = std::string::npos, length = 0;
    int64_t id = -1;
    for (size_t p = text.find("<|", at); p != std::string::npos && found == std::string::npos;
         p = text.find("<|", p + 1)) {
      for (int64_t s = num_base_; s < vocab_size(); ++s) {
        const std::string& special = tokens_[static_cast<size_t>(s)];
        if (text.compare(p, special.size(), special) == 0 && special.size() > length) {
          found = p, length = special.size(), id = s;
        }
      }
    }
    const size_t stop = found == std::string::npos ? text.size() : found;
    ETP_CHECK_OK(ordinary(at, stop));
    if (found == std::string::npos) break;
    ids.push_back(id);
    at = found + length;
  }
  return ids;
}

Result<std::string> Tiktoken::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      return Status(StatusCode::kInvalidArgument, path_ + ": token " + std::to_string(id) +
                                                      " is outside the vocabulary of " + std::to_string(vocab_size()));
    }
    text += tokens_[static_cast<size_t>(id)];
  }
  return text;
}

}  // namespace etp::api
