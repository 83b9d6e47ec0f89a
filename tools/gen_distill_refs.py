#!/usr/bin/env python3
"""tools/gen_distill_refs.py -- 20-step parity references for knowledge
distillation from a teacher model (recipe key teacher_model, src/training/teacher.c)
and make-multilingual training (tests/test_distill.c).

sentence-transformers 6.2.0 does what the skill's distillation and
make_multilingual templates do, on tiny models with dropout 0:
  label = teacher.encode(<source column>)            (the dataset map of the templates)
  student gets a Normalize when the teacher ends in one and the student does not
  MSELoss(student) over every input column, 20 steps of AdamW in a plain PyTorch loop
  (the same batches in order; AdamW lr 5e-4 betas (.9, .999) eps 1e-8, weight_decay 0.01 on
  transformers' get_decay_parameter_names, linear schedule with 2 warmup steps, clip_grad_norm_ 1.0).

Cases (B = 8 rows a batch, 20 steps):
  distill       teacher = tiny-distilbert + mean Pooling + Normalize, student = tiny-bert + mean Pooling
                (Normalize appended); rows (sentence) = unique AllNLI pair strings in order
                (data/allnli-pairs.jsonl, anchor then positive, de-duplicated)
  multilingual  teacher = tiny-distilbert + mean Pooling (no Normalize), student = tiny-bert + mean
                Pooling; rows (english, non_english) = XQuAD en/de question pairs
                (../shared/data/xquad); the label is teacher(english) for both columns
                (ParallelSentencesDataset semantics)

  margin_mse    the skill's pattern 2, MarginMSE from a CrossEncoder teacher: teacher = the tiny
                CrossEncoder of tests/test_mine_ce.c (tests/data/cross_encoder/tiny-bert-l1, built as
                tools/gen_mining_ce_refs.py builds it), student = tiny-bert + mean Pooling; rows
                (question, answer, negative_1, negative_2) = the TrecQA n-tuples of
                tests/data/mining/ce/ce_ntuple_relmargin.jsonl (scores dropped), B = 7;
                label = [ce.predict((q, pos)) - ce.predict((q, neg_j)) for j in 1, 2] (float32);
                MarginMSELoss(student) (dot product); no teacher/ overlay (the C test builds the
                CrossEncoder the same way)

tests/data/distill/<case>/: student/ (overlay on tiny-bert: config.json with dropout 0, modules.json,
1_Pooling/, sentence_bert_config.json, config_sentence_transformers.json), teacher/ (overlay on
tiny-distilbert), data.jsonl (the rows in order, no label) and ref.json:
  {"case", "batch", "steps", "warmup", "lr", "weight_decay", "max_grad_norm",
   "labels": [[teacher embedding] per row], "student_modules": [class names],
   "losses": [per step], "grad_norms": [per step, before clipping],
   "tensors": {name: {"shape", "values"}} after the last step}
Run: /work/venv/bin/python tools/gen_distill_refs.py [case...]
"""
import json
import os
import shutil
import sys
import tempfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "distill")
STUDENT = os.path.join(ROOT, "tests", "data", "models", "tiny-bert")
TEACHER = os.path.join(ROOT, "tests", "data", "models", "tiny-distilbert")
BASE_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
XQUAD = os.path.join(ROOT, "..", "shared", "data", "xquad")
if not os.path.isdir(XQUAD):
    XQUAD = "/work/shared/data/xquad"
