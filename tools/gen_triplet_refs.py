#!/usr/bin/env python3
"""Reference values for sbert's TripletLoss and TripletEvaluator, written by
sentence-transformers / PyTorch themselves.

Run: python3 tools/gen_triplet_refs.py   (needs torch, sentence-transformers and
models/all-MiniLM-L6-v2 from tools/fetch_models.sh; outputs are committed).

Semantics found in the sentence-transformers source (checked against 6.2.0 with
inspect.getsource; the generator re-checks the key lines and stops if they change):

  TripletLoss(model, distance_metric=TripletDistanceMetric.EUCLIDEAN, triplet_margin=5)
    loss = mean_i relu(dist(a_i, p_i) - dist(a_i, n_i) + margin)
    TripletDistanceMetric (sentence_transformers.sentence_transformer.losses.triplet):
      EUCLIDEAN = -pairwise_euclidean_sim(x, y) = torch.linalg.vector_norm(x - y, dim=-1)
                  NO eps (older releases used F.pairwise_distance(x, y, p=2), which adds
                  eps=1e-6 to the difference; 6.x does not). Backward of the norm at
                  x == y is 0 (torch's subgradient): see the "degenerate" inputs.
      COSINE    = 1 - pairwise_cos_sim(x, y) = 1 - sum(normalize(x) * normalize(y))
                  with normalize(v) = v / max(||v||_2, 1e-12) (F.normalize, eps 1e-12;
                  a zero vector gives cos 0 and, in backward, a gradient scaled by 1/1e-12).
      MANHATTAN = -pairwise_manhattan_sim(x, y) = sum(|x - y|, dim=-1); d|t|/dt = sign(t)
                  (0 at t == 0).
    relu'(0) = 0 in torch (a hinge exactly at 0 contributes no gradient); the inputs
    here keep every hinge argument at least 1e-3 away from 0.
    get_config_dict() -> {"distance_metric": "TripletDistanceMetric.EUCLIDEAN",
                          "triplet_margin": 5}  (what the model card records)

  TripletEvaluator(anchors, positives, negatives, main_similarity_function=None,
                   margin=None, name="", batch_size=16, show_progress_bar=False,
                   write_csv=True, truncate_dim=None, similarity_fn_names=None,
                   main_distance_function="deprecated")
    * anchors are embedded with encode_query, positives/negatives with encode_document
      (no prompts on all-MiniLM-L6-v2, so = encode), float32 numpy.
    * similarity functions: "cosine" (pairwise_cos_sim), "dot" (pairwise_dot_score),
      "manhattan" (-L1 distance), "euclidean" (-L2 distance); all are similarities
      (higher = closer), computed in float32 on the float32 embeddings.
    * per function: accuracy = mean(pos_score > neg_score + margin[fn]) -- strict '>',
      and the mean is a float32 torch mean (.float().mean().item()), so e.g. 0.955 is
      stored as 0.9549999833106995.
    * margin: None -> 0 for every function; a number -> that margin for all four;
      a dict -> keys must be among cosine/dot/manhattan/euclidean, missing ones are 0.
    * which functions: similarity_fn_names if given; else [main_similarity_function] if
      given; else [model.similarity_fn_name] ("cosine" for all-MiniLM-L6-v2), decided
      at call time. main_distance_function is a deprecated alias of
      main_similarity_function (used only when the latter is None).
    * metrics keys: "<fn>_accuracy" for each function, plus "max_accuracy" (max over
      the per-function accuracies) when more than one function is evaluated; then
      every key is prefixed with "<name>_" when name != "".
    * primary_metric: "<main_similarity_function>_accuracy" if that was given, else
      "max_accuracy" with several functions, else "<fn>_accuracy"; prefixed by name.
    * CSV (when output_path is given and write_csv): file
      "triplet_evaluation_<name>_results.csv" (or "triplet_evaluation_results.csv"),
      header "epoch,steps,accuracy_<fn>..." written once, then one row per call with
      the per-function accuracies (max_accuracy is NOT in the CSV).
    * get_config_dict(): {"margin": {...}} only when some margin != 0; "truncate_dim"
      when set.

Writes
  tests/data/triplet/loss_ref.json
    {"generator", "versions": {sentence_transformers, transformers, torch},
     "semantics": {metric: text},
     "inputs": {set name: {"B", "dim", "anchor": [[..]], "positive": .., "negative": ..}}
              values are float32-representable (rounded to float32, stored as doubles),
              so the float32 and float64 cases read identical inputs.
     "cases": [{"name", "inputs" (set name), "distance_metric" ("EUCLIDEAN" | "COSINE" |
               "MANHATTAN"), "triplet_margin", "dtype" ("float64" | "float32"),
               "config": get_config_dict(), "loss", "d_pos": [B], "d_neg": [B],
               "hinge": [B] (d_pos - d_neg + margin, before relu),
               "active": [B] (hinge > 0), "grad_anchor": [[B x dim]],
               "grad_positive", "grad_negative"}]}
    float32 cases: every value computed by torch in float32 (stored as the exact
    float32 values, printed as doubles).
  tests/data/triplet/snli-dev-200.jsonl
    the first 200 rows of data/snli-triplets-dev.jsonl ({"anchor", "positive",
    "negative"}: SNLI validation premise, entailment and contradiction hypotheses).
  tests/data/triplet/evaluator_ref.json
    {"generator", "versions", "model": "models/all-MiniLM-L6-v2",
     "data": "tests/data/triplet/snli-dev-200.jsonl", "n": 200,
     "model_similarity_fn_name": "cosine",
     "scores": {fn: {"pos": [n], "neg": [n]}}  float32 similarity of each anchor to its
              positive / negative (what the evaluator compares), for all four functions,
              computed with the functions above on the encode() embeddings (truncate_dim
              None); "near_ties": {fn: [row indices where |pos - neg| < 1e-4]};
     "scores_truncate_dim_64": the same with encode(truncate_dim=64) (the first 64 dims of
              the normalized embedding, not re-normalized),
     "runs": [{"label", "kwargs" (constructor arguments besides the texts; "name" is
              "snli-dev" unless kwargs says otherwise), "metrics" (the dict returned,
              all keys, in order), "primary_metric", "config" (get_config_dict()),
              "csv_file", "csv" (text of the CSV written for output_path, or null),
              "near_ties": {fn: [rows with |pos - neg - margin| < 1e-4]} (empty lists: no
              row is within 1e-4 of flipping; not computed for truncate_dim runs)}],
     "errors": [{"kwargs", "error"}]  constructor arguments that raise, with the message}
"""
import csv
import inspect
import io
import json
import os
import shutil
import tempfile

