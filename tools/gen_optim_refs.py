#!/usr/bin/env python3
"""Reference values for sbert's AdamW, LR schedules and gradient clipping,
written by torch.optim.AdamW, transformers' schedulers and
torch.nn.utils.clip_grad_norm_.

Writes tests/data/training/optim_refs.json. Run: python3 tools/gen_optim_refs.py
"""
import json
import os

import numpy as np
import torch
from transformers import TrainingArguments
from transformers.optimization import get_scheduler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "training", "optim_refs.json")


def main():
    rng = np.random.default_rng(7)
    n_decay, n_nodecay, steps = 30, 20, 20
    p0 = rng.normal(size=n_decay + n_nodecay).astype(np.float32)
    grads = [(rng.normal(size=p0.size) * (0.05 if s % 3 else 0.6)).astype(np.float32) for s in range(steps)]
    a = torch.nn.Parameter(torch.tensor(p0[:n_decay]))
    b = torch.nn.Parameter(torch.tensor(p0[n_decay:]))
    lr, wd, warmup, max_norm = 1e-2, 0.01, 3, 1.0
    opt = torch.optim.AdamW([{"params": [a], "weight_decay": wd}, {"params": [b], "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.999), eps=1e-8, foreach=False, fused=False)
    sched = get_scheduler("linear", opt, num_warmup_steps=warmup, num_training_steps=steps)
    traj, norms, lrs = [], [], []
    for s in range(steps):
        a.grad = torch.tensor(grads[s][:n_decay])
        b.grad = torch.tensor(grads[s][n_decay:])
        norms.append(float(torch.nn.utils.clip_grad_norm_([a, b], max_norm)))
        lrs.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        sched.step()
        traj.append(torch.cat([a.detach(), b.detach()]).numpy().tolist())

    lambdas = {}
    for name in ["linear", "cosine", "constant", "constant_with_warmup"]:
        o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        kw = {} if name == "constant" else {"num_warmup_steps": 4}
        if name in ("linear", "cosine"):
            kw["num_training_steps"] = 17
        sc = get_scheduler(name, o, **kw)
        vals = []
        for _ in range(20):
            vals.append(float(o.param_groups[0]["lr"]))
            o.step()
            sc.step()
        lambdas[name] = vals
    warm = {}
    for w in [0.1, 0.05, 0.0, 3, 0.5]:
        args = TrainingArguments(output_dir="/tmp/x", warmup_steps=w, report_to=[])
        warm[str(w)] = args.get_warmup_steps(137)
    out = {"n_decay": n_decay, "n_nodecay": n_nodecay, "lr": lr, "weight_decay": wd, "warmup": warmup,
           "max_norm": max_norm, "p0": p0.tolist(), "grads": [g.tolist() for g in grads],
           "trajectory": traj, "grad_norms": norms, "lrs": lrs, "lambdas": lambdas,
           "lambda_warmup": 4, "lambda_total": 17, "warmup_of_137": warm}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "w") as f:
        json.dump(out, f)
    os.replace(OUT + ".tmp", OUT)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
