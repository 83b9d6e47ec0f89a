#!/usr/bin/env python3
"""TensorBoard references: what sbert's event writer writes, read back by TensorBoard.

  /work/venv/bin/python tools/gen_tensorboard_refs.py      (needs build/libsbert.a and build/sbert)

1. Writes tests/data/tensorboard/fixture.json: scalars chosen to reach the edges of
   the format (step 0 and a zero value that protobuf treats differently, a negative
   and a denormal float32, a value that overflows float32, NaN, a 200-byte tag whose
   length takes a two-byte varint, a non-ASCII tag, a step past 2^40) and Trainer
   log_history entries (train, eval and test).
2. Compiles tools/tb_fixture.c against build/libsbert.a and runs it: sbert's writer
   (src/training/tensorboard.c) writes the fixture into an event file.
3. Builds the file Python writes for the same events: the first record from
   tensorboard's event_pb2 (file_version "brain.Event:2", source_metadata writer
   "sbert"); the scalars with torch.utils.tensorboard.SummaryWriter.add_scalar
   (walltime given); the log_history entries through transformers'
   TensorBoardCallback.on_log itself (its tags and order; time.time pinned to the
   entry's wall time) -- and asserts the two files are equal byte for byte.
4. Reads sbert's file with TensorBoard's EventAccumulator (which checks both CRCs of
   every record) and asserts every tag, step, wall time and value.
5. Commits sbert's file as tests/data/tensorboard/fixture.tfevents and what
   TensorBoard read as tests/data/tensorboard/read.json (values as float32 read
   back; non-finite values as strings). tests/test_tensorboard.c writes the same
   events today and compares the bytes, so what sbert writes now is what
   TensorBoard read here.
6. End to end: `sbert train` on a small StaticEmbedding run with report_to
   tensorboard; EventAccumulator reads the event file under output_dir/runs/ and
   every number of final/trainer_state.json's log_history must be there under the
   Trainer's tag at its step; `sbert plot` of that trainer_state.json must parse as
   XML (nothing of this run is committed: its numbers are the trainer's).
"""
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import types
from unittest import mock

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "tensorboard")
BUILD = os.path.join(ROOT, "build")

W0 = 1700000000.5
FIXTURE = {
    "generator": "tools/gen_tensorboard_refs.py",
    "wall_time": W0,
    "events": [
        {"kind": "scalar", "wall_time": W0 + 0.25, "step": 0, "tag": "train/loss", "value": 0.0},
        {"kind": "scalar", "wall_time": W0 + 1, "step": 1, "tag": "train/loss", "value": 0.6931471805599453},
        {"kind": "history", "wall_time": W0 + 2,
         "entry": {"epoch": 0.25, "step": 2, "loss": 0.5, "grad_norm": 1.25, "learning_rate": 5e-05}},
        {"kind": "history", "wall_time": W0 + 3,
         "entry": {"epoch": 0.5, "step": 3, "eval_sts-dev_pearson_cosine": 0.8123456789,
                   "eval_sts-dev_spearman_cosine": 0.7912345678}},
        {"kind": "scalar", "wall_time": W0 + 3.5, "step": 3, "tag": "eval/\u00e4hnlichkeit", "value": -2.5},
        {"kind": "scalar", "wall_time": W0 + 4, "step": 4, "tag": "train/" + "x" * 200, "value": 3e38},
        {"kind": "scalar", "wall_time": W0 + 4, "step": 4, "tag": "train/tiny", "value": 1e-40},
        {"kind": "scalar", "wall_time": W0 + 5, "step": 5, "tag": "train/huge", "value": 1e39},
        {"kind": "scalar", "wall_time": W0 + 5, "step": 5, "tag": "train/nan", "value": "nan"},
        {"kind": "history", "wall_time": W0 + 6,
         "entry": {"epoch": 1.0, "step": 6, "test_sts-test_spearman_cosine": 0.75}},
        {"kind": "scalar", "wall_time": W0 + 10, "step": 2 ** 40 + 1, "tag": "train/loss", "value": 0.125},
    ],
}


