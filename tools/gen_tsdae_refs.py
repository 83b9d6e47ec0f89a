#!/usr/bin/env python3
"""tools/gen_tsdae_refs.py -- DenoisingAutoEncoderLoss (TSDAE) references for
tests/test_tsdae.c: sentence-transformers 6.2.0 builds the loss with its
defaults (decoder_name_or_path None, tie_encoder_decoder True: a
BertLMHeadModel with is_decoder and add_cross_attention, every weight it shares
with the encoder tied to it) over tests/data/models/tiny-bert (dropout 0, CLS
pooling) and trains it 20 steps on fixed batches in a plain PyTorch loop that
does what the Hugging Face Trainer does: AdamW over the loss module's
parameters (decay groups by get_decay_parameter_names), linear schedule with 2
warmup steps, clip_grad_norm_ over model.parameters() only (the
SentenceTransformer: the decoder-only weights are neither measured nor
clipped).

The decoder-only weights (cross-attention, LM head transform and bias) are
random at construction; the generator saves their initial values
(decoder_init.safetensors) and the C test loads them into sbert's loss state
(sbert_dae_state_load) so both start alike.

Data: the first 160 sentences of data/snli-sentences.jsonl, each paired with a
copy with words deleted (whitespace words, Python's random with seed 3, del
ratio 0.6, at least one word kept) -- pre-damaged, so no nltk is needed.

tests/data/tsdae/: the overlay on tiny-bert (config.json with dropout 0,
modules.json, 1_Pooling/config.json, sentence_bert_config.json,
config_sentence_transformers.json), data.jsonl ({"noisy", "text"} rows),
decoder_init.safetensors, grads0.safetensors (the gradients of step 0 before
clipping: "enc.<name>" for every encoder tensor but the word embeddings,
"enc_rows.word" [n, H] for the word-embedding rows listed in "word_rows",
"dec.<name>" for the decoder-only tensors), ref.json:
  {"batch", "steps", "warmup", "lr", "weight_decay", "max_grad_norm", "losses": [per step],
   "grad_norms": [per step, before clipping], "decoder_training": false,
   "tensors": {encoder name: {"shape", "values"}} after the last step,
   "word_rows": [ids], "word_values": [[...] per id] after the last step,
   "state_tensors": {decoder-only name: {"shape", "values"}} after the last step}
Run: /work/venv/bin/python tools/gen_tsdae_refs.py
"""
import json
import os
import random
import shutil
import tempfile

import torch
from safetensors.torch import save_file

from gen_bienc_train_refs import assemble, hf_step, write_json, write_jsonl  # tools/ (the script's folder) is on sys.path
from gen_bienc_train_refs import overlay as bienc_overlay

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "tsdae")
B, STEPS, WARMUP, LR, WD = 8, 20, 2, 5e-4, 0.01
TENSORS = ["encoder.layer.0.attention.self.query.weight", "encoder.layer.1.output.dense.weight",
           "encoder.layer.1.output.LayerNorm.weight", "embeddings.LayerNorm.bias",
           "encoder.layer.0.intermediate.dense.bias", "embeddings.token_type_embeddings.weight"]
STATE = ["bert.encoder.layer.1.crossattention.output.dense.weight",
         "bert.encoder.layer.0.crossattention.self.value.bias",
         "bert.encoder.layer.0.crossattention.output.LayerNorm.weight",
         "cls.predictions.transform.dense.weight", "cls.predictions.transform.LayerNorm.bias"]


def overlay(odir):
    """gen_bienc_train_refs' overlay (dropout 0, max_seq_length 64) with CLS pooling, TSDAE's usual one."""
    bienc_overlay(odir)
    path = os.path.join(odir, "1_Pooling", "config.json")
    with open(path, encoding="utf-8") as f:
        pooling = json.load(f)
    pooling["pooling_mode_cls_token"], pooling["pooling_mode_mean_tokens"] = True, False
    write_json(path, pooling)
    with open(os.path.join(odir, "config.json"), encoding="utf-8") as f:
        return json.load(f)


def delete_words(text, rng, del_ratio=0.6):
    words = text.split()
    if not words:
        return text
    keep = [rng.random() > del_ratio for _ in words]
    if not any(keep):
        keep[rng.randrange(len(words))] = True
    return " ".join(w for w, k in zip(words, keep) if k)


