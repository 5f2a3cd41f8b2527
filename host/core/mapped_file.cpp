#include "core/mapped_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

namespace etp {
namespace {

Status os_error(const std::string& path, const char* what) {
  return Status(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIo,
                path + ": " + what + " failed: " + std::strerror(errno));
}

const char* kind_problem(mode_t mode) {
  if (S_ISREG(mode)) return nullptr;
  return S_ISDIR(mode) ? "is a directory" : "is not a regular file (a device, FIFO or socket)";
}

// ---- what the SIGBUS handler knows: the live mappings, in a fixed table it reads lock-free ----

constexpr int kFaultSlots = 256;
constexpr size_t kFaultPathBytes = 480;

struct FaultSlot {
  std::atomic<uintptr_t> begin{0}, end{0};  // end == 0: free
  char path[kFaultPathBytes];
};
FaultSlot g_fault_slots[kFaultSlots];
std::mutex g_fault_slots_mutex;  // taken by registration only, never by the handler
struct sigaction g_previous_sigbus {};

int register_mapping(const uint8_t* data, size_t size, const std::string& path) {
  const std::lock_guard<std::mutex> lock(g_fault_slots_mutex);
  for (int i = 0; i < kFaultSlots; ++i) {
    FaultSlot& slot = g_fault_slots[i];
    if (slot.end.load(std::memory_order_relaxed) != 0) continue;
    // The last byte stays NUL for good, so a handler reading while a slot is reused stops there.
    const size_t n = std::min(path.size(), kFaultPathBytes - 1);
    std::memcpy(slot.path, path.data(), n);
    std::memset(slot.path + n, 0, kFaultPathBytes - n);
    slot.begin.store(reinterpret_cast<uintptr_t>(data), std::memory_order_relaxed);
    slot.end.store(reinterpret_cast<uintptr_t>(data) + size, std::memory_order_release);
    return i;
  }
  return -1;  // more than kFaultSlots files mapped at once: a fault in this one is not named
}

void unregister_mapping(int slot) {
  if (slot < 0) return;
  const std::lock_guard<std::mutex> lock(g_fault_slots_mutex);
  g_fault_slots[slot].end.store(0, std::memory_order_release);
}

// write(2) of a NUL-terminated string of at most `limit` bytes, in a signal handler.
void say(const char* text, size_t limit = SIZE_MAX) {
  for (size_t n = strnlen(text, limit); n > 0;) {
    const ssize_t done = ::write(STDERR_FILENO, text, n);
    if (done <= 0) return;
    text += done, n -= static_cast<size_t>(done);
  }
}

// The mapping holding `address`, or null. Lock-free: called in the handler.
const FaultSlot* mapping_at(uintptr_t address) {
  for (const FaultSlot& slot : g_fault_slots) {
    const uintptr_t end = slot.end.load(std::memory_order_acquire);
    const uintptr_t begin = slot.begin.load(std::memory_order_relaxed);
    if (end != 0 && address >= begin && address < end) return &slot;
  }
  return nullptr;
}

void on_sigbus(int signal, siginfo_t* info, void* context) {
  const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
  // si_code > 0: a fault of this process's own access, not a SIGBUS another process sent.
  if (const FaultSlot* slot = info->si_code > 0 ? mapping_at(address) : nullptr) {
    char offset[24];
    size_t i = sizeof offset;
    offset[--i] = '\0';
    uintptr_t v = address - slot->begin.load(std::memory_order_relaxed);
    do offset[--i] = static_cast<char>('0' + v % 10), v /= 10;
    while (v != 0 && i > 0);
    say("etp: ");
    say(slot->path, kFaultPathBytes);
    say(" changed on disk while mapped: reading its byte ");
    say(offset + i);
    say(" failed (the file is now shorter than when it was opened, or could not be read). Keep files "
        "unchanged while etp uses them, or read them into memory instead of mapping them (--read-files, "
        "BundleOptions::read_files)\n");
    ::_exit(1);
  }
  // Not a mapped file's: the handler that was there before, else the default action.
  const struct sigaction& previous = g_previous_sigbus;
  const bool installed = previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN;  // (a union)
  if (previous.sa_handler == SIG_IGN && info->si_code <= 0) return;  // a sent SIGBUS, ignored before
  if (installed && (previous.sa_flags & SA_SIGINFO) != 0) {
    previous.sa_sigaction(signal, info, context);
  } else if (installed) {
    previous.sa_handler(signal);
  } else {
    // Default: a fault re-runs its access on return and then takes it; a sent signal is raised
    // again, now with the default disposition.
    ::signal(SIGBUS, SIG_DFL);
    if (info->si_code <= 0) ::raise(SIGBUS);
  }
}

}  // namespace

void install_mapped_file_fault_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &g_previous_sigbus);
  });
}

std::string not_a_regular_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? "does not exist" : std::string("cannot be read: ") + std::strerror(errno);
  }
  const char* problem = kind_problem(st.st_mode);
  return problem != nullptr ? problem : "";
}

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::string& path, FileAccess access) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return os_error(path, "open");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status error = os_error(path, "stat");
    ::close(fd);
    return error;
  }
  if (const char* problem = kind_problem(st.st_mode)) {
    ::close(fd);
    return Status(StatusCode::kInvalidArgument, path + " " + problem);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* data = nullptr;
  if (size > 0 && access == FileAccess::kMap) {
    data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, /*offset=*/0);
    if (data == MAP_FAILED) {
      Status error = os_error(path, "mmap");
      ::close(fd);
      return error;
    }
  } else if (size > 0) {
    // Anonymous pages, so the destructor unmaps either kind the same way.
    data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) {
      Status error = os_error(path, "allocating memory to read it into");
      ::close(fd);
      return error;
    }
    for (size_t done = 0; done < size;) {
      const ssize_t got = ::pread(fd, static_cast<uint8_t*>(data) + done, size - done, static_cast<off_t>(done));
      if (got <= 0) {
        Status error = got < 0 ? os_error(path, "read")
                               : Status(StatusCode::kIo, path + ": read failed: the file shrank while being read");
        ::munmap(data, size);
        ::close(fd);
        return error;
      }
      done += static_cast<size_t>(got);
    }
    ::mprotect(data, size, PROT_READ);
  }
  ::close(fd);  // the mapping keeps the file alive
  std::shared_ptr<MappedFile> file(new MappedFile(path, static_cast<const uint8_t*>(data), size, access));
  if (data != nullptr && access == FileAccess::kMap) file->fault_slot_ = register_mapping(file->data_, size, path);
  return std::shared_ptr<const MappedFile>(std::move(file));
}

std::shared_ptr<const MappedFile> MappedFile::copy_of(const std::string& path, const uint8_t* data, size_t size) {
  void* copy = nullptr;
  if (size > 0) {
    if (::posix_memalign(&copy, /*alignment=*/64, size) != 0) throw std::bad_alloc();
    std::memcpy(copy, data, size);
  }
  return std::shared_ptr<const MappedFile>(
      new MappedFile(path, static_cast<const uint8_t*>(copy), size, FileAccess::kRead, /*heap=*/true));
}

MappedFile::~MappedFile() {
  unregister_mapping(fault_slot_);
  if (data_ == nullptr) return;
  if (heap_) {
    std::free(const_cast<uint8_t*>(data_));
  } else {
    ::munmap(const_cast<uint8_t*>(data_), size_);
  }
}

}  // namespace etp
