// Program: a verified .pte, the data files its model uses, and the registry that serves its
// operators and backends. Immutable once open; load_method may be called from several threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "format/program_file.h"
#include "plugins/registry.h"
#include "runtime/memory_budget.h"
#include "runtime/named_data_map.h"

namespace etp::runtime {

class Method;

class Program : public std::enable_shared_from_this<Program> {
 public:
  // Opens `path` with the data files the model uses (in lookup order).
  static Result<std::shared_ptr<Program>> open(const std::string& path, std::vector<DataSource> data,
                                               std::shared_ptr<const plugins::Registry> registry,
                                               FileAccess access = FileAccess::kMap);
  // The same for a file already mapped or in memory (see MappedFile::copy_of).
  static Result<std::shared_ptr<Program>> open(std::shared_ptr<const MappedFile> file, std::vector<DataSource> data,
                                               std::shared_ptr<const plugins::Registry> registry);

  const format::ProgramFile& file() const { return *file_; }
  const std::shared_ptr<const format::ProgramFile>& shared_file() const { return file_; }
  const std::string& path() const { return file_->path(); }
  const std::vector<DataSource>& data() const { return data_; }
  const plugins::Registry& registry() const { return *registry_; }

  // Loads method `name` (see runtime/method_loader.h). Each call makes an independent Method
  // with its own planned memory and state.
  Result<std::unique_ptr<Method>> load_method(const std::string& name) const;

  // The budget its methods' planned memory is charged to (a bundle shares one among its
  // programs); without one, only each allocation is capped at physical memory.
  void set_memory_budget(std::shared_ptr<MemoryBudget> budget) { budget_ = std::move(budget); }
  const std::shared_ptr<MemoryBudget>& memory_budget() const { return budget_; }

 private:
  std::shared_ptr<const format::ProgramFile> file_;
  std::vector<DataSource> data_;
  std::shared_ptr<const plugins::Registry> registry_;
  std::shared_ptr<MemoryBudget> budget_;
};

}  // namespace etp::runtime
