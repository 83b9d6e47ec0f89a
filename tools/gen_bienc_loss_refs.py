#!/usr/bin/env python3
"""Reference values for the SentenceTransformer losses added in issue 10
(tests/test_bienc_losses.c), written by sentence-transformers 6.2.0 / PyTorch
in float64.

Run: /work/venv/bin/python tools/gen_bienc_loss_refs.py   (outputs are committed)

Every case runs sentence-transformers' own code on given embeddings:
  * losses with compute_loss_from_embeddings (CosineSimilarity, AnglE,
    Contrastive, OnlineContrastive, the four Batch*Triplet losses, MSE,
    MarginMSE, DistillKLDiv, GlobalOrthogonalRegularization) call it directly;
  * GISTEmbedLoss, SoftmaxLoss and MatryoshkaLoss run their forward() with the
    module-level embed_columns (GIST, Softmax) patched to return the given
    embeddings, or a stand-in model whose forward returns them (Matryoshka:
    its ForwardDecorator, shrink and dim loop run unchanged);
  * CachedGISTEmbedLoss and MegaBatchMarginLoss call calculate_loss(reps, ...)
    (their gradient-cache engine splits the same computation);
  * ContrastiveTensionLoss(+InBatchNegatives) run forward() with model1/model2
    replaced by stand-ins returning the given embeddings (the InBatch variant
    keeps its trained logit_scale parameter, whose gradient is recorded).
Embeddings are float32 values stored as float64; the losses run in float64.

Writes tests/data/bienc/loss_ref.json:
  {"generator", "versions", "cases": [{
     "name", "loss_name" (as a recipe writes it, e.g. "MatryoshkaLoss(MultipleNegativesRankingLoss)"),
     "params": {recipe key: text}, "B", "dim",
     "cols": [[[B x dim]] per column], "labels": [B * label_width] or null, "label_width",
     "guide": [[[B x guide_dim]] per column] or null, "guide_dim",
     "state": {row name: flat values} or null (SoftmaxLoss classifier.weight/bias,
              ContrastiveTensionLossInBatchNegatives logit_scale),
     "loss", "grads": [[[B x dim]] per column], "state_grads": {row name: flat}}]}
"""
import inspect
import json
import os

import numpy as np
import sentence_transformers
import torch
import transformers
from torch import nn

from sentence_transformers.sentence_transformer import losses as L
from sentence_transformers.sentence_transformer.losses import gist_embed as gist_mod
from sentence_transformers.sentence_transformer.losses import softmax as softmax_mod
from sentence_transformers.sentence_transformer.losses import BatchHardTripletLossDistanceFunction as BHD
from sentence_transformers.sentence_transformer.losses import SiameseDistanceMetric as SDM
from sentence_transformers import util

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "bienc", "loss_ref.json")
torch.set_default_dtype(torch.float64)
RNG = np.random.default_rng(1234)


def emb(B, D, scale=1.0):
    return (RNG.standard_normal((B, D)) * scale).astype(np.float32).astype(np.float64)


def t(x):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


