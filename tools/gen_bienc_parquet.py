#!/usr/bin/env python3
"""tools/gen_bienc_parquet.py -- small Parquet files for tests/test_bienc_data.c, written by
pyarrow (Apache Arrow's Parquet writer), each beside the JSONL it must equal:
  scored.parquet / scored.jsonl      the first 40 rows of data/stsb-dev.jsonl (sentence1, sentence2, score)
  teacher.parquet / teacher.jsonl    (text, label: list<double> of 4) -- a list-valued label
  ints.parquet                       (text, label: int64) -- integer class labels
  bad_struct.parquet                 a struct column (cannot be a text)
  bad_listtext.parquet               a list<string> column
  bad_null.parquet                   a null text in row 2
Run: /work/venv/bin/python tools/gen_bienc_parquet.py
"""
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "bienc", "parquet")


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(ROOT, "data", "stsb-dev.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(l) for l in f][:40]
    pq.write_table(pa.Table.from_pylist(rows), os.path.join(OUT, "scored.parquet"))
    with open(os.path.join(OUT, "scored.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    teacher = [{"text": r["sentence1"], "label": [i * 0.5, -1.0, 2.25, float(i)]} for i, r in enumerate(rows[:6])]
    pq.write_table(pa.Table.from_pylist(teacher), os.path.join(OUT, "teacher.parquet"))
    with open(os.path.join(OUT, "teacher.jsonl"), "w", encoding="utf-8") as f:
        for r in teacher:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    pq.write_table(pa.table({"text": ["a", "b", "c"], "label": pa.array([0, 2, 1], pa.int64())}),
                   os.path.join(OUT, "ints.parquet"))
    pq.write_table(pa.table({"text": ["a", "b"], "meta": [{"x": 1}, {"x": 2}]}), os.path.join(OUT, "bad_struct.parquet"))
    pq.write_table(pa.table({"query": ["a", "b"], "docs": [["x", "y"], ["z"]]}),
                   os.path.join(OUT, "bad_listtext.parquet"))
    pq.write_table(pa.table({"text": ["a", None, "c"]}), os.path.join(OUT, "bad_null.parquet"))
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
