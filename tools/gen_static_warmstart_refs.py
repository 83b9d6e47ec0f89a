#!/usr/bin/env python3
"""Reference values for the StaticEmbedding warm start (src/modules/static_warmstart.c):
StaticEmbedding.from_distillation and StaticEmbedding.from_model2vec of
sentence-transformers 6.2 (which call model2vec).

Run: /work/venv/bin/python tools/gen_static_warmstart_refs.py  (needs torch,
sentence-transformers, numpy, safetensors and the model2vec package; outputs are
committed under tests/data/static_warmstart/).

model2vec 0.10.0 pins transformers < 5.4 and tokenizers 0.22, which would
downgrade the environment, so it is not installed: put its wheel and
skeletoken's unpacked in a side folder and point M2V_SITE at it
  pip download --no-deps model2vec==0.10.0 skeletoken==0.6.1 -d /tmp/m2v
  (cd /tmp/m2v && mkdir -p site && cd site && unzip -o ../model2vec-*.whl && unzip -o ../skeletoken-*.whl)
  M2V_SITE=/tmp/m2v/site /work/venv/bin/python tools/gen_static_warmstart_refs.py
from_distillation passes apply_zipf / use_subword, which model2vec 0.10's distill
does not take: sentence-transformers warns and drops them (the semantics are
model2vec's: SIF weighting by Zipf rank is `sif_coefficient`).

Writes tests/data/static_warmstart/
  refs.json  {"versions", "distill": [{"teacher", "pca_dims", "n_tokens", "dim",
               "truncation", "sample_ids", "sample_tokens", "texts", "text_ids",
               "vectors_file", "text_emb_file", "pca_f64_max_dev"}],
              "model2vec": [{"dir", "vocab", "dim", "texts", "weights_file", "text_emb_file"}]}
  *_vectors.npy   rows of the distilled table for sample_ids (float32)
  *_text_emb.npy  SentenceTransformer(modules=[static]).encode(texts) (float32)
  m2v_quant/, m2v_plain/   two model2vec directories (small WordPiece vocabulary):
               float16 "embeddings" [64, 24] + int64 "mapping" + float64 "weights"
               (vocabulary quantization), and float32 "embeddings" only
  pca_f64_max_dev: the largest |float32 PCA - float64 PCA| over the sampled rows of
               the same token embeddings (model2vec's pipeline redone in float64):
               the noise of the reference itself, which bounds the tolerance.
"""
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "static_warmstart")
sys.path.insert(0, os.environ.get("M2V_SITE", "/tmp/m2v/site"))

TEXTS = ["A man is playing a guitar.", "The weather is lovely today!", "unbelievably quick brown foxes",
         "Hello world", "", "a", "Zürich café naïve résumé", "token-bag models average rows",
         "What is the capital of France?", "x " * 20]


def f64_pca_dev(teacher, pca_dims, sample):
    """model2vec's create_embeddings + PCA + SIF redone with a float64 PCA; the largest deviation
    from the float32 result on the sampled rows."""
    from model2vec.distill.inference import create_embeddings, compute_weights
    from model2vec.tokenizer import clean_and_create_vocabulary, turn_tokens_into_ids
    from skeletoken import TokenizerModel
    from skeletoken.external.transformers import reshape_embeddings
    from transformers import AutoModel, AutoTokenizer
    import re

    model = AutoModel.from_pretrained(teacher)
    tok = AutoTokenizer.from_pretrained(teacher, use_fast=True)
    orig = TokenizerModel.from_transformers_tokenizer(tok).prune_added_tokens()
    tm = clean_and_create_vocabulary(orig.deep_copy(), [], token_remove_regex=re.compile(r"\[unused\d+\]"))
    ids = turn_tokens_into_ids(tm.sorted_vocabulary, orig)
    model = reshape_embeddings(model, orig)
    X = create_embeddings(tokenized=ids, model=model, device="cpu", pad_token_id=orig.pad_token_id or 0)
    X64 = X.astype(np.float64)
    Xc = X64 - X64.mean(axis=0)
    w, v = np.linalg.eigh((Xc.T @ Xc) / (len(Xc) - 1))
    v = v[:, ::-1][:, :pca_dims]
    s = Xc @ v
    idx = np.argmax(np.abs(s), axis=0)
    s = s * np.sign(s[idx, range(s.shape[1])])
    s = s * compute_weights(len(s), 1e-4)[:, None]
    return s[sample]


