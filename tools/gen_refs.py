#!/usr/bin/env python3
"""Regenerate every reference file the tests read (`make refs`).

Each generator writes values computed by sentence-transformers / HF tokenizers /
transformers / PyTorch / scipy into tests/data/; the C tests never need Python
beyond numpy + safetensors. Order matters: tokenizers and tiny models first,
since later generators build on them. Needs torch, transformers,
sentence-transformers, tokenizers, sentencepiece, datasets and
models/all-MiniLM-L6-v2 (tools/fetch_models.sh).
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = [
    "make_demo_data.py",
    "gen_unigram_refs.py",
    "gen_tokenizer_refs.py",
    "gen_tiny_models.py",
    "gen_safetensors_refs.py",
    "gen_model_refs.py",
    "gen_loss_metric_refs.py",
    "gen_optim_refs.py",
    "gen_data_refs.py",
    "gen_static_refs.py",
    "gen_eval_refs.py",
    "gen_triplet_refs.py",
    "gen_mining_refs.py",
    "gen_static_warmstart_refs.py",
    "gen_lora_refs.py",
    "gen_cross_encoder_refs.py",
    "gen_ir_refs.py",
    "gen_train_refs.py",
    "gen_trainer_refs.py",
    "gen_hf_cache_refs.py",
    "gen_tensorboard_refs.py",
    "gen_model_card_refs.py",
    "gen_backward_refs.py",
    "gen_transformer_grads.py",
    "make_sparse_data.py",
    "gen_sparse_refs.py",
    "make_multilingual_data.py",
    "gen_distill_refs.py",
    "gen_mining_ce_refs.py",
    "gen_tsdae_refs.py",
]


def main():
    for name in ORDER:
        path = os.path.join(HERE, name)
        if not os.path.exists(path):
            continue
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, path], check=True)


if __name__ == "__main__":
    main()
