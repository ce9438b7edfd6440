#pragma once

// A scratch directory of one test. No Catch2: mkdtemp failing throws std::system_error.

#include <stdlib.h>  // mkdtemp

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

namespace wagroups_test {

/// A fresh directory under the system temp dir (named `prefix`-XXXXXX), removed with everything in
/// it at scope exit.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "wagroups-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp(" + pattern + ")");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const noexcept { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace wagroups_test
