#!/usr/bin/env python3
"""tools/gen_bienc_eval_refs.py -- references for the evaluators of issue 10
(tests/test_bienc_eval.c), written by sentence-transformers 6.2.0 with
models/all-MiniLM-L6-v2 on bundled / shared data.

For each evaluator the data file, the embeddings sentence-transformers computed
(float32 .npy, so the C test scores the very same vectors), and the metrics
its evaluator returned, under tests/data/bienc/eval/:
  binary.jsonl        120 SNLI dev pairs (premise, hypothesis, label 1 entailment / 0 contradiction)
                      BinaryClassificationEvaluator with all four functions and with the model's
  rerank.jsonl        60 samples {query: premise, positive: [entailed], negative: [contradiction, two
                      other premises' entailed hypotheses]}: RerankingEvaluator (at_k 10 and 3)
  paraphrase.json     {"sentences_map", "duplicates_list"}: 100 distinct premises and their entailed
                      hypotheses, duplicates (premise_i, hypothesis_i) plus (hypothesis_i, hypothesis_i+1)
                      for i % 10 == 0: ParaphraseMiningEvaluator (default, top_k 5 + add_transitive_closure)
  translation.jsonl   150 Tatoeba eng-deu pairs: TranslationEvaluator
  mse.jsonl           40 rows {text: German sentence, label: MiniLM embedding of its English
                      source}: MSEEvaluator(source=English, target=German, teacher=MiniLM)
  nano/               two IR collections (snli: 60 premises -> entailed hypotheses among 180; a
                      Cranfield subset: 40 queries, their relevant abstracts + 200 others):
                      NanoBEIREvaluator-style mean over InformationRetrievalEvaluator runs
  truncate_dim        EmbeddingSimilarityEvaluator on 200 STS-B dev pairs at truncate_dim 64
  ref.json            {"versions", "cases": {case: {"metrics": {...}, "primary_metric", ...}}}
  *.npy               the embeddings of each case (rows in the order ref.json describes)
Run: /work/venv/bin/python tools/gen_bienc_eval_refs.py
"""
import json
import os
import random

import numpy as np
import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer import evaluation as E
from sentence_transformers.util import cos_sim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "bienc", "eval")
MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")


def jl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def wjl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def npy(name, arr):
    np.save(os.path.join(OUT, name), np.asarray(arr, dtype=np.float32))


