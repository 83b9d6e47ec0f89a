#!/usr/bin/env python3
"""Reference values for the StaticEmbedding module, written by
sentence-transformers' StaticEmbedding (nn.EmbeddingBag, mode mean).

Writes tests/data/static/:
  model/          a StaticEmbedding SentenceTransformer saved by ST (8-dim table over the
                  xlmr-unigram test tokenizer), as Python lays it out
  refs.json       sentences (STS-B test), their token ids (ST's own preprocess), the
                  embeddings ST computes, and the gradient of sum(emb * R) w.r.t. the table
                  rows the batch touches (torch autograd)
Run: python3 tools/gen_static_refs.py
"""
import json
import os
import shutil

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import StaticEmbedding
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "static")
TOK = os.path.join(ROOT, "tests", "data", "tokenizers", "xlmr-unigram", "tokenizer.json")
STS = os.path.join(ROOT, "..", "shared", "data", "stsb", "sts-test.csv")


def main():
    torch.manual_seed(0)
    sentences = []
    with open(STS, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            sentences += [parts[5], parts[6]]
            if len(sentences) >= 200:
                break
    sentences += ["", "   ", "Ünïcödé ﬁne ＦＵＬＬ width"]
    static = StaticEmbedding(Tokenizer.from_file(TOK), embedding_dim=8)
    model = SentenceTransformer(modules=[static], device="cpu")
    mdir = os.path.join(OUT, "model")
    shutil.rmtree(mdir, ignore_errors=True)
    model.save(mdir)
    feats = static.preprocess(sentences)
    ids = feats["input_ids"].tolist()
    offsets = feats["offsets"].tolist() + [len(ids)]
    emb = model.encode(sentences, convert_to_numpy=True, batch_size=64)
    # Gradient of sum(emb * R) w.r.t. the table, through EmbeddingBag.
    R = torch.tensor(np.random.default_rng(5).normal(size=emb.shape).astype(np.float32))
    out = static.embedding(feats["input_ids"], feats["offsets"])
    (out * R).sum().backward()
    g = static.embedding.weight.grad
    touched = sorted(set(ids))
    refs = {"sentences": sentences, "ids": ids, "offsets": offsets, "embeddings": emb.tolist(),
            "R": R.numpy().tolist(), "touched": touched, "grad_rows": g[touched].numpy().tolist()}
    with open(os.path.join(OUT, "refs.json"), "w") as f:
        json.dump(refs, f)
    print("wrote", OUT, static.embedding.weight.shape)


if __name__ == "__main__":
    main()