B, STEPS, WARMUP, LR = 8, 20, 2, 5e-4
TENSORS = ["encoder.layer.0.attention.self.query.weight", "encoder.layer.1.output.dense.weight",
           "encoder.layer.1.output.LayerNorm.weight", "embeddings.LayerNorm.bias",
           "encoder.layer.0.intermediate.dense.bias", "embeddings.position_embeddings.weight"]


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def overlay(odir, base, normalize, dense=0):
    with open(os.path.join(base, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    for k in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout"):
        if k in cfg:
            cfg[k] = 0.0
    write_json(os.path.join(odir, "config.json"), cfg)
    mods = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if dense:
        from safetensors.torch import save_file
        width = cfg.get("hidden_size", cfg.get("dim"))
        g = torch.Generator().manual_seed(7)
        ddir = os.path.join(odir, "2_Dense")
        os.makedirs(ddir, exist_ok=True)
        write_json(os.path.join(ddir, "config.json"),
                   {"in_features": width, "out_features": dense, "bias": True,
                    "activation_function": "torch.nn.modules.activation.Tanh"})
        save_file({"linear.weight": torch.randn(dense, width, generator=g) * 0.3,
                   "linear.bias": torch.randn(dense, generator=g) * 0.1}, os.path.join(ddir, "model.safetensors"))
        mods.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    if normalize:
        k = len(mods)
        mods.append({"idx": k, "name": str(k), "path": f"{k}_Normalize", "type": "sentence_transformers.models.Normalize"})
        os.makedirs(os.path.join(odir, f"{k}_Normalize"), exist_ok=True)
    write_json(os.path.join(odir, "modules.json"), mods)
    width = cfg.get("hidden_size", cfg.get("dim"))
    write_json(os.path.join(odir, "1_Pooling", "config.json"),
               {"word_embedding_dimension": width, "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
                "pooling_mode_lasttoken": False, "include_prompt": True})
    write_json(os.path.join(odir, "sentence_bert_config.json"), {"max_seq_length": 64, "do_lower_case": False})
    write_json(os.path.join(odir, "config_sentence_transformers.json"),
               {"model_type": "SentenceTransformer", "prompts": {"query": "", "document": ""},
                "default_prompt_name": None, "similarity_fn_name": "cosine"})


def assemble(odir, base, dst):
    os.makedirs(dst, exist_ok=True)
    for f in BASE_FILES:
        shutil.copy(os.path.join(base, f), os.path.join(dst, f))
    for dirpath, dirs, files in os.walk(odir):
        rel = os.path.relpath(dirpath, odir)
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            shutil.copy(os.path.join(dirpath, f), os.path.join(dst, rel, f))


def allnli_sentences(n):
    seen, out = set(), []
    with open(os.path.join(ROOT, "data", "allnli-pairs.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            for s in (d["anchor"], d["positive"]):
                if s not in seen:
                    seen.add(s)
                    out.append(s)
            if len(out) >= n:
                break
    return out[:n]


def xquad_questions(lang):
    with open(os.path.join(XQUAD, f"xquad.{lang}.json"), encoding="utf-8") as f:
        data = json.load(f)["data"]
    out = {}
    for art in data:
        for p in art["paragraphs"]:
            for qa in p["qas"]:
                out[qa["id"]] = qa["question"].strip()
    return out


def xquad_pairs(n, other="de"):
    en, ot = xquad_questions("en"), xquad_questions(other)
    rows = [{"english": en[k], "non_english": ot[k]} for k in en if k in ot]
    return rows[:n]


CASES = [
    dict(name="distill", teacher_normalize=True),
    dict(name="multilingual", teacher_normalize=False),
    dict(name="distill_pca", teacher_normalize=True, teacher_dense=48, pca=True),
    dict(name="margin_mse", cross_encoder=True, batch=7),
]


def ntuple_rows(n):
    path = os.path.join(ROOT, "tests", "data", "mining", "ce", "ce_ntuple_relmargin.jsonl")
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(l) for l in f if l.strip()]
    return [{k: r[k] for k in ("question", "answer", "negative_1", "negative_2")} for r in rows[:n]]


def run_case(case):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses as L
    from sentence_transformers.sentence_transformer.modules import Normalize

    odir = os.path.join(OUT, case["name"])
    b = case.get("batch", B)
    if os.path.isdir(odir):
        shutil.rmtree(odir)
    overlay(os.path.join(odir, "student"), STUDENT, False)
    if not case.get("cross_encoder"):
        overlay(os.path.join(odir, "teacher"), TEACHER, case["teacher_normalize"], case.get("teacher_dense", 0))
    if case["name"] in ("distill", "distill_pca"):
        data = [{"sentence": s} for s in allnli_sentences(STEPS * b)]
    elif case.get("cross_encoder"):
        data = ntuple_rows(STEPS * b)
    else:
        data = xquad_pairs(STEPS * b)
    assert len(data) == STEPS * b
    with open(os.path.join(odir, "data.jsonl"), "w", encoding="utf-8") as f:
        for d in data:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    cols = list(data[0].keys())
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        sdir, tdir = os.path.join(tmp, "student"), os.path.join(tmp, "teacher")
        assemble(os.path.join(odir, "student"), STUDENT, sdir)
        student = SentenceTransformer(sdir, device="cpu")
        if case.get("cross_encoder"):
            return run_margin_case(case, odir, tdir, student, data, cols, b)
        assemble(os.path.join(odir, "teacher"), TEACHER, tdir)
        teacher = SentenceTransformer(tdir, device="cpu")
        if case.get("pca"):
            # the skill's dimension fix: PCA on the teacher's embeddings of the (first 20k) training
            # sentences, a Dense(teacher_dim -> student_dim, bias=False, Identity) with the components
            # as weight appended to the teacher. The PCA is fitted in float64 (sbert fits it in double;
            # a float32 fit differs by its own rounding).
            from sklearn.decomposition import PCA
            from sentence_transformers.sentence_transformer.modules import Dense
            emb = teacher.encode([r[cols[0]] for r in data[:20000]], convert_to_numpy=True)
            k = student.get_embedding_dimension()
            pca = PCA(n_components=k).fit(emb.astype("float64"))
            dense = Dense(in_features=emb.shape[1], out_features=k, bias=False,
                          activation_function=torch.nn.Identity())
            dense.linear.weight = torch.nn.Parameter(torch.tensor(pca.components_, dtype=torch.float32))
            teacher.append(dense)
        # the templates' Normalize match
        if isinstance(teacher[-1], Normalize) and not isinstance(student[-1], Normalize):
            student.append(Normalize())
        # the templates' dataset map: label = teacher.encode(source column)
        labels = teacher.encode([r[cols[0]] for r in data], batch_size=256, convert_to_numpy=True)
        labels = torch.tensor(labels)
        train_and_write(case, odir, student, L.MSELoss(student), data, cols, labels, B)


def run_margin_case(case, odir, tdir, student, data, cols, b):
    """MarginMSE from a CrossEncoder teacher: label = score(q, pos) - score(q, neg_j)."""
    import numpy as np
    from sentence_transformers import CrossEncoder
    from sentence_transformers.sentence_transformer import losses as L
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gen_mining_ce_refs import build_ce
    build_ce(tdir)
    ce = CrossEncoder(tdir, device="cpu")
    q = [r[cols[0]] for r in data]
    scores = [np.asarray(ce.predict(list(zip(q, [r[c] for r in data])), batch_size=32, convert_to_numpy=True),
                         dtype=np.float32) for c in cols[1:]]
    labels = torch.tensor(np.stack([scores[0] - s for s in scores[1:]], axis=1))
    train_and_write(case, odir, student, L.MarginMSELoss(student), data, cols, labels, b)


def train_and_write(case, odir, student, loss_fn, data, cols, labels, b):
    from transformers import Trainer, get_linear_schedule_with_warmup
    student.train()
    decay = set(Trainer.get_decay_parameter_names(None, student))
    named = [(n, p) for n, p in student.named_parameters() if p.requires_grad]
    groups = [{"params": [p for n, p in named if n in decay], "weight_decay": 0.01},
              {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8)
    sched = get_linear_schedule_with_warmup(opt, WARMUP, STEPS)
    losses, norms = [], []
    for s in range(STEPS):
        batch = data[s * b:(s + 1) * b]
        feats = [student.preprocess([r[c] for r in batch]) for c in cols]
        loss = loss_fn(feats, labels[s * b:(s + 1) * b])
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(float(loss.item()))
        norms.append(float(norm))
    sd = student[0].auto_model.state_dict()
    tensors = {n: {"shape": list(sd[n].shape), "values": [float(x) for x in sd[n].detach().reshape(-1)]}
               for n in TENSORS}
    write_json(os.path.join(odir, "ref.json"),
               {"case": case["name"], "batch": b, "steps": STEPS, "warmup": WARMUP, "lr": LR,
                "weight_decay": 0.01, "max_grad_norm": 1.0,
                "student_modules": [type(m).__name__ for m in student],
                "labels": [[float(x) for x in row] for row in labels],
                "losses": losses, "grad_norms": norms, "tensors": tensors})
    print(f"{case['name']}: losses {losses[0]:.6f} .. {losses[-1]:.6f}")


def main():
    torch.set_num_threads(2)
    only = sys.argv[1:]
    for case in CASES:
        if not only or case["name"] in only:
            run_case(case)


if __name__ == "__main__":
    main()
