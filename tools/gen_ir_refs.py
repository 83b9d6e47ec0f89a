#!/usr/bin/env python3
"""Reference metrics for sbert's InformationRetrievalEvaluator, computed by
sentence-transformers' own InformationRetrievalEvaluator (v6: hits ranked by
(-score, corpus id)) on the same models and data the C test uses.

Cases:
  - models/all-MiniLM-L6-v2 on a Cranfield subset written here as
    tests/data/ir/cranfield-small.json: the first 20 queries of
    data/cranfield-ir.json (built by tools/make_demo_data.py), and as corpus
    every document relevant to them plus the first 80 documents of the
    collection as distractors (encoding all 1400 long abstracts with a
    transformer takes minutes on the 2-core CI machine; the test must stay
    under 30 s), name "cranfield";
  - tests/data/static/model on the full data/cranfield-ir.json (225 queries,
    1400 documents; a static model encodes it in well under a second);
  - tests/data/static/model on tests/data/ir/ties.json, a tiny set written
    here whose corpus repeats texts under different ids, so scores tie
    exactly and only the corpus-id tie-break decides the ranking.

Writes tests/data/ir/{cranfield-small.json,ties.json,refs.json}.
Run: python3 tools/gen_ir_refs.py (needs models/all-MiniLM-L6-v2 from
tools/fetch_models.sh).
"""
import json
import os

from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_QUERIES = 20
N_DISTRACTORS = 80


def load_cranfield():
    with open(os.path.join(ROOT, "data", "cranfield-ir.json"), encoding="utf-8") as f:
        return json.load(f)


def cranfield_small(d):
    qids = list(d["queries"])[:N_QUERIES]
    keep = set(list(d["corpus"])[:N_DISTRACTORS])
    for q in qids:
        keep.update(d["relevant_docs"][q])
    return {"queries": {q: d["queries"][q] for q in qids},
            "corpus": {c: t for c, t in d["corpus"].items() if c in keep},  # collection order
            "relevant_docs": {q: d["relevant_docs"][q] for q in qids}}


def ties_data():
    # Texts repeat under different ids (identical embeddings, equal scores);
    # ids are not in text order, so the tie-break by id string is visible.
    corpus = {
        "d9": "the boundary layer on a flat plate",
        "d10": "the boundary layer on a flat plate",
        "d2": "shock waves in supersonic flow",
        "d1": "shock waves in supersonic flow",
        "a": "heat transfer at high speed",
        "b": "heat transfer at high speed",
        "c7": "wing flutter and aeroelastic models",
        "c07": "wing flutter and aeroelastic models",
    }
    queries = {"q1": "boundary layer flat plate", "q2": "supersonic shock waves", "q3": "heat transfer",
               "q4": "flutter of wings", "q5": "no relevant documents here"}
    rel = {"q1": ["d9"], "q2": ["d2", "a"], "q3": ["b"], "q4": ["c7", "d10"], "q5": []}
    return {"queries": queries, "corpus": corpus, "relevant_docs": rel}


def main():
    ties = ties_data()
    ties_path = os.path.join(ROOT, "tests", "data", "ir", "ties.json")
    with open(ties_path, "w", encoding="utf-8") as f:
        json.dump(ties, f, indent=1)
        f.write("\n")
    full = load_cranfield()
    small = cranfield_small(full)
    with open(os.path.join(ROOT, "tests", "data", "ir", "cranfield-small.json"), "w", encoding="utf-8") as f:
        json.dump(small, f, ensure_ascii=False)
        f.write("\n")
    cases = []
    for model_dir, data, name, d in [
            ("models/all-MiniLM-L6-v2", "tests/data/ir/cranfield-small.json", "cranfield", small),
            ("tests/data/static/model", "data/cranfield-ir.json", "cranfield", full),
            ("tests/data/static/model", "tests/data/ir/ties.json", "ties", ties)]:
        model = SentenceTransformer(os.path.join(ROOT, model_dir), device="cpu")
        rel = {k: set(v) for k, v in d["relevant_docs"].items()}
        ev = InformationRetrievalEvaluator(d["queries"], d["corpus"], rel, name=name, batch_size=32)
        metrics = ev(model)
        cases.append({"model": model_dir, "data": data, "name": name, "primary": ev.primary_metric,
                      "similarity_fn_name": model.similarity_fn_name, "n_corpus": len(d["corpus"]),
                      "n_queries": sum(1 for q in d["queries"] if rel.get(q)),
                      "metrics": {k: float(v) for k, v in metrics.items()}})
        print(model_dir, name, len(d["corpus"]), "docs", ev.primary_metric, metrics[ev.primary_metric])
    with open(os.path.join(ROOT, "tests", "data", "ir", "refs.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
