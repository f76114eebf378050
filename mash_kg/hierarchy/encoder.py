"""Stage II: a hierarchy encoder, the text model fine-tuned on the curated hierarchy.

The transformer itself (the project's `text_model`: the bundled all-MiniLM-L6-v2 or any local
folder) is re-trained on curated *families* (a parent and some of its children). Its mean-pooled
output is mapped onto a Poincaré ball of curvature -1/dim (exp_0; the ball's radius sqrt(dim)
covers the encoder's output range, as in the Hierarchy Transformer, He et al. 2024). A step
samples `batch` families and one child of each as its anchor; a family's prototype is the
tangent-space mean of its name and its other sampled children (the anchor left out):

- hyperbolic clustering: an anchor is nearer its family's prototype than each other family's
  by `margin` (relu(d(a, own) - d(a, other) + margin));
- InfoNCE over the batch's families on directions, cos(anchor, prototype) / T, which is how
  Stage III scores a candidate family;
- centripetal: a family's parent nearer the origin than its children (relu(|p| - |c| + m));
- negatives: in-batch families and, per anchor, `hard_negatives` confusable ones: its parent's
  siblings (the families of its cousins) and, where the source has them, the families of its
  Excludes1 partners. Every depth of the tree is sampled equally (`balance_depth`).

Held-out edges are never given to `train_encoder` (stage2 passes the training edges only).
Training is bounded by `steps` and `max_seconds` (whichever comes first), texts are tokenised
once, capped at `max_length` tokens, and the lower `freeze_layers` transformer layers (and the
word embeddings) stay frozen; the same code runs on CUDA when torch sees a GPU. The result is
an ordinary local model folder (config, weights, tokenizer, mean pooling) that
`text_embed.TextEmbedder` reads like any other, and a training table (one row per logged
step: step, pairs seen, loss terms, seconds). Off by default: it measured worse than the
frozen model on ICD-10-CM placement (README, Measured).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mash_kg.poincare import distance, expmap0, logmap0, norm_to_radius
from mash_kg.settings import EncoderSettings
from mash_kg.text_embed import resolve_model


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def hard_negative_table(
    child: np.ndarray, parent: np.ndarray, excludes: np.ndarray | None = None
) -> dict[int, np.ndarray]:
    """For each child row: rows that are wrong parents but close ones (its parent's siblings,
    i.e. the child's cousins' parents) and its Excludes1 partners."""
    kids: dict[int, list[int]] = {}
    for c, p in zip(child.tolist(), parent.tolist(), strict=True):
        kids.setdefault(p, []).append(c)
    up: dict[int, list[int]] = {}
    for c, p in zip(child.tolist(), parent.tolist(), strict=True):
        up.setdefault(c, []).append(p)
    out: dict[int, set[int]] = {}
    for c, ps in up.items():
        pool = set()
        for p in ps:
            for g in up.get(p, ()):
                pool.update(kids.get(g, ()))
        out[c] = pool - set(ps) - {c}
    if excludes is not None:
        for a, b in excludes.tolist():
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
    return {c: np.array(sorted(v), dtype=np.int64) for c, v in out.items() if v}


def family_weights(families: np.ndarray, parent_of: dict[int, int]) -> np.ndarray:
    """Sampling weights that give every depth of the tree the same share of the steps: a
    tree's deep levels hold most families (ICD-10-CM's 7th characters: 'initial encounter',
    'sequela'), which would otherwise drown the upper levels where codes get placed."""
    depth = np.zeros(len(families), dtype=np.int64)
    for k, f in enumerate(families.tolist()):
        seen, v = {f}, f
        while v in parent_of and parent_of[v] not in seen:
            v = parent_of[v]
            seen.add(v)
        depth[k] = len(seen)
    _, inv, counts = np.unique(depth, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inv]
    return w / w.sum()


@dataclass
class FamilyBatch:
    members: list[np.ndarray]  # per family: [parent row, sampled child rows (anchor excluded)]
    anchors: np.ndarray  # one child row per anchored family
    target: np.ndarray  # the family index of each anchor


def sample_families(
    families: np.ndarray,
    kids: dict[int, list[int]],
    hard: dict[int, np.ndarray],
    parent_of: dict[int, int],
    s: EncoderSettings,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
) -> FamilyBatch:
    """A step's batch: `batch` random families (a parent and some children), one child of
    each as the anchor; for each, `hard_negatives` confusable families join the batch as
    negatives: the parents of the anchor's hard negatives (its parent's siblings, its
    Excludes1 partners' parents), else random ones (in-batch negatives)."""
    picked = list(rng.choice(families, min(s.batch, len(families)), replace=False, p=weights))
    order = [int(f) for f in picked]
    index = {f: k for k, f in enumerate(order)}
    anchors: list[int] = []
    for f in picked:
        a = int(rng.choice(kids[int(f)]))
        anchors.append(a)
        pool = hard.get(a)
        extra = (
            pool[rng.integers(0, len(pool), s.hard_negatives)]
            if pool is not None and len(pool)
            else []
        )
        for h in extra:
            g = int(h) if int(h) in kids else parent_of.get(int(h))
            if g is not None and g in kids and g not in index:
                index[g] = len(order)
                order.append(g)
    members = []
    for f in order:
        ks = [k for k in kids[f] if k not in anchors]
        take = rng.permutation(ks)[: s.family_size] if ks else np.zeros(0, np.int64)
        members.append(np.concatenate([[f], take]).astype(np.int64))
    target = np.array([index[int(f)] for f in picked], dtype=np.int64)
    return FamilyBatch(members, np.array(anchors, dtype=np.int64), target)