import numpy as np
import sentence_transformers
import torch
import transformers
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator
from sentence_transformers.sentence_transformer.losses import TripletDistanceMetric, TripletLoss
from sentence_transformers.sentence_transformer.losses import triplet as triplet_module
from sentence_transformers.util import (
    pairwise_cos_sim,
    pairwise_dot_score,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
)
from sentence_transformers.util import similarity as similarity_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "triplet")
MODEL = "models/all-MiniLM-L6-v2"
DEV = os.path.join(ROOT, "data", "snli-triplets-dev.jsonl")
N_EVAL = 200
SEED = 4321
VERSIONS = {"sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__, "torch": torch.__version__}


def check_source():
    """Stop if the ST source no longer says what the header documents."""
    src = inspect.getsource(triplet_module)
    for line in ("COSINE = lambda x, y: 1 - pairwise_cos_sim(x, y)",
                 "EUCLIDEAN = lambda x, y: -pairwise_euclidean_sim(x, y)",
                 "MANHATTAN = lambda x, y: -pairwise_manhattan_sim(x, y)",
                 "losses = F.relu(distance_pos - distance_neg + self.triplet_margin)",
                 "return losses.mean()"):
        assert line in src, "TripletLoss changed: " + line
    src = inspect.getsource(similarity_module.pairwise_euclidean_sim)
    assert "torch.linalg.vector_norm(diff, dim=-1)" in src, "pairwise_euclidean_sim changed"
    src = inspect.getsource(similarity_module.pairwise_cos_sim)
    assert "pairwise_dot_score(normalize_embeddings(a), normalize_embeddings(b))" in src
    from sentence_transformers.util import tensor as tensor_module
    assert "torch.nn.functional.normalize(embeddings, p=2, dim=-1)" in inspect.getsource(
        tensor_module.normalize_embeddings)
    src = inspect.getsource(TripletEvaluator.__call__)
    assert "(positive_scores > negative_scores + self.margin[fn_name]).float().mean().item()" in src


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def loss_inputs():
    rng = np.random.default_rng(SEED)
    B, D = 6, 8
    a = rng.normal(size=(B, D))
    sp = np.array([0.2, 0.6, 1.0, 1.5, 0.4, 2.0])[:, None]
    sn = np.array([3.0, 1.5, 1.0, 0.5, 0.8, 0.3])[:, None]
    main = {"B": B, "dim": D, "anchor": f32(a), "positive": f32(a + sp * rng.normal(size=(B, D))),
            "negative": f32(a + sn * rng.normal(size=(B, D)))}
    # degenerate rows: positive == anchor, negative == anchor, zero anchor
    a2 = f32(rng.normal(size=(3, D)))
    p2 = f32(a2 + 0.3 * rng.normal(size=(3, D)))
    n2 = f32(a2 + 0.3 * rng.normal(size=(3, D)))
    p2[0] = a2[0]
    n2[1] = a2[1]
    a2[2] = 0.0
    deg = {"B": 3, "dim": D, "anchor": a2, "positive": p2, "negative": n2}
    return {"main": main, "degenerate": deg}


def loss_case(name, set_name, inp, metric_name, margin, dtype):
    metric = getattr(TripletDistanceMetric, metric_name)
    loss_fn = TripletLoss(None, distance_metric=metric, triplet_margin=margin)
    ts = [torch.tensor(inp[k], dtype=dtype, requires_grad=True) for k in ("anchor", "positive", "negative")]
    value = loss_fn.compute_loss_from_embeddings(ts, None)
    value.backward()
    with torch.no_grad():
        d_pos = metric(ts[0], ts[1])
        d_neg = metric(ts[0], ts[2])
        hinge = d_pos - d_neg + margin
    if set_name == "main":
        assert float(hinge.abs().min()) > 1e-3, (name, hinge)
    return {"name": name, "inputs": set_name, "distance_metric": metric_name, "triplet_margin": margin,
            "dtype": str(dtype).replace("torch.", ""), "config": loss_fn.get_config_dict(),
            "loss": value.item(), "d_pos": d_pos.double().tolist(), "d_neg": d_neg.double().tolist(),
            "hinge": hinge.double().tolist(), "active": (hinge > 0).tolist(),
            "grad_anchor": ts[0].grad.double().tolist(), "grad_positive": ts[1].grad.double().tolist(),
            "grad_negative": ts[2].grad.double().tolist()}


def gen_loss():
    inputs = loss_inputs()
    margins = {"EUCLIDEAN": [5, 1.0], "COSINE": [5, 0.5, 0.2], "MANHATTAN": [5, 2.0]}
    cases = []
    for metric, ms in margins.items():
        for m in ms:
            for dtype in (torch.float64, torch.float32):
                for set_name in ("main", "degenerate"):
                    if set_name == "degenerate" and m != 5:
                        continue
                    name = f"{metric.lower()}_m{m:g}_{set_name}_{str(dtype).replace('torch.', '')}"
                    cases.append(loss_case(name, set_name, inputs[set_name], metric, m, dtype))
    for c in cases:
        if c["inputs"] == "main" and c["dtype"] == "float64":
            print(f"  {c['name']}: loss {c['loss']:.6f}, active {sum(c['active'])}/{len(c['active'])}")
    semantics = {
        "EUCLIDEAN": "torch.linalg.vector_norm(x - y, dim=-1) (no eps); grad at x == y is 0",
        "COSINE": "1 - sum(x/max(||x||,1e-12) * y/max(||y||,1e-12), -1)",
        "MANHATTAN": "sum(|x - y|, -1); sign(0) = 0",
        "loss": "mean over rows of relu(d(a,p) - d(a,n) + triplet_margin); relu'(0) = 0",
    }
    out = {"generator": "tools/gen_triplet_refs.py", "versions": VERSIONS, "semantics": semantics,
           "inputs": {k: {kk: (vv.tolist() if isinstance(vv, np.ndarray) else vv) for kk, vv in v.items()}
                      for k, v in inputs.items()},
           "cases": cases}
    write_json(os.path.join(OUT, "loss_ref.json"), out)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("wrote", os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")


def gen_evaluator():
    with open(DEV, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f][:N_EVAL]
    data_path = os.path.join(OUT, f"snli-dev-{N_EVAL}.jsonl")
    with open(data_path + ".tmp", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"anchor": r["anchor"], "positive": r["positive"], "negative": r["negative"]},
                               ensure_ascii=False) + "\n")
    os.replace(data_path + ".tmp", data_path)
    anchors = [r["anchor"] for r in rows]
    positives = [r["positive"] for r in rows]
    negatives = [r["negative"] for r in rows]

    model = SentenceTransformer(os.path.join(ROOT, MODEL), device="cpu")
    fns = {"cosine": pairwise_cos_sim, "dot": pairwise_dot_score,
           "manhattan": pairwise_manhattan_sim, "euclidean": pairwise_euclidean_sim}

    def score_all(truncate_dim):
        ea, ep, en = (model.encode(t, batch_size=16, convert_to_numpy=True, truncate_dim=truncate_dim)
                      for t in (anchors, positives, negatives))
        sc, nr = {}, {}
        for k, fn in fns.items():
            pos, neg = fn(ea, ep), fn(ea, en)
            sc[k] = {"pos": pos.double().tolist(), "neg": neg.double().tolist()}
            nr[k] = [i for i in range(len(rows)) if abs(float(pos[i]) - float(neg[i])) < 1e-4]
        return sc, nr

    scores, near = score_all(None)
    scores64, _ = score_all(64)

    all4 = ["cosine", "dot", "euclidean", "manhattan"]
    runs_spec = [
        ("default", {}),
        ("main_distance_function_none", {"main_distance_function": None}),
        ("all_functions", {"similarity_fn_names": all4}),
        ("main_cosine", {"main_similarity_function": "cosine"}),
        ("main_dot", {"main_similarity_function": "dot"}),
        ("main_euclidean", {"main_similarity_function": "euclidean"}),
        ("main_manhattan", {"main_similarity_function": "manhattan"}),
        ("main_dot_all_functions", {"main_similarity_function": "dot", "similarity_fn_names": all4}),
        ("margin_0.1_all_functions", {"margin": 0.1, "similarity_fn_names": all4}),
        ("margin_dict_all_functions", {"margin": {"cosine": 0.05, "dot": 0.1, "euclidean": 0.1},
                                       "similarity_fn_names": all4}),
        ("margin_0.2_default", {"margin": 0.2}),
        ("truncate_dim_64_all_functions", {"truncate_dim": 64, "similarity_fn_names": all4}),
        ("no_name", {"name": ""}),
    ]
    runs = []
    for label, kwargs in runs_spec:
        kw = {"name": "snli-dev", **kwargs}
        ev = TripletEvaluator(anchors, positives, negatives, **kw)
        tmp = tempfile.mkdtemp(prefix="sbert_triplet_")
        try:
            metrics = ev(model, output_path=tmp)
            csv_text = None
            p = os.path.join(tmp, ev.csv_file)
            if os.path.exists(p):
                with open(p, encoding="utf-8") as f:
                    csv_text = f.read()
        finally:
            shutil.rmtree(tmp)
        margin = kwargs.get("margin", 0)
        ties = {}
        if "truncate_dim" not in kwargs:
            for fn in ev.similarity_fn_names:
                mg = margin.get(fn, 0) if isinstance(margin, dict) else margin
                d = np.array(scores[fn]["pos"]) - np.array(scores[fn]["neg"]) - mg
                ties[fn] = [int(i) for i in np.nonzero(np.abs(d) < 1e-4)[0]]
        runs.append({"label": label, "kwargs": kwargs, "metrics": {k: float(v) for k, v in metrics.items()},
                     "primary_metric": ev.primary_metric, "config": ev.get_config_dict(),
                     "csv_file": ev.csv_file, "csv": csv_text, "near_ties": ties})
        print(f"  {label}: {metrics} primary {ev.primary_metric}")

    # Sanity: the recorded scores reproduce the accuracies of the untruncated runs.
    for r in runs:
        sc = scores64 if r["kwargs"].get("truncate_dim") == 64 else scores
        margin = r["kwargs"].get("margin", 0)
        for key, val in r["metrics"].items():
            fn = key[:-len("_accuracy")].split("_")[-1]
            if fn not in fns:
                continue
            mg = margin.get(fn, 0) if isinstance(margin, dict) else margin
            pos = torch.tensor(sc[fn]["pos"], dtype=torch.float32)
            neg = torch.tensor(sc[fn]["neg"], dtype=torch.float32)
            acc = (pos > neg + mg).float().mean().item()
            assert acc == val, (r["label"], key, acc, val)

    errors = []
    for kwargs in ({"similarity_fn_names": ["cosine", "maxsim"]}, {"margin": {"cos": 0.1}},
                   {"margin": "0.1"}, {"main_similarity_function": "angle"}):
        try:
            TripletEvaluator(anchors[:2], positives[:2], negatives[:2], **kwargs)
            errors.append({"kwargs": kwargs, "error": None})
        except Exception as e:  # noqa: BLE001 -- the message is the reference
            errors.append({"kwargs": kwargs, "error": f"{type(e).__name__}: {e}"})
    out = {"generator": "tools/gen_triplet_refs.py", "versions": VERSIONS, "model": MODEL,
           "data": os.path.relpath(data_path, ROOT), "n": len(rows),
           "model_similarity_fn_name": model.similarity_fn_name,
           "scores": scores, "near_ties": near, "scores_truncate_dim_64": scores64,
           "runs": runs, "errors": errors}
    write_json(os.path.join(OUT, "evaluator_ref.json"), out)


def main():
    torch.manual_seed(SEED)
    check_source()
    gen_loss()
    gen_evaluator()


if __name__ == "__main__":
    main()
