"""Tasks of bench/align.py for issue 15: alignment with few anchors, across vocabularies and
languages, where the default method (`fused`: evidence weighted by held-out anchors) must
never rank worse than the text model alone (`text_nn`, measured in the same run).

- few_anchors_icd10cm_who: WHO ICD-10 as a site with opaque ids and its own tree against
  ICD-10-CM (every chapter; A-E with --quick), anchors 0.5/1/2/5% of the shared codes, the rest
  evaluated among the shared ICD-10-CM codes; `no_domain_anchors`: 20% anchors, all from
  chapters other than the evaluated one (each chapter letter is a domain here).
- few_anchors_synthea: the synthea_sites populations (site B relabelled to opaque local
  codes with name variants) at the same shares; `no_domain_anchors`: 20% anchors, none of
  them labs, labs evaluated.
- cross_vocabulary: a site in WHO ICD-10 and one in ICD-10-CM, anchors only from the
  crosswalk WHO category -> ICD-10-CM category (same code); evaluated: the subcategories.
- atc_languages: ATC substances of groups A, B, C, J (GNUmed's list, real EN/DE names):
  site A English, site B German with opaque ids, anchors 0/1/5%; and site B with a German
  and an English column, where the build's name choice (names.choose_names) must pick the
  English one.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from mash_kg.align import align_sites, counterparts
from mash_kg.features import parent_index, tree_context
from mash_kg.fusion import View, _unit, fuse
from mash_kg.loaders import get_loader
from mash_kg.names import choose_names, model_reading
from mash_kg.settings import CacheSettings
from mash_kg.stage1 import anchor_pairs
from mash_kg.text_embed import TextEmbedder, resolve_model

SHARES = (0.005, 0.01, 0.02, 0.05)
ALL_CHAPTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
QUICK_CHAPTERS = "ABCDE"  # --quick: the transport plan of all chapters takes minutes per fit
# the maps alone, to show what fusion guards against; the transport maps alone only where
# their plan is small (2 cores shared with other jobs)
MAPS = ("procrustes",)
SYNTHEA_MAPS = ("procrustes", "sinkhorn", "neural_ot")
ATC_GROUPS = "ABCJ"  # anatomical groups of the atc_languages task (1,665 substances)


def _embedder() -> TextEmbedder:
    return TextEmbedder(cache_dir=CacheSettings().text, batch_size=128)


def _p_at(idx: np.ndarray, gold: np.ndarray) -> dict:
    hit5 = (idx[:, :5] == gold[:, None]).any(axis=1)
    return {
        "p_at_1": round(float((idx[:, 0] == gold).mean()), 4),
        "p_at_5": round(float(hit5.mean()), 4),
    }


def _text_nn(q: np.ndarray, t: np.ndarray, gold: np.ndarray) -> dict:
    start = time.perf_counter()
    sims = _unit(q) @ _unit(t).T  # cosine in float64, as the build computes it
    top = np.argsort(-sims, axis=1, kind="stable")[:, :5]  # ties: the lower row first
    return {**_p_at(top, gold), "seconds": round(time.perf_counter() - start, 2)}


def _run(
    views: dict[str, View],
    anchors: np.ndarray,
    ev: np.ndarray,
    gold: np.ndarray,
    domains: np.ndarray | None = None,
    maps: tuple[str, ...] = MAPS,
) -> dict:
    """text_nn, fused (the build's default) and the maps alone on one anchor set."""
    text = views["text"]
    out = {"text_nn": _text_nn(text.source[ev], text.target, gold)}
    f = fuse(views, anchors, domains=domains, k=5, min_anchors=20)
    out["fused"] = {
        **_p_at(f.idx[ev], gold),
        "seconds": round(f.seconds, 2),
        "weights": f.weights,
        "notes": f.notes,
    }
    if len(anchors) >= 2:
        tv = views["transport"]
        for method in maps:
            al = align_sites(tv.source, tv.target, anchors, method)
            idx, _, _ = counterparts(al, tv.target, k=5)
            out[method] = {**_p_at(idx[ev], gold), "seconds": round(al.seconds, 2)}
    return out


def _who_cm(chapters: str):
    cm, who = get_loader("icd10cm")(), get_loader("icd10who")()
    cmn = cm.nodes[cm.nodes["code"].str[0].isin(list(chapters))].reset_index(drop=True)
    whn = who.nodes[who.nodes["code"].str[0].isin(list(chapters))].reset_index(drop=True)
    return cm, who, cmn, whn


def few_anchors_icd10cm_who(chapters: str = ALL_CHAPTERS, seed: int = 0) -> dict:
    cm, who, cmn, whn = _who_cm(chapters)
    w_par = parent_index(list(whn["id"]), list(who.edges["start"]), list(who.edges["end"]))
    c_par = parent_index(list(cmn["id"]), list(cm.edges["start"]), list(cm.edges["end"]))
    emb = _embedder()
    tc, tw = emb.embed(list(cmn["name"])), emb.embed(list(whn["name"]))
    c_row = {c: i for i, c in enumerate(cmn["code"])}
    shared = [
        (i, c_row[c])
        for i, (c, k) in enumerate(zip(whn["code"], whn["kind"], strict=True))
        if k == "subcategory" and c in c_row
    ]
    src = np.array([s for s, _ in shared])
    cand = np.array([t for _, t in shared])  # the reference protocol: the shared CM codes
    views = {
        "text": View(tw[src], tc[cand]),
        "transport": View(tree_context(tw, w_par)[src], tree_context(tc, c_par)[cand], "sinkhorn"),
    }
    chapter = whn["code"].str[0].to_numpy()[src]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(shared))
    out: dict[str, dict] = {}
    for share in SHARES:
        n_anchor = max(1, round(share * len(shared)))
        a = order[:n_anchor]
        ev = order[n_anchor:]
        print(f"few_anchors_icd10cm_who {share:.1%}: {n_anchor} anchors", flush=True)
        out[f"anchors_{share:g}"] = {
            "n": int(len(ev)),
            "anchors": int(n_anchor),
            "methods": _run(views, np.stack([a, a], 1), ev, ev),
        }
    # no anchors in the evaluated chapter: 20% anchors from the others
    held = "E"
    pool = order[chapter[order] != held]
    a = pool[: len(shared) // 5]
    ev = np.flatnonzero(chapter == held)
    print("few_anchors_icd10cm_who: no anchors in chapter E", flush=True)
    out["no_domain_anchors"] = {
        "n": int(len(ev)),
        "anchors": int(len(a)),
        "evaluated_domain": f"chapter {held}",
        "methods": _run(views, np.stack([a, a], 1), ev, ev, domains=chapter),
    }
    common = {"shared": int(len(shared)), "candidates": int(len(cand)), "chapters": chapters}
    return {k: {**v, **common} for k, v in out.items()}


def cross_vocabulary(chapters: str = ALL_CHAPTERS, seed: int = 0) -> dict:
    cm, who, cmn, whn = _who_cm(chapters)
    # site W codes in WHO ICD-10 under its own vocabulary name, site C in ICD-10-CM
    w_codes = whn[whn["kind"].isin(["category", "subcategory"])].reset_index(drop=True)
    c_codes = cmn[cmn["kind"].isin(["category", "subcategory"])].reset_index(drop=True)
    c_codes = c_codes[c_codes["code"].str.len() <= 5].reset_index(drop=True)  # up to X00.0
    w_par = parent_index(list(w_codes["id"]), list(who.edges["start"]), list(who.edges["end"]))
    c_par = parent_index(list(c_codes["id"]), list(cm.edges["start"]), list(cm.edges["end"]))
    w_site = w_codes.assign(id="W/WHO:" + w_codes["code"], vocab="WHO")
    # the crosswalk the graph would hold: WHO ICD-10 category -> ICD-10-CM category
    cats = w_codes.loc[w_codes["kind"] == "category", "code"]
    crosswalk = pd.DataFrame(
        {"id": "W/WHO:" + cats, "other_id": "ICD10CM:" + cats, "source": "who_category"}
    )
    anchors = anchor_pairs(w_site, c_codes, crosswalk=crosswalk)
    c_row = {c: i for i, c in enumerate(c_codes["code"])}
    ev = np.array(
        [
            i
            for i, (c, k) in enumerate(zip(w_codes["code"], w_codes["kind"], strict=True))
            if k == "subcategory" and c in c_row
        ]
    )
    gold = np.array([c_row[c] for c in w_codes["code"].to_numpy()[ev]])
    emb = _embedder()
    tw, tc = emb.embed(list(w_codes["name"])), emb.embed(list(c_codes["name"]))
    views = {
        "text": View(tw, tc),
        "transport": View(tree_context(tw, w_par), tree_context(tc, c_par), "sinkhorn"),
    }
    print(f"cross_vocabulary: {len(anchors)} crosswalk anchors, {len(ev)} evaluated", flush=True)
    return {
        "cross_vocabulary": {
            "n": int(len(ev)),
            "candidates": int(len(c_codes)),
            "anchors": int(len(anchors)),
            "chapters": chapters,
            "note": "anchors only from the category crosswalk; evaluated: "
            "WHO subcategories (ids W/WHO:...) against ICD-10-CM categories and subcategories",
            "methods": _run(views, anchors, ev, gold),
        }
    }


def atc_languages(atc: Path, seed: int = 0) -> dict:
    cols = ["code", "en", "fr", "de"]
    df = pd.read_csv(atc, header=None, names=cols, dtype=str, keep_default_na=False)
    df = df[df["code"].str.len() == 7].drop_duplicates("code").reset_index(drop=True)
    df = df[(df["de"] != "") & (df["en"] != "") & df["code"].str[0].isin(list(ATC_GROUPS))]
    df = df.reset_index(drop=True)
    emb = _embedder()
    t_en, t_de = emb.embed(list(df["en"])), emb.embed(list(df["de"]))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(df))
    out: dict[str, dict] = {}
    for share in (0.0, 0.01, 0.05):
        n_anchor = round(share * len(df))
        a, ev = order[:n_anchor], order[n_anchor:]
        views = {"text": View(t_de, t_en), "transport": View(t_de, t_en, "sinkhorn")}
        print(f"atc_languages {share:.0%}: {n_anchor} anchors", flush=True)
        out[f"anchors_{share:g}"] = {
            "n": int(len(ev)),
            "anchors": int(n_anchor),
            "methods": _run(views, np.stack([a, a], 1), ev, ev),
        }
    # a site with both columns: the build embeds the one the model reads
    tokenize, scripts = model_reading(resolve_model())
    site = pd.DataFrame({"site": "B", "name": df["de"], "name_en": df["en"]})
    texts, figures = choose_names(site, tokenize, scripts)
    t_chosen = emb.embed(texts)
    a, ev = order[: round(0.01 * len(df))], order[round(0.01 * len(df)) :]
    views = {"text": View(t_chosen, t_en), "transport": View(t_chosen, t_en, "sinkhorn")}
    out["two_columns_anchors_0.01"] = {
        "n": int(len(ev)),
        "anchors": int(len(a)),
        "names": figures,
        "methods": _run(views, np.stack([a, a], 1), ev, ev, maps=()),
    }
    common = {
        "substances": int(len(df)),
        "source": str(atc),
        "note": "ATC level-5 "
        "substances of GNUmed's 2009 list; site B's names German (text model: "
        "all-MiniLM-L6-v2, English); text_nn = the model's cosine German -> English",
    }
    return {f"atc_languages_{k}": {**v, **common} for k, v in out.items()}