def _pool(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def train_encoder(
    texts: list[str],
    child: np.ndarray,
    parent: np.ndarray,
    out_dir: Path,
    settings: EncoderSettings | None = None,
    model: str = "all-MiniLM-L6-v2",
    excludes: np.ndarray | None = None,
    seed: int = 0,
    log: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Fine-tune `model` on (child -> parent) rows of `texts`; writes the model folder to
    `out_dir` and returns the training table (step, pairs, loss, clustering, centripetal,
    infonce, seconds). `log(k)` is called with the steps done since the last call."""
    import torch

    s = settings or EncoderSettings()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    run = _Run.start(model, texts, child, parent, s)
    hard = hard_negative_table(child, parent, excludes)
    parent_of = dict(zip(child.tolist(), parent.tolist(), strict=False))
    kids: dict[int, list[int]] = {}
    for ch_, pa_ in zip(child.tolist(), parent.tolist(), strict=True):
        kids.setdefault(pa_, []).append(ch_)
    families = np.array(sorted(kids), dtype=np.int64)
    weights = family_weights(families, parent_of) if s.balance_depth else None
    rows_out, acc = [], []
    start = time.perf_counter()
    step, pairs = 0, 0
    while len(child) and step < s.steps and time.perf_counter() - start < s.max_seconds:
        batch = sample_families(families, kids, hard, parent_of, s, rng, weights)
        losses = run.step(batch, s)
        if not np.isfinite(losses[0]):
            raise FloatingPointError(f"hierarchy encoder loss became {losses[0]} at step {step}")
        step += 1
        pairs += len(batch.anchors)
        acc.append(losses)
        if step % s.log_every == 0 or step == s.steps:
            rows_out.append(_row(step, pairs, acc, start))
            acc = []
            if log:
                log(s.log_every)
    if acc:
        rows_out.append(_row(step, pairs, acc, start))
    save_model(run.net, run.tok, out_dir)
    return pd.DataFrame(
        rows_out,
        columns=["step", "pairs", "loss", "clustering", "centripetal", "infonce", "seconds"],
    )


def _row(step: int, pairs: int, acc: list, start: float) -> tuple:
    """A row of the training table: the mean losses since the last row."""
    return (step, pairs, *map(float, np.mean(acc, axis=0)), time.perf_counter() - start)


@dataclass
class _Run:
    """The encoder being trained: model, tokens of the texts the edges use, optimiser."""

    net: object
    tok: object
    ids: dict[int, list[int]]
    dev: object
    c: float
    opt: object
    sched: object
    params: list

    @classmethod
    def start(cls, model: str, texts: list[str], child: np.ndarray, parent: np.ndarray, s) -> _Run:
        import torch
        from transformers import AutoModel, AutoTokenizer

        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        src = resolve_model(model)
        dev = _device()
        tok = AutoTokenizer.from_pretrained(src, local_files_only=True)
        net = AutoModel.from_pretrained(src, local_files_only=True).to(dev)
        _freeze(net, s.freeze_layers)
        # tokenisation, once: only the texts the edges use
        used = np.unique(np.concatenate([child, parent])) if len(child) else np.zeros(0, np.int64)
        enc = tok([texts[i] for i in used], truncation=True, max_length=s.max_length)
        ids = {int(u): enc["input_ids"][k] for k, u in enumerate(used)}
        params = [p for p in net.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k: min(1.0, (k + 1) / max(1, s.steps // 10))
        )
        net.train()
        return cls(net, tok, ids, dev, 1.0 / net.config.hidden_size, opt, sched, params)

    def embed_rows(self, rows: np.ndarray):
        """Points on the ball of the texts `rows` (mean-pooled, mapped by expmap0)."""
        import torch

        pad = self.tok.pad_token_id or 0
        seqs = [self.ids[int(r)] for r in rows]
        width = max(len(q) for q in seqs)
        x = torch.full((len(seqs), width), pad, dtype=torch.long)
        m = torch.zeros((len(seqs), width), dtype=torch.long)
        for k, q in enumerate(seqs):
            x[k, : len(q)] = torch.tensor(q)
            m[k, : len(q)] = 1
        x, m = x.to(self.dev), m.to(self.dev)
        hidden = self.net(input_ids=x, attention_mask=m).last_hidden_state
        return expmap0(_pool(hidden, m), self.c)

    def step(self, batch, s) -> tuple[float, float, float, float]:
        """One optimiser step on `batch`; returns (loss, clustering, centripetal, infonce)."""
        import torch

        uniq = np.unique(np.concatenate([*batch.members, batch.anchors]))
        z = self.embed_rows(uniq)
        at = {int(u): k for k, u in enumerate(uniq)}
        cluster, infonce, centri = family_losses(z, at, batch, s, self.c)
        loss = cluster + infonce + s.centripetal_weight * centri
        self.opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.sched.step()
        return loss.item(), cluster.item(), centri.item(), infonce.item()


def family_losses(z, at: dict[int, int], batch, s, c: float):
    """The three losses of a batch of families, from the points `z` of its rows (`at`: row ->
    index in z): clustering (an anchor nearest its own family's prototype, by a margin),
    InfoNCE on the directions (as Stage III scores a family) and centripetal (a family's
    parent nearer the origin than its children)."""
    import torch
    import torch.nn.functional as F

    tangent = logmap0(z, c)
    # a family's prototype: the mean (tangent space at 0) of its name and its sampled
    # children, the anchor left out; the anchor must be nearest its own family's
    protos = torch.stack([tangent[[at[int(r)] for r in m]].mean(0) for m in batch.members])
    zp = expmap0(protos, c)
    anchors = [at[int(a)] for a in batch.anchors]
    d = distance(z[anchors].unsqueeze(1), zp.unsqueeze(0), c)  # (anchors, families)
    target = torch.as_tensor(batch.target, device=z.device)
    d_pos = d[torch.arange(len(target)), target]
    neg = d.masked_fill(F.one_hot(target, d.shape[1]).bool(), float("inf"))
    finite = torch.isfinite(neg)
    hinge = torch.relu(d_pos[:, None] - neg + s.margin) * finite
    cluster = hinge.sum() / finite.sum().clamp(min=1)
    cos = F.normalize(tangent[anchors], dim=-1) @ F.normalize(protos, dim=-1).T
    infonce = F.cross_entropy(cos / s.temperature, target)
    names_z = z[[at[int(m[0])] for m in batch.members]]
    kid_rows = [(f, at[int(r)]) for f, m in enumerate(batch.members) for r in m[1:]]
    if not kid_rows:
        return cluster, infonce, torch.zeros((), device=z.device)
    fi, ki = map(list, zip(*kid_rows, strict=True))
    centri = torch.relu(
        norm_to_radius(names_z[fi], c) - norm_to_radius(z[ki], c) + s.centripetal_margin
    )
    return cluster, infonce, centri.mean()


def _freeze(net, layers: int) -> None:
    """Freeze the word embeddings and the lower `layers` transformer layers."""
    emb = getattr(net, "embeddings", None)
    if emb is not None:
        for p in emb.parameters():
            p.requires_grad = False
    blocks = getattr(getattr(net, "encoder", None), "layer", [])
    for block in list(blocks)[:layers]:
        for p in block.parameters():
            p.requires_grad = False


def save_model(net, tok, out_dir: Path) -> None:
    """An ordinary local model folder: config, safetensors weights, tokenizer, mean pooling."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    net.eval()
    net.save_pretrained(out_dir, safe_serialization=True)
    tok.save_pretrained(out_dir)
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    (out_dir / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": net.config.hidden_size,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_cls_token": False,
            }
        )
        + "\n"
    )


def encode_points(
    model_dir: Path, texts: list[str], max_length: int = 64, batch: int = 256
) -> np.ndarray:
    """The encoder's points on its ball (curvature -1/dim): exp_0 of the mean-pooled output."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    dev = _device()
    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    net = AutoModel.from_pretrained(model_dir, local_files_only=True).to(dev).eval()
    c = 1.0 / net.config.hidden_size
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), net.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for k in range(0, len(order), batch):
            rows = order[k : k + batch]
            b = tok(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(dev)
            z = expmap0(_pool(net(**b).last_hidden_state, b["attention_mask"]), c)
            out[rows] = z.cpu().numpy()
    return out