def distill_case(name, teacher, pca_dims, n_sample, seed):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    se = StaticEmbedding.from_distillation(teacher, pca_dims=pca_dims, device="cpu")
    W = se.embedding.weight.detach().float().numpy()
    tok = se.tokenizer
    vocab = tok.get_vocab()
    inv = {i: t for t, i in vocab.items()}
    rng = np.random.default_rng(seed)
    n = W.shape[0]
    sample = sorted(set(range(0, 12)) | set(range(n - 12, n)) | set(rng.choice(n, n_sample, replace=False).tolist()))
    np.save(os.path.join(OUT, f"{name}_vectors.npy"), W[sample].astype(np.float32))
    st = SentenceTransformer(modules=[se], device="cpu")
    emb = st.encode(TEXTS, convert_to_numpy=True)
    np.save(os.path.join(OUT, f"{name}_text_emb.npy"), emb.astype(np.float32))
    dev = float(np.abs(f64_pca_dev(teacher, pca_dims, sample) - W[sample].astype(np.float64)).max())
    j = json.loads(tok.to_str())
    return {
        "name": name, "teacher": os.path.relpath(teacher, ROOT), "pca_dims": pca_dims, "n_tokens": int(n),
        "dim": int(W.shape[1]), "truncation": j.get("truncation"), "padding": j.get("padding"),
        "post_processor": j.get("post_processor"), "added_tokens": [a["content"] for a in j["added_tokens"]],
        "sample_ids": sample, "sample_tokens": [inv[i] for i in sample], "texts": TEXTS,
        "text_ids": [tok.encode(t, add_special_tokens=False).ids for t in TEXTS],
        "vectors_file": f"{name}_vectors.npy", "text_emb_file": f"{name}_text_emb.npy",
        "pca_f64_max_dev": dev, "table_max_abs": float(np.abs(W).max()),
    }


def small_wordpiece(path_in):
    j = json.load(open(path_in))
    vocab = j["model"]["vocab"]
    keep = [t for t, i in sorted(vocab.items(), key=lambda x: x[1]) if i in (0, 100, 101, 102, 103) or 1996 <= i < 3400]
    j["model"]["vocab"] = {t: k for k, t in enumerate(keep)}
    j["added_tokens"] = [dict(a, id=j["model"]["vocab"][a["content"]]) for a in j["added_tokens"]]
    j["post_processor"] = None
    return j, len(keep)


def model2vec_case(name, quantized, seed):
    from safetensors.numpy import save_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    tj, V = small_wordpiece(os.path.join(ROOT, "models", "all-MiniLM-L6-v2", "tokenizer.json"))
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tj, f, ensure_ascii=False)
    rng = np.random.default_rng(seed)
    if quantized:
        tensors = {"embeddings": rng.standard_normal((64, 24)).astype(np.float16),
                   "mapping": rng.integers(0, 64, V).astype(np.int64),
                   "weights": rng.uniform(0.2, 1.0, V).astype(np.float64)}
    else:
        tensors = {"embeddings": rng.standard_normal((V, 24)).astype(np.float32)}
    save_file(tensors, os.path.join(d, "model.safetensors"))
    cfg = {"model_type": "model2vec", "architectures": ["StaticModel"], "tokenizer_name": "small-wordpiece",
           "apply_pca": None, "hidden_dim": 24, "seq_length": 1000000, "normalize": True,
           "embedding_dtype": str(tensors["embeddings"].dtype)}
    if quantized:
        cfg["vocabulary_quantization"] = 64
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    se = StaticEmbedding.from_model2vec(d)
    W = se.embedding.weight.detach().float().numpy()
    np.save(os.path.join(OUT, f"{name}_weights.npy"), W.astype(np.float32))
    st = SentenceTransformer(modules=[se], device="cpu")
    emb = st.encode(TEXTS, convert_to_numpy=True).astype(np.float32)
    np.save(os.path.join(OUT, f"{name}_text_emb.npy"), emb)
    return {"name": name, "dir": os.path.relpath(d, ROOT), "vocab": int(W.shape[0]), "dim": int(W.shape[1]),
            "texts": TEXTS, "weights_file": f"{name}_weights.npy", "text_emb_file": f"{name}_text_emb.npy"}


def main():
    import sentence_transformers
    import model2vec
    import transformers

    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    m2v = [model2vec_case("m2v_quant", True, 1), model2vec_case("m2v_plain", False, 2)]
    dist = [distill_case("tiny", os.path.join(ROOT, "tests", "data", "models", "tiny-bert"), 16, 1500, 3)]
    if "--no-minilm" not in sys.argv:
        dist.append(distill_case("minilm", os.path.join(ROOT, "models", "all-MiniLM-L6-v2"), 256, 200, 4))
    for c in dist:
        print(c["name"], c["n_tokens"], c["dim"], "pca f64 dev", c["pca_f64_max_dev"], "max |w|", c["table_max_abs"])
    with open(os.path.join(OUT, "refs.json"), "w") as f:
        json.dump({"generator": "tools/gen_static_warmstart_refs.py",
                   "versions": {"sentence_transformers": sentence_transformers.__version__,
                                "model2vec": model2vec.__version__, "torch": torch.__version__,
                                "transformers": transformers.__version__},
                   "distill": dist, "model2vec": m2v}, f)


if __name__ == "__main__":
    main()