def few_anchors_synthea(n_patients: int = 80, seed: int = 0) -> dict:
    from synthea_task import relabel, synthea_population

    from mash_kg.features import FEATURE_WEIGHTS
    from mash_kg.loaders.fhir import load_site
    from mash_kg.sites import SiteData
    from mash_kg.stage1 import fused_views, site_vectors

    raw = [load_site(f"S{s}", [synthea_population(s, n_patients)]) for s in (1, 2)]
    site_a = SiteData("A", raw[0].codes.assign(site="A"), events=raw[0].events)
    site_b, gold_map = relabel(raw[1], "B", seed)
    emb = _embedder()
    text = [emb.embed(list(s.codes["name"])) for s in (site_a, site_b)]
    ref, sv = site_vectors([site_a, site_b], text, dim=128, window_days=30, seed=seed)
    views = fused_views(sv, ref, "both", FEATURE_WEIGHTS, "sinkhorn")
    ref_row = {c: i for i, c in enumerate(ref.codes["id"])}
    pairs = np.array(
        [(i, ref_row[gold_map[c]]) for i, c in enumerate(sv.codes["id"]) if gold_map[c] in ref_row]
    )
    pairs = pairs[np.random.default_rng(seed).permutation(len(pairs))]
    domains = sv.codes["domain"].to_numpy()
    out: dict[str, dict] = {}
    for share in SHARES:
        n_anchor = max(1, round(share * len(pairs)))
        a, ev = pairs[:n_anchor], pairs[n_anchor:]
        print(f"few_anchors_synthea {share:.1%}: {n_anchor} anchors", flush=True)
        out[f"anchors_{share:g}"] = {
            "n": int(len(ev)),
            "anchors": int(n_anchor),
            "methods": _run(views, a, ev[:, 0], ev[:, 1], domains, SYNTHEA_MAPS),
        }
    lab = domains[pairs[:, 0]] == "lab"
    a = pairs[~lab][: len(pairs) // 5]
    ev = pairs[lab]
    print("few_anchors_synthea: no lab anchors", flush=True)
    out["no_domain_anchors"] = {
        "n": int(len(ev)),
        "anchors": int(len(a)),
        "evaluated_domain": "lab",
        "methods": _run(views, a, ev[:, 0], ev[:, 1], domains, SYNTHEA_MAPS),
    }
    common = {
        "shared": int(len(pairs)),
        "patients_per_site": n_patients,
        "sites": {"A": len(site_a.codes), "B": len(site_b.codes)},
        "note": "A: Synthea seed 1 with its standard codes; B: seed 2 relabelled to "
        "opaque local codes with name variants (synthea_task.relabel); evaluated against "
        "all of A's codes",
    }
    return {k: {**v, **common} for k, v in out.items()}