def num(v):
    return float(v) if isinstance(v, str) else v


def build_driver(tmp):
    libs = subprocess.run(["pkg-config", "--libs", "libcjson", "libutf8proc", "libpcre2-8", "openblas", "zlib"],
                          check=True, capture_output=True, text=True).stdout.split()
    exe = os.path.join(tmp, "tb_fixture")
    subprocess.run(["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", os.path.join(ROOT, "tools", "tb_fixture.c"),
                    "-I" + ROOT + "/include", "-I" + ROOT + "/src", "-I" + ROOT + "/tests",
                    os.path.join(BUILD, "libsbert.a")] + libs + ["-lpthread", "-lm", "-o", exe], check=True)
    return exe


def records(data):
    """Split a TFRecord file into its payloads (checking the CRCs with tensorboard's own code)."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        assert struct.unpack_from("<I", data, pos + 8)[0] == masked_crc32c(data[pos:pos + 8])
        payload = data[pos + 12:pos + 12 + n]
        assert struct.unpack_from("<I", data, pos + 12 + n)[0] == masked_crc32c(payload)
        out.append(payload)
        pos += 12 + n + 4
    return out


def python_file(tmp):
    """The same events as Python writes them (see the module docstring, step 3)."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations.integration_utils import TensorBoardCallback

    logdir = os.path.join(tmp, "torch")
    writer = SummaryWriter(log_dir=logdir)
    cb = TensorBoardCallback(tb_writer=writer)
    for e in FIXTURE["events"]:
        if e["kind"] == "scalar":
            writer.add_scalar(e["tag"], num(e["value"]), global_step=e["step"], walltime=e["wall_time"])
        else:
            entry = dict(e["entry"])
            step = entry.pop("step")
            epoch = entry.pop("epoch")
            logs = {**entry, "epoch": epoch}  # Trainer.log adds epoch last
            state = types.SimpleNamespace(is_world_process_zero=True, global_step=step)
            with mock.patch("time.time", return_value=e["wall_time"]):
                cb.on_log(None, state, None, logs=logs)
    writer.close()
    files = os.listdir(logdir)
    assert len(files) == 1, files
    with open(os.path.join(logdir, files[0]), "rb") as f:
        torch_bytes = f.read()
    first = event_pb2.Event(wall_time=FIXTURE["wall_time"], file_version="brain.Event:2",
                            source_metadata=event_pb2.SourceMetadata(writer="sbert"))
    buf = io.BytesIO()
    RecordWriter(buf).write(first.SerializeToString())
    torch_first = records(torch_bytes)[0]
    return buf.getvalue() + torch_bytes[12 + len(torch_first) + 4:]


