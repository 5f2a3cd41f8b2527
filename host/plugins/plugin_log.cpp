#include "plugins/plugin_log.h"

#include <atomic>
#include <cstdio>

#include "etp_plugin.h"

namespace etp::plugins {
namespace {

thread_local std::string t_last_error;
std::atomic<int32_t> g_print_level{ETP_LOG_ERROR + 1};  // errors travel in messages, not stderr

}  // namespace

void PluginLog::write(int32_t level, const char* message) {
  if (message == nullptr) return;
  if (level >= ETP_LOG_ERROR) t_last_error = message;
  if (level >= g_print_level.load(std::memory_order_relaxed)) {
    static const char* kNames[] = {"debug", "info", "warning", "error"};
    std::fprintf(stderr, "etp: %s: %s\n", kNames[level < 0 ? 0 : level > 3 ? 3 : level], message);
  }
}

std::string PluginLog::take_last_error() {
  std::string message = std::move(t_last_error);
  t_last_error.clear();
  return message;
}

void PluginLog::set_last_error(std::string message) { t_last_error = std::move(message); }

void PluginLog::set_print_level(int32_t level) { g_print_level.store(level, std::memory_order_relaxed); }

}  // namespace etp::plugins
