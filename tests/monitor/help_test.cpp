// `tandem --help` lists every command of the table with one line each; `tandem help CMD` is
// `tandem CMD --help`; no command's help shows the options that only carry its positional arguments
// (--file, --path, --dir, --what); an unknown command gets "did you mean".
#include <gtest/gtest.h>

#include <algorithm>

#include "cli_support.hpp"

namespace tandem {
namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Help, TheListingHasEveryCommandOnOneLineAndEachAnswersHelp) {
  test::Scratch scratch("help-list");
  const test::CliResult r = test::tandem_run({"--help"}, scratch / "help");
  ASSERT_EQ(r.rc, 0);
  // The lines between "commands:" and the blank line: "  NAME [SUB | SUB]   what it does".
  std::vector<std::string> names;
  bool in_list = false;
  for (const std::string& l : test::text_lines(r.out)) {
    if (l == "commands:") {
      in_list = true;
      continue;
    }
    if (!in_list) continue;
    if (l.empty()) break;
    ASSERT_EQ(l.rfind("  ", 0), 0u) << l;
    const size_t end = l.find(' ', 2);
    names.push_back(l.substr(2, end - 2));
    EXPECT_GT(l.size(), 34u) << "no summary: " << l;  // the name padded to 32 columns, then what it does
  }
  for (const char* known : {"modules", "config", "schedule", "train", "distill", "plot", "checkpoint", "estimate", "new",
                            "launch"})
    EXPECT_NE(std::find(names.begin(), names.end(), known), names.end()) << known << "\n" << r.out;
  for (const std::string& name : names) {  // each is a command: its help (or its subcommands') answers
    const test::CliResult h = test::tandem_run({name, "--help"}, scratch / "one");
    EXPECT_EQ(h.rc, 0) << name << h.err;
    EXPECT_TRUE(has(h.out, "usage: tandem " + name)) << name << "\n" << h.out;
  }
  EXPECT_TRUE(has(r.out, "`tandem help <command>`")) << r.out;
  EXPECT_EQ(test::tandem_run({"help"}, scratch / "bare").out, r.out);
  const test::CliResult none = test::tandem_run({}, scratch / "none");
  EXPECT_EQ(none.rc, 2);
  EXPECT_EQ(none.err, r.out);
}

TEST(Help, HelpCmdIsCmdDashDashHelpAndShowsNoPositionalPlumbing) {
  test::Scratch scratch("help-cmd");
  const std::vector<std::vector<std::string>> commands = {
      {"train"}, {"distill"}, {"plot"}, {"schedule"}, {"estimate"}, {"modules"}, {"launch"},
      {"config", "check"}, {"config", "explain"}, {"checkpoint", "consolidate"}, {"checkpoint", "inspect"},
      {"new", "module"}};
  for (const std::vector<std::string>& cmd : commands) {
    std::vector<std::string> help = {"help"}, dashed = cmd;
    help.insert(help.end(), cmd.begin(), cmd.end());
    dashed.push_back("--help");
    const test::CliResult a = test::tandem_run(help, scratch / "a");
    const test::CliResult b = test::tandem_run(dashed, scratch / "b");
    EXPECT_EQ(a.rc, 0) << cmd[0] << a.err;
    EXPECT_EQ(a.rc, b.rc) << cmd[0];
    EXPECT_EQ(a.out, b.out) << cmd[0];
    EXPECT_TRUE(has(a.out, "usage: tandem " + cmd[0])) << a.out;
    for (const char* plumbing : {"--file ", "--path ", "--dir ", "--what "})
      EXPECT_FALSE(has(a.out, plumbing)) << cmd[0] << " shows " << plumbing << "\n" << a.out;
  }
  // The hidden options still carry their arguments: a positional run file is read.
  const test::CliResult train_help = test::tandem_run({"help", "train"}, scratch / "train");
  EXPECT_TRUE(has(train_help.out, "--resume")) << train_help.out;
  EXPECT_TRUE(has(train_help.out, "--stop-after")) << train_help.out;
  const test::CliResult missing = test::tandem_run({"train", (scratch / "nothing.json").string()}, scratch / "m");
  EXPECT_EQ(missing.rc, 2);
  EXPECT_TRUE(has(missing.err, "nothing.json")) << missing.err;
}

TEST(Help, AnUnknownCommandGetsTheNearestOne) {
  test::Scratch scratch("help-near");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"trian", "train"}, {"distil", "distill"}, {"plto", "plot"}, {"modlues", "modules"}, {"chekpoint", "checkpoint"}};
  for (const auto& [typed, meant] : cases) {
    const test::CliResult r = test::tandem_run({typed}, scratch / "near");
    EXPECT_EQ(r.rc, 2) << typed;
    EXPECT_TRUE(has(r.err, "tandem: unknown command '" + typed + "' (did you mean '" + meant + "'?)")) << r.err;
  }
  const test::CliResult far = test::tandem_run({"xyzzy"}, scratch / "far");
  EXPECT_EQ(far.rc, 2);
  EXPECT_TRUE(has(far.err, "tandem: unknown command 'xyzzy'; `tandem --help` lists the commands")) << far.err;
  const test::CliResult help_far = test::tandem_run({"help", "trian"}, scratch / "help-far");
  EXPECT_EQ(help_far.rc, 2);
  EXPECT_TRUE(has(help_far.err, "did you mean 'train'?")) << help_far.err;
}

}  // namespace
}  // namespace tandem
