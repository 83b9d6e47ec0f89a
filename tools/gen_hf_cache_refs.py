#!/usr/bin/env python3
"""A small Hugging Face hub cache for tests/test_hf_cache.c: model ids
("sbert-tests/micro-bert") must resolve through the cache layout that
huggingface_hub reads, at the revision asked for.

Run: python3 tools/gen_hf_cache_refs.py   (needs torch, transformers,
sentence-transformers, huggingface_hub; output committed under
tests/data/hf_cache/).

No network is reachable here, so the cache is laid out by this script in
huggingface_hub's format -- hub/models--{org}--{name}/ with blobs/ (files by
content hash), refs/{main,v1} (commit hashes) and snapshots/{commit}/ (relative
symlinks into blobs/) -- and then checked with huggingface_hub's own readers
(scan_cache_dir, try_to_load_from_cache) and by sentence-transformers loading
the model id offline (HF_HUB_OFFLINE=1) at each revision. Those embeddings are
the reference.

Two revisions of one micro BERT sentence-transformers model (hidden 8, one
layer, the 3,000-word syn-wordpiece-cased tokenizer): "main" and the tag "v1"
(other weights); the tokenizer blob is shared, as in a real cache.
"""
import hashlib
import json
import os
import shutil
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"  # before any Hugging Face import reads it

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "hf_cache")
REPO = "sbert-tests/micro-bert"
SENTENCES = ["A man is playing a guitar.", "The cat sleeps on the sofa.", "Two children run in the park."]


def build_model(seed, d):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
    tok_file = os.path.join(ROOT, "tests", "data", "tokenizers", "syn-wordpiece-cased", "tokenizer.json")
    tok = PreTrainedTokenizerFast(tokenizer_file=tok_file, unk_token="[UNK]", pad_token="[PAD]",
                                  cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=16, max_position_embeddings=64, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0)
    raw = os.path.join(d, "raw")
    BertModel(cfg).save_pretrained(raw)
    tok.save_pretrained(raw)
    t = Transformer(raw, max_seq_length=64)
    st = SentenceTransformer(modules=[t, Pooling(t.get_word_embedding_dimension(), "mean")], device="cpu")
    out = os.path.join(d, "st")
    st.save(out)
    os.remove(os.path.join(out, "README.md"))
    return out


def lay_out(snapshots):
    """snapshots: {revision: folder}. Returns {revision: commit}."""
    repo = os.path.join(OUT, "hub", "models--" + REPO.replace("/", "--"))
    shutil.rmtree(os.path.join(OUT, "hub"), ignore_errors=True)
    os.makedirs(os.path.join(repo, "blobs"))
    os.makedirs(os.path.join(repo, "refs"))
    commits = {}
    for rev, folder in snapshots.items():
        files = sorted(os.path.relpath(os.path.join(dp, f), folder)
                       for dp, _, fs in os.walk(folder) for f in fs)
        commit = hashlib.sha1(("sbert-tests " + rev).encode()).hexdigest()
        commits[rev] = commit
        for rel in files:
            data = open(os.path.join(folder, rel), "rb").read()
            blob = hashlib.sha256(data).hexdigest()
            bp = os.path.join(repo, "blobs", blob)
            if not os.path.exists(bp):
                open(bp, "wb").write(data)
            link = os.path.join(repo, "snapshots", commit, rel)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(os.path.relpath(bp, os.path.dirname(link)), link)
        with open(os.path.join(repo, "refs", rev), "w") as f:
            f.write(commit)
    return commits


def main():
    with tempfile.TemporaryDirectory() as tmp:
        snaps = {"main": build_model(1, os.path.join(tmp, "a")), "v1": build_model(2, os.path.join(tmp, "b"))}
        commits = lay_out(snaps)
    from huggingface_hub import scan_cache_dir, try_to_load_from_cache
    from sentence_transformers import SentenceTransformer
    cache = os.path.join(OUT, "hub")
    info = scan_cache_dir(cache)
    assert len(info.repos) == 1 and list(info.repos)[0].repo_id == REPO, info
    ref = {"generator": "tools/gen_hf_cache_refs.py", "repo_id": REPO, "sentences": SENTENCES, "commits": commits,
           "revisions": {}}
    for rev, commit in commits.items():
        p = try_to_load_from_cache(REPO, "config.json", cache_dir=cache, revision=rev)
        assert p and commit in p, (rev, p)
        model = SentenceTransformer(REPO, cache_folder=cache, revision=rev, device="cpu")
        emb = model.encode(SENTENCES, convert_to_numpy=True)
        ref["revisions"][rev] = {"snapshot": os.path.relpath(os.path.dirname(p), OUT),
                                 "embeddings": emb.astype(float).tolist()}
    import huggingface_hub
    import sentence_transformers
    ref["versions"] = {"huggingface_hub": huggingface_hub.__version__,
                       "sentence_transformers": sentence_transformers.__version__}
    with open(os.path.join(OUT, "ref.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print("hf cache:", commits)


if __name__ == "__main__":
    main()
