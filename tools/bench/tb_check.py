#!/usr/bin/env python3
"""Loads tandem's TensorBoard event files with TensorBoard's own reader (EventAccumulator) and
checks them against the run's csv_monitor files or metrics: run where the `tensorboard` package is
importable (the GPU machine's torch venv); tandem's tests read the files with a reader of their
own (tests/monitor/read_tfevents.py) and need no TensorBoard.

usage: tb_check.py LOG_DIR [METRICS.jsonl TRAIN_BATCH_SIZE]
  LOG_DIR: <output_path>/<job_name> of the config's tensorboard block.
Prints each tag with its number of points, first and last (step, value); with METRICS.jsonl, asserts
that Train/Samples/train_loss and Train/Samples/lr hold every line's loss and lr (as float32) at step
x TRAIN_BATCH_SIZE. Exits 1 on a difference.
"""
import json
import struct
import sys

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:
    sys.exit("tb_check.py: the tensorboard package is not importable here (pip install tensorboard)")


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main():
    if len(sys.argv) not in (2, 4):
        sys.exit(__doc__)
    acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    if not tags:
        sys.exit(f"tb_check.py: no scalars in {sys.argv[1]}")
    for tag in tags:
        events = acc.Scalars(tag)
        print(f"{tag}: {len(events)} points, first ({events[0].step}, {events[0].value}), "
              f"last ({events[-1].step}, {events[-1].value})")
    if len(sys.argv) == 4:
        batch = int(sys.argv[3])
        got = {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in tags}
        bad = 0
        for line in open(sys.argv[2]):
            row = json.loads(line)
            for tag, key in (("Train/Samples/train_loss", "loss"), ("Train/Samples/lr", "lr")):
                if row.get(key) is None:
                    continue
                step = row["step"] * batch
                if got.get(tag, {}).get(step) != f32(row[key]):
                    print(f"{tag} at {step}: TensorBoard reads {got.get(tag, {}).get(step)}, metrics say {row[key]}")
                    bad += 1
        if bad:
            sys.exit(1)
        print("every metrics line matches")


if __name__ == "__main__":
    main()
