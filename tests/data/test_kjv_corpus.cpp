// The default corpus. With bible-kjv installed (the README's set-up installs it) the real text is made
// and checked; the error paths use stand-in programs, so they run everywhere.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "safetensors_bytes.hpp"  // ScratchDir
#include "tandem/data.hpp"

namespace data = tandem::data;
using tandem_test::ScratchDir;

namespace {

bool bible_installed() { return ::access("/usr/bin/bible", X_OK) == 0 && ::access("/usr/lib/bible.data", R_OK) == 0; }

// A shell script standing in for `bible`.
std::string fake_program(const ScratchDir& dir, const std::string& name, const std::string& body) {
  const std::filesystem::path p = dir / name;
  std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
  ::chmod(p.c_str(), 0755);
  return p.string();
}

std::string expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const data::DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

}  // namespace

TEST(KjvCorpus, MakesTheKingJamesBibleFromTheDebianPackage) {
  if (!bible_installed()) GTEST_SKIP() << "bible-kjv not installed (apt-get install bible-kjv bible-kjv-text)";
  ScratchDir dir;
  const std::filesystem::path text = data::kjv_text(dir / "corpus");
  EXPECT_EQ(text, dir / "corpus" / "kjv.txt");
  std::ifstream in(text);
  std::string line, first, last;
  size_t lines = 0;
  while (std::getline(in, line)) {
    if (lines == 0) first = line;
    last = line;
    ++lines;
  }
  EXPECT_EQ(lines, 31102u);  // the verses of the KJV
  EXPECT_EQ(first, "Ge1:1 In the beginning God created the heaven and the earth.");
  EXPECT_EQ(last, "Rev22:21 The grace of our Lord Jesus Christ be with you all. Amen.");
  const data::Tokens tokens = data::load_tokens(text, data::kByteVocab);
  EXPECT_EQ(tokens.ids.size(), std::filesystem::file_size(text));
  EXPECT_GT(tokens.ids.size(), 4'000'000u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir / "corpus"), {}), 1);  // no temporary left

  // The second call reuses the file: even a missing program is not needed.
  const auto before = std::filesystem::last_write_time(text);
  EXPECT_EQ(data::kjv_text(dir / "corpus", "/nonexistent/bible"), text);
  EXPECT_EQ(std::filesystem::last_write_time(text), before);
}

TEST(KjvCorpus, MissingProgramNamesThePackages) {
  ScratchDir dir;
  const std::string msg = expect_error([&] { data::kjv_text(dir.path(), "tandem-no-such-program-xyz"); });
  EXPECT_NE(msg.find("apt-get install bible-kjv bible-kjv-text"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(dir / "kjv.txt"));
}

TEST(KjvCorpus, MissingDataNamesThePackages) {
  ScratchDir dir;
  const std::string prog = fake_program(dir, "bible", "echo 'Cannot open data file bible.data' >&2; exit 255");
  const std::string msg = expect_error([&] { data::kjv_text(dir / "c", prog); });
  EXPECT_NE(msg.find("exited with status 255 (Cannot open data file bible.data)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("apt-get install bible-kjv bible-kjv-text"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(dir / "c" / "kjv.txt"));
}

TEST(KjvCorpus, OutputThatIsNotTheBibleIsRefused) {
  ScratchDir dir;
  const std::string prog = fake_program(dir, "bible", "echo hello");
  const std::string msg = expect_error([&] { data::kjv_text(dir / "c", prog); });
  EXPECT_NE(msg.find("6 bytes that do not run from Genesis 1:1 to Revelation 22:21"), std::string::npos) << msg;
  EXPECT_TRUE(std::filesystem::is_empty(dir / "c"));
}

TEST(KjvCorpus, PassesTheArgumentsAndWritesTheOutput) {
  ScratchDir dir;
  // Echoes its arguments inside a first and last verse, so the test sees exactly what was run.
  const std::string prog = fake_program(
      dir, "bible",
      "echo 'Ge1:1 In the beginning God created the heaven and the earth.'; echo \"$@\"; "
      "echo 'Rev22:21 The grace of our Lord Jesus Christ be with you all. Amen.'");
  const std::filesystem::path text = data::kjv_text(dir / "c", prog);
  std::ifstream in(text);
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_EQ(l2, "-f -p /usr/lib Genesis1:1-Revelation22:21");
}
