#!/usr/bin/env python3
"""Model card references: the structure of the README sentence-transformers writes, and checks
of the README sbert writes.

  /work/venv/bin/python tools/gen_model_card_refs.py      (needs build/sbert; sentence-transformers 6)

1. sentence-transformers' own card: a small SentenceTransformer (StaticEmbedding over the
   bundled bert-base-uncased tokenizer) trained 4 steps with CoSENTLoss and an
   EmbeddingSimilarityEvaluator by SentenceTransformerTrainer, saved; from its README.md:
   the order of the YAML metadata keys (the order SentenceTransformerModelCardData's fields
   give them, metrics and model-index after), the tags, and the headings. Written to
   tests/data/model_card/st_card.json with the headings sbert's card must have in the same
   order ("required_headings": every heading of levels 1-3, and the hyperparameter ones,
   except those naming this run's data, evaluator or loss, and "### Evaluation Dataset",
   the evaluation-loss data set sbert has no counterpart for); tests/test_model_card.c
   checks sbert's card against it.
2. sbert's card, checked with the Python tools that read it: `sbert train` (StaticEmbedding,
   CoSENTLoss, EmbeddingSimilarityEvaluator, load_best_model_at_end); then
   huggingface_hub.ModelCard parses the README (YAML front matter + markdown) and its
   model-index turns into EvalResults equal to the final evaluation in trainer_state.json;
   SentenceTransformer loads the folder (the card is ignored by the loader: nothing breaks)
   and the similarity matrix printed in the card's usage snippet is the one Python computes
   with that model (4 decimals); training_curves.svg parses as XML. Nothing of this part is
   committed (its numbers are the trainer's): it fails loudly if a check does not hold.
"""
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "model_card")
BUILD = os.path.join(ROOT, "build")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def headings(md):
    out, fence, comment = [], False, False
    for line in md.splitlines():
        if line.startswith("```"):
            fence = not fence
            continue
        if "<!--" in line and "-->" not in line:
            comment = True
        if comment:
            comment = "-->" not in line
            continue
        if not fence and re.match(r"#{1,6} ", line):
            out.append(line.strip())
    return out


def front_matter(md):
    assert md.startswith("---\n"), md[:40]
    end = md.index("\n---\n", 4)
    return md[4:end], md[end + 5:]


def st_reference(tmp):
    from datasets import Dataset
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments, losses)
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from sentence_transformers.sentence_transformer.model_card import SentenceTransformerModelCardData
    from sentence_transformers.base.model_card import YAML_FIELDS
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer

    rows = [json.loads(line) for line in open(os.path.join(ROOT, "data", "stsb-train.jsonl"))][:64]
    dev = [json.loads(line) for line in open(os.path.join(ROOT, "data", "stsb-dev.jsonl"))][:40]
    tok = Tokenizer.from_file(os.path.join(ROOT, "data", "bert-base-uncased-tokenizer.json"))
    model = SentenceTransformer(modules=[StaticEmbedding(tok, embedding_dim=16)])
    ev = EmbeddingSimilarityEvaluator([r["sentence1"] for r in dev], [r["sentence2"] for r in dev],
                                      [r["score"] for r in dev], name="sts-dev")
    args = SentenceTransformerTrainingArguments(
        output_dir=os.path.join(tmp, "st"), max_steps=4, per_device_train_batch_size=16, learning_rate=0.1,
        eval_strategy="steps", eval_steps=2, logging_steps=1, save_strategy="no", report_to="none")
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                                         loss=losses.CoSENTLoss(model), evaluator=ev)
    trainer.train()
    ev(model)
    model.save(os.path.join(tmp, "st-final"))
    with open(os.path.join(tmp, "st-final", "README.md"), encoding="utf-8") as f:
        md = f.read()
    import yaml
    fm, body = front_matter(md)
    meta = yaml.safe_load(fm)
    # The order the card data gives its YAML keys: dataclass fields, then what to_dict adds.
    fields = [f.name for f in dataclasses.fields(SentenceTransformerModelCardData)]
    order = [k for k in fields if k in YAML_FIELDS] + [k for k in ("metrics", "model-index", "co2_eq_emissions")
                                                         if k not in fields]
    assert [k for k in order if k in meta] == list(meta), (order, list(meta))
    hs = headings(body)
    specific = {"#### Semantic Similarity", "#### Unnamed Dataset", "#### CoSENTLoss", "#### Sentence Transformers",
                "# SentenceTransformer"}
    required = [h for h in hs if h not in specific and h != "### Evaluation Dataset"
                and (h.count("#", 0, 4) <= 3 or "Hyperparameters" in h)]
    return {
        "generator": "tools/gen_model_card_refs.py",
        "sentence_transformers": __import__("sentence_transformers").__version__,
        "yaml_key_order": order,
        "yaml_keys_written": list(meta),
        "tags": meta["tags"],
        "pipeline_tag": meta["pipeline_tag"],
        "library_name": meta["library_name"],
        "model_index_task": meta["model-index"][0]["results"][0]["task"],
        "model_index_dataset": meta["model-index"][0]["results"][0]["dataset"],
        "headings": hs,
        "required_headings": required,
    }