def main():
    torch.set_num_threads(2)
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss
    from transformers import Trainer, get_linear_schedule_with_warmup

    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    cfg = overlay(OUT)
    rng = random.Random(3)
    data = []
    with open(os.path.join(ROOT, "data", "snli-sentences.jsonl"), encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)["text"]
            data.append({"noisy": delete_words(t, rng), "text": t})
            if len(data) == STEPS * B:
                break
    write_jsonl(os.path.join(OUT, "data.jsonl"), data)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        assemble(OUT, tmp)
        model = SentenceTransformer(tmp, device="cpu")
        loss_fn = DenoisingAutoEncoderLoss(model)
        enc = model[0].auto_model
        dec = loss_fn.decoder
        # the ties sentence-transformers makes, and the decoder's mode
        assert enc.embeddings.word_embeddings.weight is dec.bert.embeddings.word_embeddings.weight
        assert dec.cls.predictions.decoder.weight is dec.bert.embeddings.word_embeddings.weight
        assert enc.encoder.layer[1].output.dense.weight is dec.bert.encoder.layer[1].output.dense.weight
        model.train()
        decoder_training = dec.training
        assert not decoder_training, "the decoder was expected in eval mode (no dropout)"
        L = cfg["num_hidden_layers"]
        dec_names = []
        for l in range(L):
            p = f"bert.encoder.layer.{l}.crossattention."
            dec_names += [p + "self.value.weight", p + "self.value.bias", p + "output.dense.weight",
                          p + "output.dense.bias", p + "output.LayerNorm.weight", p + "output.LayerNorm.bias"]
        dec_names += ["cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
                      "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias",
                      "cls.predictions.bias"]
        dparams = dict(dec.named_parameters())
        save_file({n: dparams[n].detach().clone().contiguous() for n in dec_names},
                  os.path.join(OUT, "decoder_init.safetensors"))

        decay = set(Trainer.get_decay_parameter_names(None, loss_fn))
        named = [(n, p) for n, p in loss_fn.named_parameters() if p.requires_grad]
        groups = [{"params": [p for n, p in named if n in decay], "weight_decay": WD},
                  {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8)
        sched = get_linear_schedule_with_warmup(opt, WARMUP, STEPS)
        losses, norms = [], []
        word_rows = None
        for s in range(STEPS):
            batch = data[s * B:(s + 1) * B]
            feats = [model.preprocess([r["noisy"] for r in batch]), model.preprocess([r["text"] for r in batch])]
            loss = loss_fn(feats, None)
            loss.backward()
            if s == 0:
                ids = set(int(i) for f in feats for i in f["input_ids"].reshape(-1))
                word_rows = sorted(ids | {0, 1, 999, 5000, 30521})
                g = {}
                for n, p in enc.named_parameters():
                    if n.startswith("pooler."):
                        continue
                    if n == "embeddings.word_embeddings.weight":
                        g["enc_rows.word"] = p.grad[word_rows].clone().contiguous()
                    else:
                        g["enc." + n] = p.grad.clone().contiguous()
                for n in dec_names:
                    g["dec." + n] = dparams[n].grad.clone().contiguous()
                g["word_rows"] = torch.tensor(word_rows, dtype=torch.float32)
                save_file(g, os.path.join(OUT, "grads0.safetensors"))
            norms.append(hf_step(model, opt, sched))
            losses.append(float(loss.item()))
        sd = dict(enc.named_parameters())
        tensors = {n: {"shape": list(sd[n].shape), "values": [float(x) for x in sd[n].detach().reshape(-1)]}
                   for n in TENSORS}
        word = sd["embeddings.word_embeddings.weight"].detach()
        state = {n: {"shape": list(dparams[n].shape), "values": [float(x) for x in dparams[n].detach().reshape(-1)]}
                 for n in STATE}
        write_json(os.path.join(OUT, "ref.json"),
                   {"loss": "DenoisingAutoEncoderLoss", "batch": B, "steps": STEPS, "warmup": WARMUP, "lr": LR,
                    "weight_decay": WD, "max_grad_norm": 1.0, "decoder_training": decoder_training,
                    "losses": losses, "grad_norms": norms, "tensors": tensors, "word_rows": word_rows,
                    "word_values": [[float(x) for x in word[i]] for i in word_rows], "state_tensors": state})
        print(f"losses {losses[0]:.6f} .. {losses[-1]:.6f}, grad norms {norms[0]:.4f} .. {norms[-1]:.4f}")


if __name__ == "__main__":
    main()
