#!/usr/bin/env python3
"""tools/make_multilingual_data.py -- parallel sentences for recipes/make_multilingual.yaml
(the skill's make_multilingual template) from the project's shared data folder:

  data/xquad-parallel-en-de.jsonl, data/xquad-parallel-en-es.jsonl
      XQuAD (Artetxe et al. 2019, CC BY-SA 4.0; ../shared/data/xquad): the 1190 questions of
      xquad.en.json with their German / Spanish translations (same question id), as
      {"english", "non_english"} rows in file order -- the training pairs.
  data/tatoeba-deu-eng.jsonl, data/tatoeba-spa-eng.jsonl
      Tatoeba (LASER test set, CC BY 2.0 FR; ../shared/data/tatoeba-laser): 1000 aligned
      (english, non_english) rows per language -- MSEEvaluator + TranslationEvaluator data.
Run: python3 tools/make_multilingual_data.py
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
if not os.path.isdir(SHARED):
    SHARED = "/work/shared/data"


def write_jsonl(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    print(f"{os.path.relpath(path, ROOT)}: {len(rows)} rows")


def questions(lang):
    with open(os.path.join(SHARED, "xquad", f"xquad.{lang}.json"), encoding="utf-8") as f:
        data = json.load(f)["data"]
    out = {}
    for art in data:
        for p in art["paragraphs"]:
            for qa in p["qas"]:
                out[qa["id"]] = " ".join(qa["question"].split())
    return out


def main():
    en = questions("en")
    for lang in ("de", "es"):
        other = questions(lang)
        rows = [{"english": en[k], "non_english": other[k]} for k in en if k in other and en[k] and other[k]]
        write_jsonl(os.path.join(ROOT, "data", f"xquad-parallel-en-{lang}.jsonl"), rows)
    for lang in ("deu", "spa"):
        base = os.path.join(SHARED, "tatoeba-laser", f"tatoeba.{lang}-eng")
        with open(base + ".eng", encoding="utf-8") as f:
            eng = [l.rstrip("\r\n") for l in f]
        with open(base + "." + lang, encoding="utf-8") as f:
            oth = [l.rstrip("\r\n") for l in f]
        assert len(eng) == len(oth)
        rows = [{"english": e.strip(), "non_english": o.strip()} for e, o in zip(eng, oth) if e.strip() and o.strip()]
        write_jsonl(os.path.join(ROOT, "data", f"tatoeba-{lang}-eng.jsonl"), rows)


if __name__ == "__main__":
    main()
