#include "runtime/program.h"

#include "runtime/method.h"
#include "runtime/method_loader.h"

namespace etp::runtime {

Result<std::shared_ptr<Program>> Program::open(const std::string& path, std::vector<DataSource> data,
                                               std::shared_ptr<const plugins::Registry> registry, FileAccess access) {
  ETP_TRY(auto file, MappedFile::open(path, access));
  return open(std::move(file), std::move(data), std::move(registry));
}

Result<std::shared_ptr<Program>> Program::open(std::shared_ptr<const MappedFile> mapped, std::vector<DataSource> data,
                                               std::shared_ptr<const plugins::Registry> registry) {
  ETP_TRY(auto file, format::ProgramFile::open(std::move(mapped)));
  auto program = std::make_shared<Program>();
  program->file_ = std::make_shared<const format::ProgramFile>(std::move(file));
  program->data_ = std::move(data);
  program->registry_ = std::move(registry);
  return program;
}

Result<std::unique_ptr<Method>> Program::load_method(const std::string& name) const {
  ETP_TRY(const auto* plan, file_->find_plan(name));
  return runtime::load_method(*this, *plan);
}

}  // namespace etp::runtime