def check_sbert_card(tmp):
    import numpy as np
    import torch
    from huggingface_hub import ModelCard
    from sentence_transformers import SentenceTransformer

    out = os.path.join(tmp, "sbert")
    subprocess.run([os.path.join(BUILD, "sbert"), "train", "--model", "static", "--tokenizer",
                    os.path.join(ROOT, "data", "bert-base-uncased-tokenizer.json"), "--embedding_dim", "16",
                    "--train_data", os.path.join(ROOT, "data", "stsb-train.jsonl"), "--eval_data",
                    os.path.join(ROOT, "data", "stsb-dev.jsonl"), "--evaluator_name", "sts-dev", "--loss",
                    "CoSENTLoss", "--max_train_samples", "64", "--max_eval_samples", "40",
                    "--per_device_train_batch_size", "16", "--max_steps", "4", "--learning_rate", "0.1",
                    "--eval_strategy", "steps", "--eval_steps", "2", "--save_steps", "2",
                    "--load_best_model_at_end", "true", "--logging_steps", "1", "--output_dir", out,
                    "--run_name", "card", "--log-dir", os.path.join(tmp, "logs")], check=True, capture_output=True)
    final = os.path.join(out, "final")
    card = ModelCard.load(os.path.join(final, "README.md"))
    data = card.data.to_dict()
    assert data["library_name"] == "sentence-transformers" and data["pipeline_tag"] == "sentence-similarity"
    assert "loss:CoSENTLoss" in data["tags"] and "dataset_size:64" in data["tags"], data["tags"]
    results = card.data.eval_results
    with open(os.path.join(final, "trainer_state.json")) as f:
        last = [e for e in json.load(f)["log_history"] if any(k.startswith("eval_") for k in e)][-1]
    for r in results:
        assert r.task_type == "semantic-similarity" and r.dataset_type == "sts-dev", r
        assert r.metric_value == last["eval_sts-dev_" + r.metric_type], (r, last)
    assert len(results) == 2, results
    model = SentenceTransformer(final)
    sentences = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    emb = model.encode(sentences, convert_to_tensor=True)
    with torch._tensor_str.printoptions(precision=4, sci_mode=False):
        printed = "\n".join(f"# {line}" for line in str(model.similarity(emb, emb).cpu()).splitlines())
    assert printed in card.text, f"the card's similarity matrix differs from Python's:\n{printed}"
    ET.parse(os.path.join(final, "training_curves.svg"))
    print(f"sbert card: parsed by huggingface_hub ({len(results)} eval results), loaded by SentenceTransformer, "
          "usage snippet matrix equal to Python's")


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ref = st_reference(tmp)
        with open(os.path.join(OUT, "st_card.json"), "w") as f:
            json.dump(ref, f, indent=1)
            f.write("\n")
        print(f"sentence-transformers card: {len(ref['yaml_keys_written'])} YAML keys, "
              f"{len(ref['required_headings'])} required headings")
        check_sbert_card(tmp)


if __name__ == "__main__":
    sys.exit(main())