def main():
    os.makedirs(os.path.join(OUT, "nano"), exist_ok=True)
    torch.set_num_threads(2)
    model = SentenceTransformer(MODEL, device="cpu")
    enc = lambda texts: model.encode(texts, batch_size=32, convert_to_numpy=True)
    cases = {}
    snli = jl(os.path.join(ROOT, "data", "snli-triplets-dev.jsonl"))

    # BinaryClassificationEvaluator
    rows = []
    for t in snli[:60]:
        rows.append({"sentence1": t["anchor"], "sentence2": t["positive"], "label": 1})
        rows.append({"sentence1": t["anchor"], "sentence2": t["negative"], "label": 0})
    wjl(os.path.join(OUT, "binary.jsonl"), rows)
    s1, s2, lab = [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [r["label"] for r in rows]
    npy("binary_e1.npy", enc(s1))
    npy("binary_e2.npy", enc(s2))
    for fns in (None, ["cosine", "dot", "euclidean", "manhattan"]):
        ev = E.BinaryClassificationEvaluator(s1, s2, lab, name="snli", similarity_fn_names=fns)
        m = ev(model)
        cases["binary" + ("_all" if fns else "")] = {"metrics": m, "primary_metric": ev.primary_metric}

    # RerankingEvaluator
    samples = []
    for i, t in enumerate(snli[100:160]):
        samples.append({"query": t["anchor"], "positive": [t["positive"]],
                        "negative": [t["negative"], snli[100 + (i + 7) % 60]["positive"],
                                     snli[100 + (i + 13) % 60]["positive"]]})
    wjl(os.path.join(OUT, "rerank.jsonl"), samples)
    npy("rerank_q.npy", model.encode_query([s["query"] for s in samples], batch_size=32, convert_to_numpy=True))
    docs = [d for s in samples for d in s["positive"] + s["negative"]]
    npy("rerank_docs.npy", model.encode_document(docs, batch_size=32, convert_to_numpy=True))
    for k in (10, 3):
        ev = E.RerankingEvaluator(samples, at_k=k, name="snli-rerank", batch_size=32)
        cases[f"rerank_{k}"] = {"metrics": ev(model), "primary_metric": ev.primary_metric}

    # ParaphraseMiningEvaluator
    smap, dups, seen = {}, [], set()
    uniq = []
    for t in snli[200:]:  # one triplet per premise: equal texts would tie exactly and make top_k order arbitrary
        if t["anchor"] not in seen and t["positive"] not in seen:
            seen.update([t["anchor"], t["positive"]])
            uniq.append(t)
        if len(uniq) == 100:
            break
    for i, t in enumerate(uniq):
        smap[f"p{i}"] = t["anchor"]
        smap[f"h{i}"] = t["positive"]
        dups.append([f"p{i}", f"h{i}"])
        if i % 10 == 0:
            dups.append([f"h{i}", f"h{i + 1}"])
    with open(os.path.join(OUT, "paraphrase.json"), "w", encoding="utf-8") as f:
        json.dump({"sentences_map": smap, "duplicates_list": dups}, f, ensure_ascii=False)
    npy("paraphrase.npy", model.encode(list(smap.values()), batch_size=16, convert_to_numpy=True))
    ev = E.ParaphraseMiningEvaluator(smap, duplicates_list=dups, name="pm")
    cases["paraphrase"] = {"metrics": ev(model), "primary_metric": ev.primary_metric}
    ev = E.ParaphraseMiningEvaluator(smap, duplicates_list=dups, name="pm5", top_k=5, add_transitive_closure=True)
    cases["paraphrase_top5_closure"] = {"metrics": ev(model), "primary_metric": ev.primary_metric}

    # TranslationEvaluator and MSEEvaluator on Tatoeba eng-deu
    tdir = "/work/shared/data/tatoeba-laser"
    with open(os.path.join(tdir, "tatoeba.deu-eng.eng"), encoding="utf-8") as f:
        eng = [l.rstrip("\n") for l in f]
    with open(os.path.join(tdir, "tatoeba.deu-eng.deu"), encoding="utf-8") as f:
        deu = [l.rstrip("\n") for l in f]
    src, trg = eng[:150], deu[:150]
    wjl(os.path.join(OUT, "translation.jsonl"), [{"source": a, "target": b} for a, b in zip(src, trg)])
    npy("translation_src.npy", model.encode(src, batch_size=16, convert_to_numpy=True))
    npy("translation_trg.npy", model.encode(trg, batch_size=16, convert_to_numpy=True))
    ev = E.TranslationEvaluator(src, trg, name="tatoeba-deu")
    cases["translation"] = {"metrics": ev(model), "primary_metric": ev.primary_metric}
    msrc, mtrg = eng[200:240], deu[200:240]
    teacher = model.encode(msrc, batch_size=32, convert_to_numpy=True)
    wjl(os.path.join(OUT, "mse.jsonl"), [{"text": t, "label": [float(x) for x in e]} for t, e in zip(mtrg, teacher)])
    npy("mse_student.npy", model.encode(mtrg, batch_size=32, convert_to_numpy=True))
    ev = E.MSEEvaluator(msrc, mtrg, teacher_model=model, name="mse-deu")
    cases["mse"] = {"metrics": ev(model), "primary_metric": ev.primary_metric}
    with open(os.path.join(OUT, "mse_pairs.jsonl"), "w", encoding="utf-8") as f:
        for a, b in zip(msrc, mtrg):
            f.write(json.dumps({"source": a, "target": b}, ensure_ascii=False) + "\n")

    # NanoBEIR-style over two local collections
    ir_snli = {"queries": {}, "corpus": {}, "relevant_docs": {}}
    for i, t in enumerate(snli[300:360]):
        ir_snli["queries"][f"q{i}"] = t["anchor"]
        ir_snli["corpus"][f"d{i}p"] = t["positive"]
        ir_snli["corpus"][f"d{i}n"] = t["negative"]
        ir_snli["relevant_docs"][f"q{i}"] = [f"d{i}p"]
    for i, t in enumerate(snli[360:420]):
        ir_snli["corpus"][f"x{i}"] = t["positive"]
    with open(os.path.join(ROOT, "data", "cranfield-ir.json"), encoding="utf-8") as f:
        cran = json.load(f)
    qids = list(cran["queries"])[:40]
    keep = []
    for q in qids:
        keep.extend(cran["relevant_docs"][q])
    keep = list(dict.fromkeys(keep))
    others = [c for c in cran["corpus"] if c not in set(keep)][:200]
    ir_cran = {"queries": {q: cran["queries"][q] for q in qids},
               "corpus": {c: cran["corpus"][c] for c in keep + others},
               "relevant_docs": {q: cran["relevant_docs"][q] for q in qids}}
    for nm, ir in (("snli", ir_snli), ("cranfield-small", ir_cran)):
        with open(os.path.join(OUT, "nano", nm + ".json"), "w", encoding="utf-8") as f:
            json.dump(ir, f, ensure_ascii=False)
    # sentence-transformers' NanoBEIREvaluator wired to the local collections (its Hub loader replaced)
    evs = []
    for nm in ("cranfield-small", "snli"):  # name order, as the C evaluator reads a directory
        ir = {"snli": ir_snli, "cranfield-small": ir_cran}[nm]
        evs.append(E.InformationRetrievalEvaluator(ir["queries"], ir["corpus"],
                                                   {q: set(v) for q, v in ir["relevant_docs"].items()}, name=nm,
                                                   batch_size=32))
    nano = E.NanoBEIREvaluator.__new__(E.NanoBEIREvaluator)
    sentence_transformers.base.evaluation.evaluator.BaseEvaluator.__init__(nano)
    nano.evaluators, nano.dataset_names = evs, ["cranfield-small", "snli"]
    nano.aggregate_fn, nano.aggregate_key, nano.write_csv = np.mean, "mean", False
    nano.score_functions, nano.score_function_names, nano._score_functions_from_model = None, [], True
    nano.main_score_function, nano.truncate_dim, nano.name = None, None, "NanoBEIR_mean"
    nano.mrr_at_k, nano.ndcg_at_k, nano.accuracy_at_k = [10], [10], [1, 3, 5, 10]
    nano.precision_recall_at_k, nano.map_at_k, nano.show_progress_bar = [1, 3, 5, 10], [100], False
    nano.csv_headers, nano.csv_file = ["epoch", "steps"], "x.csv"
    cases["nano"] = {"metrics": nano(model), "primary_metric": nano.primary_metric}

    # truncate_dim on a dense evaluator
    sts = jl(os.path.join(ROOT, "data", "stsb-dev.jsonl"))[:200]
    wjl(os.path.join(OUT, "stsb-200.jsonl"), sts)
    ev = E.EmbeddingSimilarityEvaluator([r["sentence1"] for r in sts], [r["sentence2"] for r in sts],
                                        [r["score"] for r in sts], name="sts-64", truncate_dim=64)
    cases["sts_truncate_64"] = {"metrics": ev(model), "primary_metric": ev.primary_metric}
    ev = E.BinaryClassificationEvaluator(s1, s2, lab, name="snli-32", truncate_dim=32)
    cases["binary_truncate_32"] = {"metrics": ev(model), "primary_metric": ev.primary_metric}

    # LabelAccuracyEvaluator with a SoftmaxLoss classifier (seeded, saved as .npy)
    from torch.utils.data import DataLoader
    from sentence_transformers.sentence_transformer.losses import SoftmaxLoss
    from sentence_transformers.readers import InputExample
    torch.manual_seed(7)
    sm = SoftmaxLoss(model, embedding_dimension=384, num_labels=3)
    with torch.no_grad():
        sm.classifier.weight.mul_(40.0)  # a classifier that is not uniformly wrong
    npy("label_accuracy_weight.npy", sm.classifier.weight.detach().numpy())
    npy("label_accuracy_bias.npy", sm.classifier.bias.detach().numpy().reshape(1, -1))
    la_rows = []
    for t in snli[400:460]:
        la_rows.append({"premise": t["anchor"], "hypothesis": t["positive"], "label": 0})
        la_rows.append({"premise": t["anchor"], "hypothesis": t["negative"], "label": 2})
    wjl(os.path.join(OUT, "label_accuracy.jsonl"), la_rows)
    dl = DataLoader([InputExample(texts=[r["premise"], r["hypothesis"]], label=r["label"]) for r in la_rows],
                    batch_size=16, shuffle=False)
    ev = E.LabelAccuracyEvaluator(dl, name="snli-la", softmax_model=sm)
    cases["label_accuracy"] = {"metrics": ev(model), "primary_metric": ev.primary_metric}

    with open(os.path.join(OUT, "ref.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/gen_bienc_eval_refs.py", "model": "models/all-MiniLM-L6-v2",
                   "versions": {"sentence_transformers": sentence_transformers.__version__,
                                "torch": torch.__version__},
                   "cases": cases}, f, indent=1)
    for k, v in cases.items():
        print(k, v["primary_metric"], v["metrics"][v["primary_metric"]])


if __name__ == "__main__":
    main()