def read_back(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(path, size_guidance={"scalars": 0})
    acc.Reload()
    tags = {}
    for tag in acc.Tags()["scalars"]:
        tags[tag] = [[ev.wall_time, ev.step, ev.value] for ev in acc.Scalars(tag)]
    return acc.file_version, tags


def expected_tags():
    from transformers.integrations.integration_utils import rewrite_logs
    want = {}
    for e in FIXTURE["events"]:
        if e["kind"] == "scalar":
            items, step = [(e["tag"], num(e["value"]))], e["step"]
        else:
            entry = dict(e["entry"])
            step = entry.pop("step")
            items = list(rewrite_logs(entry).items())
        for tag, v in items:
            want.setdefault(tag, []).append([e["wall_time"], step, v])
    return want


def same_value(got, want):
    w = float(np.float32(want)) if math.isfinite(want) and abs(want) < 3.5e38 else \
        (want if not math.isfinite(want) else math.copysign(math.inf, want))
    if math.isnan(w):
        return math.isnan(got)
    return got == w


def jsonable(v):
    return v if math.isfinite(v) else repr(v)


def end_to_end(tmp):
    sbert = os.path.join(BUILD, "sbert")
    out = os.path.join(tmp, "run")
    args = [sbert, "train", "--model", "static", "--tokenizer", os.path.join(ROOT, "data/bert-base-uncased-tokenizer.json"),
            "--embedding_dim", "16", "--train_data", os.path.join(ROOT, "data/allnli-triplets.jsonl"),
            "--eval_data", os.path.join(ROOT, "data/stsb-dev.jsonl"), "--evaluator_name", "sts-dev",
            "--loss", "MultipleNegativesRankingLoss", "--max_train_samples", "128", "--max_eval_samples", "60",
            "--per_device_train_batch_size", "16", "--max_steps", "6", "--learning_rate", "0.1",
            "--save_strategy", "no", "--logging_steps", "1", "--eval_strategy", "steps", "--eval_steps", "3",
            "--output_dir", out, "--run_name", "tb-e2e", "--report_to", "tensorboard",
            "--log-dir", os.path.join(tmp, "logs")]
    subprocess.run(args, check=True, capture_output=True)
    runs = os.path.join(out, "runs")
    (run_dir,) = os.listdir(runs)
    (event_file,) = os.listdir(os.path.join(runs, run_dir))
    assert event_file.startswith("events.out.tfevents."), event_file
    _, tags = read_back(os.path.join(runs, run_dir, event_file))
    with open(os.path.join(out, "final", "trainer_state.json")) as f:
        history = json.load(f)["log_history"]
    from transformers.integrations.integration_utils import rewrite_logs
    n = 0
    for entry in history:
        entry = dict(entry)
        step = entry.pop("step")
        for tag, v in rewrite_logs(entry).items():
            assert any(s == step and same_value(val, v) for _, s, val in tags[tag]), (tag, step, v)
            n += 1
    assert n == sum(len(v) for v in tags.values()), "TensorBoard holds values the log_history does not"
    svg = os.path.join(tmp, "curves.svg")
    subprocess.run([sbert, "plot", "--input", os.path.join(out, "final"), "--output", svg], check=True)
    import xml.etree.ElementTree as ET
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    with open(os.path.join(out, "final", "README.md"), encoding="utf-8") as f:
        assert "training_curves.svg" in f.read()
    ET.parse(os.path.join(out, "final", "training_curves.svg"))
    print(f"end to end: {n} values of the log_history found in {event_file} under runs/{run_dir}")


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "fixture.json"), "w") as f:
        json.dump(FIXTURE, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_driver(tmp)
        logdir = os.path.join(tmp, "sbert")
        path = subprocess.run([exe, os.path.join(OUT, "fixture.json"), logdir], check=True, capture_output=True,
                              text=True).stdout.strip()
        name = os.path.basename(path)
        parts = name.split(".")
        assert parts[:3] == ["events", "out", "tfevents"] and parts[3] == "%010d" % int(W0), name
        with open(path, "rb") as f:
            sbert_bytes = f.read()
        py_bytes = python_file(tmp)
        assert sbert_bytes == py_bytes, "sbert's event file differs from what torch/transformers write"
        version, tags = read_back(path)
        assert version == 2.0, version
        want = expected_tags()
        assert sorted(tags) == sorted(want), (sorted(tags), sorted(want))
        for tag, evs in want.items():
            got = tags[tag]
            assert len(got) == len(evs), tag
            for (gw, gs, gv), (ww, ws, wv) in zip(got, evs):
                assert gw == ww and gs == ws and same_value(gv, wv), (tag, (gw, gs, gv), (ww, ws, wv))
        with open(os.path.join(OUT, "fixture.tfevents"), "wb") as f:
            f.write(sbert_bytes)
        read = {
            "generator": "tools/gen_tensorboard_refs.py",
            "reader": "tensorboard.backend.event_processing.event_accumulator.EventAccumulator",
            "file_version": version,
            "records": len(records(sbert_bytes)),
            "scalars": {tag: [[w, s, jsonable(v)] for w, s, v in evs] for tag, evs in sorted(tags.items())},
        }
        with open(os.path.join(OUT, "read.json"), "w") as f:
            json.dump(read, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print(f"fixture: {len(sbert_bytes)} bytes, {read['records']} records, {len(tags)} tags; "
              "equal to torch/transformers' file; read back by EventAccumulator")
        end_to_end(tmp)


if __name__ == "__main__":
    sys.exit(main())
