#!/usr/bin/env python3
"""tools/gen_sparse_eval_refs.py -- reference values, written by sentence-transformers 6.2.0 itself, for
the SparseEncoder pieces added after tools/gen_sparse_refs.py: SpladeLoss around SparseMSELoss and
SparseDistillKLDivLoss, and the evaluators SparseRerankingEvaluator, SparseBinaryClassificationEvaluator,
SparseMSEEvaluator, SparseNanoBEIREvaluator and ReciprocalRankFusionEvaluator.

Run from the repository root:  python3 tools/gen_sparse_eval_refs.py [part ...]
  parts: losses evals (default: both)
Needs what tools/gen_sparse_refs.py needs (tests/data/models/tiny-bert and tests/data/sparse/tiny-bert);
it reuses that script's model assembly (tiny_sparse_model).

losses -> tests/data/sparse/distill_losses.json: small non-negative float64 embeddings (float32-representable),
  SpladeLoss(SparseMSELoss) and SpladeLoss(SparseDistillKLDivLoss) with FLOPS weights, value and gradients by
  autograd. SparseMSELoss gets its teacher embeddings the way EmbedDistillLoss.forward reads a label column:
  [B, D] is the same target for every column, [B, N, D] one per column. (SpladeLoss.forward in 6.2.0 hands the
  raw label tensor to compute_loss_from_embeddings, which zips columns with label ROWS; that value is recorded
  as "python_splade_forward" to document the difference, and is not what sbert computes.)

evals -> tests/data/sparse/evals_more.json: the evaluators on the tiny-bert SPLADE model (max, relu) of
  gen_sparse_refs.py, on data already in tests/data (bienc/eval: rerank.jsonl, binary.jsonl, mse_pairs.jsonl,
  nano/), and tests/data/sparse/rrf.json (rankings written here from a seeded generator).
"""
import json
import os
import random
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_sparse_refs as G  # noqa: E402

ROOT = G.ROOT
OUT = G.OUT
EV = os.path.join(ROOT, "tests", "data", "bienc", "eval")


def part_losses():
    from sentence_transformers import util
    from sentence_transformers.sparse_encoder import losses as L

    g = torch.Generator().manual_seed(29)
    B, D = 4, 24

    def emb(b=B, d=D):
        x = torch.relu(torch.randn(b, d, generator=g, dtype=torch.float64) + 0.2)
        return x.to(torch.float32).to(torch.float64)

    def labels(*shape, lo=0.0, hi=1.0):
        x = lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=torch.float64)
        return x.to(torch.float32).to(torch.float64)

    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        model, _ = G.tiny_sparse_model(tmp)

        def run(name, splade, cols, lab, teacher_list, extra):
            cols = [c.clone().requires_grad_() for c in cols]
            base_lab = teacher_list if teacher_list is not None else lab
            base = splade.loss.compute_loss_from_embeddings(cols, base_lab)
            out = {"base_loss": base}
            docs = torch.cat(cols) if splade.use_document_regularizer_only else torch.cat(cols[1:])
            out["document_regularizer_loss"] = splade.document_regularizer.compute_loss_from_embeddings(docs) * \
                splade.document_regularizer_weight
            if splade.query_regularizer_weight is not None and not splade.use_document_regularizer_only:
                out["query_regularizer_loss"] = splade.query_regularizer.compute_loss_from_embeddings(cols[0]) * \
                    splade.query_regularizer_weight
            total = sum(out.values())
            total.backward()
            case = {"name": name, **extra, "B": B, "dim": cols[0].shape[1],
                    "cols": [c.detach().flatten().tolist() for c in cols],
                    "labels": lab.flatten().tolist(), "label_width": int(lab[0].numel()),
                    "loss": float(total), "parts": {k: float(v) for k, v in out.items()},
                    "grads": [c.grad.flatten().tolist() for c in cols]}
            if teacher_list is not None:
                import warnings
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        raw = float(splade.loss.compute_loss_from_embeddings([c.detach() for c in cols], lab))
                except RuntimeError as e:  # [B, N, D] labels: rows of [N, D] do not broadcast to [B, D]
                    raw = f"error: {e}"
                case["python_splade_forward_base_loss"] = raw
            cases.append(case)

        q, p, n1, n2 = emb(), emb(), emb(), emb()
        wd, wq = 3e-2, 5e-2
        t = emb()
        run("splade-mse-broadcast",
            L.SpladeLoss(model, L.SparseMSELoss(model), document_regularizer_weight=wd, query_regularizer_weight=wq),
            [q, p], t, [t, t], {"base": "SparseMSELoss", "w_d": wd, "w_q": wq})
        t3 = torch.stack([emb(), emb()], dim=1)  # [B, 2, D]
        run("splade-mse-per-column",
            L.SpladeLoss(model, L.SparseMSELoss(model), document_regularizer_weight=wd, query_regularizer_weight=wq),
            [q, p], t3, [t3[:, 0], t3[:, 1]], {"base": "SparseMSELoss", "w_d": wd, "w_q": wq})
        t1 = emb()
        run("splade-mse-one-column-doc-only",
            L.SpladeLoss(model, L.SparseMSELoss(model), document_regularizer_weight=wd,
                         use_document_regularizer_only=True),
            [q], t1, [t1], {"base": "SparseMSELoss", "w_d": wd, "w_q": 0, "doc_only": True})
        run("splade-distill-kl",
            L.SpladeLoss(model, L.SparseDistillKLDivLoss(model), document_regularizer_weight=wd,
                         query_regularizer_weight=wq),
            [q, p, n1, n2], labels(B, 3, lo=0, hi=10), None, {"base": "SparseDistillKLDivLoss", "w_d": wd, "w_q": wq})
        run("splade-distill-kl-cos-temps",
            L.SpladeLoss(model, L.SparseDistillKLDivLoss(model, similarity_fct=util.pairwise_cos_sim, temperature=1.5,
                                                         student_temperature=3.0, teacher_temperature=0.5),
                         document_regularizer_weight=wd, query_regularizer_weight=wq),
            [q, p, n1], labels(B, 2, lo=0, hi=3), None,
            {"base": "SparseDistillKLDivLoss", "w_d": wd, "w_q": wq, "similarity_fct": "pairwise_cos_sim",
             "temperature": 1.5, "student_temperature": 3.0, "teacher_temperature": 0.5})
    G.dump(os.path.join(OUT, "distill_losses.json"),
           {"generator": "tools/gen_sparse_eval_refs.py", "versions": G.versions(), "cases": cases})
    print(f"  {len(cases)} cases")


