#!/usr/bin/env bash
# Runs a command for at most SECONDS; if it is still running then, prints every thread's stack
# (cuda-gdb attaches to the process: the GPU machine has no gdb) before killing it, so that a hang on
# the GPU machine comes back with where it hangs rather than only a timeout. Exit status: the
# command's, or 124 when it was stopped.
#
#   watchdog.sh SECONDS -- COMMAND [ARGS...]
set -uo pipefail
seconds=${1:?usage: watchdog.sh SECONDS -- COMMAND...}
shift
[ "${1:-}" = "--" ] && shift
"$@" &
pid=$!
for ((waited = 0; waited < seconds; waited++)); do
  kill -0 "$pid" 2>/dev/null || { wait "$pid"; exit $?; }
  sleep 1
done
kill -0 "$pid" 2>/dev/null || { wait "$pid"; exit $?; }
echo "watchdog: '$*' still running after ${seconds}s; its threads' stacks:"
gdb=$(command -v cuda-gdb || echo /usr/local/cuda/bin/cuda-gdb)
if [ -x "$gdb" ]; then
  timeout 90 "$gdb" -p "$pid" -batch -ex "set pagination off" -ex "thread apply all bt 25" 2>&1 |
    grep -E '^(Thread|#)' | head -200
else
  echo "watchdog: no cuda-gdb here"
fi
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 124
