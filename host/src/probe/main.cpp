// tandem-module-probe FILE...: opens each module file in this process, one after the other, and
// writes what its descriptor says (or why it is refused) to descriptor 3, for the registry that
// started it (loader/module_probe.hpp). If a module's load crashes, exits or hangs, this process
// goes with it and the registry names the file it had begun. Nothing here is a user command.
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "loader/loaded_library.hpp"
#include "loader/module_probe.hpp"

namespace {

// Writes all of `text`, or gives up (the registry then reads a short result and says so).
bool write_all(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(tandem::loader::kProbeResultFd, text.data() + done, text.size() - done);
    if (n < 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

// In a sanitizer build the probe must still die the way a module's load makes it die: AddressSanitizer
// would otherwise catch the module's SIGSEGV (or abort, SIGFPE, ...) and exit with status 1, and the
// registry would report an exit where there was a crash. Read by ASan only; an ordinary build ignores it.
extern "C" const char* __asan_default_options() {
  return "handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0";
}

int main(int argc, char** argv) {
  // Every library opened stays loaded until _exit: unloading would run the module's destructors, and
  // a crash there would be blamed on the next file.
  std::vector<std::shared_ptr<tandem::LoadedLibrary>> opened;
  for (int i = 1; i < argc; ++i) {
    const size_t index = static_cast<size_t>(i - 1);
    if (!write_all(tandem::loader::encode_begin(index))) ::_exit(2);
    tandem::loader::ProbeOutcome outcome;
    try {
      std::shared_ptr<tandem::LoadedLibrary> library;
      outcome = tandem::loader::inspect_module_file(argv[i], library);
      opened.push_back(std::move(library));
    } catch (const std::exception& e) {
      outcome.refusal = std::string("reading its descriptor failed: ") + e.what();
    }
    if (!write_all(tandem::loader::encode_outcome(index, outcome))) ::_exit(2);
  }
  // _exit, not return: no module's static destructors run (a crash there would have no file to blame).
  ::_exit(0);
}