def metrics_of(m):
    return [[k, float(v)] for k, v in m.items()]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def make_rrf(path):
    """Seeded first-stage rankings for ReciprocalRankFusionEvaluator from the SNLI nano collection."""
    with open(os.path.join(EV, "nano", "snli.json")) as f:
        ir = json.load(f)
    rng = random.Random(7)
    cids = list(ir["corpus"])
    dense, sparse = [], []
    for i, (qid, rel) in enumerate(list(ir["relevant_docs"].items())[:40]):
        pos = [ir["corpus"][c] for c in rel]
        pool = [c for c in cids if c not in rel]

        def ranking():
            docs = rng.sample(pool, 12)
            for c in rel:
                if rng.random() < 0.7:
                    docs.insert(rng.randrange(0, 10), c)
            return [ir["corpus"][c] for c in docs]

        d, s = ranking(), ranking()
        if i % 9 == 4:
            s = s[len(s) // 2:] + s[:len(s) // 2]  # some shared documents at different ranks
        dense.append({"query_id": qid, "query": ir["queries"][qid], "positive": pos if i % 5 else pos[0],
                      "documents": d})
        sparse.append({"query_id": qid, "query": ir["queries"][qid], "positive": pos if i % 5 else pos[0],
                       "documents": s})
    G.dump(path, {"dense_samples": dense, "sparse_samples": sparse})
    return dense, sparse


def part_evals():
    from sentence_transformers.sparse_encoder.evaluation import (ReciprocalRankFusionEvaluator,
                                                                 SparseBinaryClassificationEvaluator,
                                                                 SparseMSEEvaluator, SparseNanoBEIREvaluator,
                                                                 SparseRerankingEvaluator)

    out = {"generator": "tools/gen_sparse_eval_refs.py", "versions": G.versions(),
           "model": "tiny-bert legacy max relu (tools/gen_sparse_refs.py tiny_sparse_model)"}
    with tempfile.TemporaryDirectory() as tmp:
        model, _ = G.tiny_sparse_model(tmp)

        # reranking
        samples = read_jsonl(os.path.join(EV, "rerank.jsonl"))
        ev = SparseRerankingEvaluator(samples, name="rerank", batch_size=8)
        out["reranking"] = {"data": "tests/data/bienc/eval/rerank.jsonl", "name": "rerank", "options": "",
                            "metrics": metrics_of(ev(model)), "primary": ev.primary_metric}
        ev = SparseRerankingEvaluator(samples, name="rerank-k5-16", at_k=5, max_active_dims=16, batch_size=8)
        out["reranking_opts"] = {"data": "tests/data/bienc/eval/rerank.jsonl", "name": "rerank-k5-16",
                                 "options": "at_k=5, max_active_dims=16",
                                 "metrics": metrics_of(ev(model)), "primary": ev.primary_metric}

        # binary classification
        rows = read_jsonl(os.path.join(EV, "binary.jsonl"))
        s1, s2, lab = [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [int(r["label"]) for r in rows]
        ev = SparseBinaryClassificationEvaluator(s1, s2, lab, name="snli-bin")
        m = ev(model)
        out["binary"] = {"data": "tests/data/bienc/eval/binary.jsonl", "name": "snli-bin", "options": "",
                         "metrics": metrics_of(m), "primary": ev.primary_metric}
        ev = SparseBinaryClassificationEvaluator(s1, s2, lab, name="snli-bin-all",
                                                 similarity_fn_names=["cosine", "dot", "euclidean", "manhattan"],
                                                 max_active_dims=32)
        m = ev(model)
        out["binary_opts"] = {"data": "tests/data/bienc/eval/binary.jsonl", "name": "snli-bin-all",
                              "options": "similarity_fn_names=[cosine, dot, euclidean, manhattan], max_active_dims=32",
                              "metrics": metrics_of(m), "primary": ev.primary_metric}

        # MSE against a SparseEncoder teacher (the same MLM with sum / log1p_relu pooling)
        teacher, _ = G.tiny_sparse_model(tmp, "sum", "log1p_relu")
        rows = read_jsonl(os.path.join(EV, "mse_pairs.jsonl"))
        src, trg = [r["source"] for r in rows], [r["target"] for r in rows]
        ev = SparseMSEEvaluator(src, trg, teacher_model=teacher, name="mse-sum")
        out["mse"] = {"data": "tests/data/bienc/eval/mse_pairs.jsonl", "name": "mse-sum",
                      "teacher": "tiny-bert legacy sum log1p_relu", "options": "",
                      "metrics": metrics_of(ev(model)), "primary": ev.primary_metric}
        ev = SparseMSEEvaluator(src, trg, teacher_model=teacher, name="mse-sum-24", max_active_dims=24)
        out["mse_opts"] = {"data": "tests/data/bienc/eval/mse_pairs.jsonl", "name": "mse-sum-24",
                           "teacher": "tiny-bert legacy sum log1p_relu", "options": "max_active_dims=24",
                           "metrics": metrics_of(ev(model)), "primary": ev.primary_metric}

        # NanoBEIR over the two local collections of tests/data/bienc/eval/nano (named by file, in name order)
        files = {"msmarco": "cranfield-small", "nfcorpus": "snli"}

        class LocalNano(SparseNanoBEIREvaluator):
            def _get_human_readable_name(self, dataset_name):
                n = files[dataset_name]
                return n + (f"_{self.max_active_dims}" if self.max_active_dims is not None else "")

            def _load_dataset_subset_split(self, subset, split, required_columns):
                raise AssertionError("not used")

            def _load_dataset(self, dataset_name, **kw):
                with open(os.path.join(EV, "nano", files[dataset_name] + ".json")) as f:
                    ir = json.load(f)
                kw["max_active_dims"] = self.max_active_dims
                kw.pop("truncate_dim", None)
                return self.information_retrieval_class(
                    queries=ir["queries"], corpus=ir["corpus"],
                    relevant_docs={k: set(v) for k, v in ir["relevant_docs"].items()},
                    name=self._get_human_readable_name(dataset_name), **kw)

        ev = LocalNano(dataset_names=list(files), batch_size=8)
        out["nano"] = {"data": "tests/data/bienc/eval/nano", "name": "", "options": "",
                       "metrics": metrics_of(ev(model)), "primary": ev.primary_metric}

        # Reciprocal rank fusion of two first-stage rankings (no model)
        rrf_path = os.path.join(OUT, "rrf.json")
        dense, sparse = make_rrf(rrf_path)
        ev = ReciprocalRankFusionEvaluator(dense, sparse, name="rrf")
        out["rrf"] = {"data": "tests/data/sparse/rrf.json", "name": "rrf", "options": "",
                      "metrics": metrics_of(ev()), "primary": ev.primary_metric}
        ev = ReciprocalRankFusionEvaluator(dense, sparse, name="rrf-k5", at_k=5, rrf_k=10)
        out["rrf_opts"] = {"data": "tests/data/sparse/rrf.json", "name": "rrf-k5", "options": "at_k=5, rrf_k=10",
                           "metrics": metrics_of(ev()), "primary": ev.primary_metric}
    G.dump(os.path.join(OUT, "evals_more.json"), out)
    for k, v in out.items():
        if isinstance(v, dict) and "metrics" in v:
            print(f"  {k}: {len(v['metrics'])} metrics, primary {v['primary']}")


PARTS = {"losses": part_losses, "evals": part_evals}


def main():
    torch.set_num_threads(2)
    for n in sys.argv[1:] or list(PARTS):
        print(f"== {n}", flush=True)
        PARTS[n]()


if __name__ == "__main__":
    main()