class StandIn(nn.Module):
    """A model whose forward returns the embedding stored in the features dict."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, features):
        return {"sentence_embedding": features["emb"]}

    def get_embedding_dimension(self):
        return self.dim


CASES = []


def record(name, loss_text, params, cols_np, tensors, value, labels=None, label_width=1, guide=None, state=None,
           state_tensors=None):
    value.backward()
    grads = [(tt.grad if tt.grad is not None else torch.zeros_like(tt)).tolist() for tt in tensors]
    case = dict(name=name, loss_text=loss_text, params={k: str(v) for k, v in params.items()}, B=int(cols_np[0].shape[0]),
                dim=int(cols_np[0].shape[1]), cols=[c.tolist() for c in cols_np],
                labels=None if labels is None else [float(x) for x in np.asarray(labels, dtype=np.float64).reshape(-1)],
                label_width=label_width, guide=None if guide is None else [g.tolist() for g in guide],
                guide_dim=0 if guide is None else int(guide[0].shape[1]),
                state=None if state is None else {k: [float(x) for x in v.detach().reshape(-1).tolist()] for k, v in state.items()},
                loss=float(value.item()), grads=grads,
                state_grads=None if state is None else {k: [float(x) for x in v.grad.reshape(-1).tolist()] for k, v in state.items()})
    case["loss_name"] = case.pop("loss_text")
    CASES.append(case)


def from_embeddings(name, loss_text, params, loss_obj, cols_np, labels=None, label_width=1):
    tensors = [t(c) for c in cols_np]
    lab = None if labels is None else torch.tensor(labels, dtype=torch.float64)
    value = loss_obj.compute_loss_from_embeddings(tensors, lab)
    if isinstance(value, dict):
        value = sum(value.values())
    record(name, loss_text, params, cols_np, tensors, value, labels, label_width)


def main():
    B, D = 8, 8
    binary = np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=np.float64)
    scores = RNG.uniform(0, 1, B).round(3)

    # CosineSimilarityLoss
    from_embeddings("cosine_similarity", "CosineSimilarityLoss", {}, L.CosineSimilarityLoss(None),
                    [emb(B, D), emb(B, D)], scores)

    # AnglELoss: pairs (even and odd width), triplets, 4 columns with labels
    for D_ in (8, 7):
        from_embeddings(f"angle_pairs_d{D_}", "AnglELoss", {}, L.AnglELoss(None), [emb(B, D_), emb(B, D_)], scores)
    from_embeddings("angle_scale5", "AnglELoss", {"scale": 5}, L.AnglELoss(None, scale=5),
                    [emb(B, D), emb(B, D)], scores)
    from_embeddings("angle_triplets", "AnglELoss", {}, L.AnglELoss(None), [emb(B, D), emb(B, D), emb(B, D)])
    from_embeddings("angle_4cols_labels", "AnglELoss", {}, L.AnglELoss(None), [emb(B, D) for _ in range(4)],
                    scores)

    # ContrastiveLoss / OnlineContrastiveLoss
    metrics = {"COSINE_DISTANCE": SDM.COSINE_DISTANCE, "EUCLIDEAN": SDM.EUCLIDEAN, "MANHATTAN": SDM.MANHATTAN}
    for mname, fn in metrics.items():
        for margin in ((0.5, 1.2) if mname == "COSINE_DISTANCE" else (3.0, 9.0)):
            cols = [emb(B, D, 0.5), emb(B, D, 0.5)]
            from_embeddings(f"contrastive_{mname}_{margin}", "ContrastiveLoss",
                            {"distance_metric": mname, "margin": margin},
                            L.ContrastiveLoss(None, distance_metric=fn, margin=margin), cols, binary)
            from_embeddings(f"online_contrastive_{mname}_{margin}", "OnlineContrastiveLoss",
                            {"distance_metric": f"SiameseDistanceMetric.{mname}", "margin": margin},
                            L.OnlineContrastiveLoss(None, distance_metric=fn, margin=margin), cols, binary)
    from_embeddings("contrastive_sum_weighted", "ContrastiveLoss", {"size_average": "false"},
                    L.ContrastiveLoss(None, size_average=False), [emb(B, D), emb(B, D)],
                    np.array([1, 0, 0.3, 1, 0, 0.7, 1, 0]))
    from_embeddings("online_contrastive_all_pos", "OnlineContrastiveLoss", {"margin": 1.5},
                    L.OnlineContrastiveLoss(None, margin=1.5), [emb(B, D), emb(B, D)], np.ones(B))
    from_embeddings("online_contrastive_all_neg", "OnlineContrastiveLoss", {"margin": 1.5},
                    L.OnlineContrastiveLoss(None, margin=1.5), [emb(B, D), emb(B, D)], np.zeros(B))

    # Batch triplet losses
    cls = np.array([0, 1, 0, 2, 1, 2, 0, 1], dtype=np.float64)
    for dname, dfn, margins in (("euclidean_distance", BHD.euclidean_distance, (5, 1)),
                                ("cosine_distance", BHD.cosine_distance, (0.5, 0.1))):
        for margin in margins:
            e = [emb(B, D)]
            from_embeddings(f"batch_all_{dname}_{margin}", "BatchAllTripletLoss",
                            {"distance_metric": dname, "margin": margin},
                            L.BatchAllTripletLoss(None, distance_metric=dfn, margin=margin), e, cls)
            from_embeddings(f"batch_hard_{dname}_{margin}", "BatchHardTripletLoss",
                            {"distance_metric": dname, "margin": margin},
                            L.BatchHardTripletLoss(None, distance_metric=dfn, margin=margin), e, cls)
            from_embeddings(f"batch_semi_hard_{dname}_{margin}", "BatchSemiHardTripletLoss",
                            {"distance_metric": dname, "margin": margin},
                            L.BatchSemiHardTripletLoss(None, distance_metric=dfn, margin=margin), e, cls)
        from_embeddings(f"batch_soft_{dname}", "BatchHardSoftMarginTripletLoss", {"distance_metric": dname},
                        L.BatchHardSoftMarginTripletLoss(None, distance_metric=dfn), [emb(B, D)], cls)
    # a class with a single row (no positive) and a batch of one class (no negative)
    from_embeddings("batch_hard_lonely", "BatchHardTripletLoss", {}, L.BatchHardTripletLoss(None), [emb(B, D)],
                    np.array([0, 0, 0, 1, 1, 1, 1, 2], dtype=np.float64))
    from_embeddings("batch_semi_hard_lonely", "BatchSemiHardTripletLoss", {}, L.BatchSemiHardTripletLoss(None),
                    [emb(B, D)], np.array([0, 0, 0, 1, 1, 1, 1, 2], dtype=np.float64))
    from_embeddings("batch_semi_hard_one_class", "BatchSemiHardTripletLoss", {}, L.BatchSemiHardTripletLoss(None),
                    [emb(B, D)], np.zeros(B))

    # Distillation
    class Dim:
        def get_embedding_dimension(self):
            return D
    mse = L.MSELoss.__new__(L.MSELoss)
    nn.Module.__init__(mse)
    mse.model, mse.distance_metric, mse.projection_dim, mse.projection = None, "mse", None, None
    for ncol in (1, 2):
        cols = [emb(B, D) for _ in range(ncol)]
        teacher = emb(B, D)
        tensors = [t(c) for c in cols]
        value = mse.compute_loss_from_embeddings(tensors, [torch.tensor(teacher) for _ in cols])
        record(f"mse_{ncol}col", "MSELoss", {}, cols, tensors, value, teacher, D)
    cols = [emb(B, D) for _ in range(2)]
    teacher3 = np.stack([emb(B, D), emb(B, D)], axis=1)  # [B, 2, D]
    tensors = [t(c) for c in cols]
    value = mse.compute_loss_from_embeddings(tensors, [torch.tensor(teacher3[:, i]) for i in range(2)])
    record("mse_per_column", "MSELoss", {}, cols, tensors, value, teacher3, 2 * D)

    for ncol, width, sim in ((3, 1, "pairwise_dot_score"), (4, 2, "pairwise_dot_score"), (4, 3, "pairwise_dot_score"),
                             (3, 2, "pairwise_cos_sim"), (3, 1, "pairwise_cos_sim")):
        fn = util.pairwise_dot_score if sim == "pairwise_dot_score" else util.pairwise_cos_sim
        lab = RNG.uniform(-2, 2, (B, width)).round(3)
        from_embeddings(f"margin_mse_{ncol}c_w{width}_{sim}", "MarginMSELoss", {"similarity_fct": sim},
                        L.MarginMSELoss(None, similarity_fct=fn), [emb(B, D) for _ in range(ncol)],
                        lab[:, 0] if width == 1 else lab, width)
    for ncol, sim, kw in ((3, "pairwise_dot_score", {}), (4, "pairwise_dot_score", {"temperature": 2.0}),
                          (4, "pairwise_cos_sim", {"temperature": 0.5, "student_temperature": 0.2}),
                          (3, "pairwise_dot_score", {"teacher_temperature": 3.0})):
        fn = util.pairwise_dot_score if sim == "pairwise_dot_score" else util.pairwise_cos_sim
        lab = RNG.uniform(-3, 3, (B, ncol - 1)).round(3)
        from_embeddings(f"distill_kl_{ncol}c_{sim}_{'_'.join(kw)}", "DistillKLDivLoss", {"similarity_fct": sim, **kw},
                        L.DistillKLDivLoss(None, similarity_fct=fn, **kw), [emb(B, D) for _ in range(ncol)], lab,
                        ncol - 1)

    # MegaBatchMarginLoss: calculate_loss over the whole batch
    for kw in ({}, {"positive_margin": 0.2, "negative_margin": -0.1}):
        mb = L.MegaBatchMarginLoss.__new__(L.MegaBatchMarginLoss)
        nn.Module.__init__(mb)
        mb.positive_margin = kw.get("positive_margin", 0.8)
        mb.negative_margin = kw.get("negative_margin", 0.3)
        mb.mini_batch_size = 3
        cols = [emb(B, D), emb(B, D)]
        tensors = [t(c) for c in cols]
        value = mb.calculate_loss([[tensors[0]], [tensors[1]]])
        record(f"mega_batch_{len(kw)}", "MegaBatchMarginLoss", kw, cols, tensors, value)

    # GlobalOrthogonalRegularizationLoss
    for ncol, kw in ((1, {}), (2, {}), (2, {"similarity_fct": "dot_score", "aggregation": "sum"}),
                     (3, {"mean_weight": 0.5, "second_moment_weight": 2.0})):
        fn = util.dot_score if kw.get("similarity_fct") == "dot_score" else util.cos_sim
        gor = L.GlobalOrthogonalRegularizationLoss(None, similarity_fct=fn,
                                                   **{k: v for k, v in kw.items() if k != "similarity_fct"})
        scale = 0.3 if kw.get("similarity_fct") == "dot_score" else 1.0
        from_embeddings(f"gor_{ncol}_{'_'.join(kw)}", "GlobalOrthogonalRegularizationLoss", kw, gor,
                        [emb(B, D, scale) + 0.4 for _ in range(ncol)])

    # GISTEmbedLoss: forward with embed_columns patched
    GD = 6
    for ncol, kw in ((2, {}), (3, {}), (2, {"margin": 0.05}), (3, {"margin_strategy": "relative", "margin": 0.1}),
                     (2, {"contrast_anchors": False}), (3, {"contrast_positives": False, "temperature": 0.05})):
        cols = [emb(B, D) for _ in range(ncol)]
        guide = [emb(B, GD) for _ in range(ncol)]
        guide[1][1] = guide[1][0]          # positive 1 looks like positive 0 to the guide
        guide[0][3] = guide[0][2] * 1.01   # anchors 2 and 3 alike
        g = L.GISTEmbedLoss.__new__(L.GISTEmbedLoss)
        nn.Module.__init__(g)
        g.model, g.guide = "student", "guide"
        g.temperature = kw.get("temperature", 0.01)
        g.similarity_fct = nn.CosineSimilarity(dim=-1)
        g.must_retokenize = False
        g.margin_strategy = kw.get("margin_strategy", "absolute")
        g.margin = kw.get("margin", 0.0)
        g.contrast_anchors = kw.get("contrast_anchors", True)
        g.contrast_positives = kw.get("contrast_positives", True)
        g.gather_across_devices = False
        g.cross_entropy_loss = nn.CrossEntropyLoss()
        tensors = [t(c) for c in cols]
        gt = [torch.tensor(x) for x in guide]
        saved = gist_mod.embed_columns
        gist_mod.embed_columns = lambda model, feats: tensors if model == "student" else gt
        try:
            value = g.forward([{} for _ in cols], None)
        finally:
            gist_mod.embed_columns = saved
        record(f"gist_{ncol}_{'_'.join(kw)}", "GISTEmbedLoss", kw, cols, tensors, value, guide=guide)
    # CachedGISTEmbedLoss: more negatives, chunked
    cols = [emb(B, D) for _ in range(4)]
    guide = [emb(B, GD) for _ in range(4)]
    guide[2][5] = guide[0][5]
    cg = L.CachedGISTEmbedLoss.__new__(L.CachedGISTEmbedLoss)
    nn.Module.__init__(cg)
    cg.temperature, cg.similarity_fct, cg.mini_batch_size = 0.02, nn.CosineSimilarity(dim=-1), 3
    cg.margin_strategy, cg.margin, cg.contrast_anchors, cg.contrast_positives = "absolute", 0.02, True, True
    cg.gather_across_devices, cg.cross_entropy_loss, cg.show_progress_bar = False, nn.CrossEntropyLoss(), False
    tensors = [t(c) for c in cols]
    value = cg.calculate_loss([[x] for x in tensors], [[torch.tensor(x)] for x in guide])
    record("cached_gist_4col", "CachedGISTEmbedLoss", {"temperature": 0.02, "margin": 0.02, "mini_batch_size": 3},
           cols, tensors, value, guide=guide)

    # ContrastiveTensionLoss: labels given, and labels from input ids
    for with_labels in (True, False):
        ct = L.ContrastiveTensionLoss.__new__(L.ContrastiveTensionLoss)
        nn.Module.__init__(ct)
        cols = [emb(B, D, 0.4), emb(B, D, 0.4)]
        tensors = [t(c) for c in cols]
        ct.model1 = lambda f: {"sentence_embedding": tensors[0]}
        ct.model2 = lambda f: {"sentence_embedding": tensors[1]}
        ct.criterion = nn.BCEWithLogitsLoss(reduction="sum")
        ids1 = torch.tensor([[101, 7, 8, 102]] * B)
        ids2 = ids1.clone()
        ids2[1::2, 1] = 9  # odd rows differ
        mask = torch.ones_like(ids1)
        feats = [{"input_ids": ids1, "attention_mask": mask}, {"input_ids": ids2, "attention_mask": mask}]
        lab = (np.arange(B) % 3 == 0).astype(np.float64)
        value = ct.forward(feats, torch.tensor(lab) if with_labels else None)
        used = lab if with_labels else (np.arange(B) % 2 == 0).astype(np.float64)
        record(f"contrastive_tension_{'labels' if with_labels else 'ids'}", "ContrastiveTensionLoss", {}, cols, tensors,
               value, used)
    for kw in ({}, {"scale": 5.0, "similarity_fct": "dot_score"}):
        cti = L.ContrastiveTensionLossInBatchNegatives.__new__(L.ContrastiveTensionLossInBatchNegatives)
        nn.Module.__init__(cti)
        cols = [emb(B, D, 0.3), emb(B, D, 0.3)]
        tensors = [t(c) for c in cols]
        cti.model1 = lambda f: {"sentence_embedding": tensors[0]}
        cti.model2 = lambda f: {"sentence_embedding": tensors[1]}
        cti.similarity_fct = util.dot_score if kw.get("similarity_fct") == "dot_score" else util.cos_sim
        cti.cross_entropy_loss = nn.CrossEntropyLoss()
        cti.logit_scale = nn.Parameter(torch.ones([]) * np.log(kw.get("scale", 20.0)))
        value = cti.forward([{}], None)
        record(f"ct_inbatch_{len(kw)}", "ContrastiveTensionLossInBatchNegatives", kw, cols, tensors, value,
               state={"logit_scale": cti.logit_scale})

    # SoftmaxLoss
    class Dev:
        device = "cpu"
    for kw in ({}, {"concatenation_sent_multiplication": "true", "concatenation_sent_rep": "false"}):
        flags = {k: v == "true" for k, v in kw.items()}
        sm = L.SoftmaxLoss(Dev(), embedding_dimension=D, num_labels=3, **flags).double()
        cols = [emb(B, D), emb(B, D)]
        tensors = [t(c) for c in cols]
        saved = softmax_mod.embed_columns
        softmax_mod.embed_columns = lambda model, feats: tensors
        try:
            lab = np.array([0, 1, 2, 1, 0, 2, 2, 1], dtype=np.float64)
            value = sm.forward([{}, {}], torch.tensor(lab, dtype=torch.long))
        finally:
            softmax_mod.embed_columns = saved
        record(f"softmax_{len(kw)}", "SoftmaxLoss", {"num_labels": 3, **kw}, cols, tensors, value, lab,
               state={"classifier.weight": sm.classifier.weight, "classifier.bias": sm.classifier.bias})

    # MatryoshkaLoss around several inner losses, with a stand-in model
    def matryoshka(name, inner_text, inner_factory, ncol, dims, weights=None, labels=None, width=1, extra=None):
        model = StandIn(D)
        inner = inner_factory(model)
        ml = L.MatryoshkaLoss(model, inner, dims, matryoshka_weights=weights)
        cols = [emb(B, D) for _ in range(ncol)]
        tensors = [t(c) for c in cols]
        lab = None if labels is None else torch.tensor(labels)
        value = ml.forward([{"emb": x} for x in tensors], lab)
        params = {"matryoshka_dims": json.dumps(dims)}
        if weights is not None:
            params["matryoshka_weights"] = json.dumps(weights)
        params.update(extra or {})
        record(name, f"MatryoshkaLoss({inner_text})", params, cols, tensors, value, labels, width)
    matryoshka("matryoshka_mnrl", "MultipleNegativesRankingLoss", lambda m: L.MultipleNegativesRankingLoss(m), 3,
               [8, 4, 2])
    matryoshka("matryoshka_mnrl_weights", "MultipleNegativesRankingLoss", lambda m: L.MultipleNegativesRankingLoss(m), 2,
               [2, 8, 5], [0.25, 1.0, 0.5])
    matryoshka("matryoshka_cosent", "CoSENTLoss", lambda m: L.CoSENTLoss(m), 2, [8, 3], labels=scores)
    matryoshka("matryoshka_mse", "MSELoss", lambda m: L.MSELoss(m), 1, [8, 4], labels=emb(B, D), width=D)
    matryoshka("matryoshka_batch_hard", "BatchHardTripletLoss", lambda m: L.BatchHardTripletLoss(m), 1, [8, 6, 4],
               labels=cls)

    # MultipleNegativesRankingLoss + GlobalOrthogonalRegularizationLoss (components summed)
    cols = [emb(B, D) for _ in range(2)]
    tensors = [t(c) for c in cols]
    value = L.MultipleNegativesRankingLoss(None).compute_loss_from_embeddings(tensors, None)
    value = value + sum(L.GlobalOrthogonalRegularizationLoss(None, mean_weight=0.5).compute_loss_from_embeddings(tensors).values())
    record("mnrl_plus_gor", "MultipleNegativesRankingLoss + GlobalOrthogonalRegularizationLoss", {"mean_weight": 0.5},
           cols, tensors, value)

    out = {"generator": "tools/gen_bienc_loss_refs.py",
           "versions": {"sentence_transformers": sentence_transformers.__version__,
                        "transformers": transformers.__version__, "torch": torch.__version__},
           "cases": CASES}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"{OUT}: {len(CASES)} cases, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
