"""Arena-Hard v2 (Li et al. 2024): questions loader and the official win-rate scorer.

Each answer is judged against the category's fixed baseline in two games: game 1 shows the
baseline as A, game 2 shows it as B. A verdict becomes battle outcomes for the evaluated model
(1 win, 0.5 tie, 0 loss); a strong verdict (`>>`) counts 3 times. A question with a failed game is
dropped. Score = mean of 100 bootstrap means over the battles, interval = their 5% and 95%
quantiles (as arena-hard-auto's show_result.py; the RNG is seeded here).

Style control (optional): a Bradley-Terry logistic regression of the outcomes on an intercept plus
the normalised length difference and markdown-density differences (headers, lists, bold) between
the answer and the baseline; the score is sigmoid(intercept), i.e. the win rate at equal style.
Features are divided by their standard deviation but not centred: with a single model against
the baseline, centring would move the style effect back into the intercept.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rcstudio.errors import UserError
from rcstudio.evals import verdicts
from rcstudio.evals.records import Record, read_records, unique_ids

CATEGORIES = ("hard_prompt", "creative_writing")
STRONG_WEIGHT = 3
N_BOOTSTRAP = 100


@dataclass(frozen=True)
class ArenaQuestion:
    uid: str
    category: str
    subcategory: str
    prompt: str


def load_questions(path: str | Path) -> list[ArenaQuestion]:
    """`question.jsonl` of arena-hard-auto (uid, category, subcategory, prompt)."""
    out: list[ArenaQuestion] = []
    for rec, uid in unique_ids(read_records(path), "uid"):
        prompt = rec.data.get("prompt")
        if prompt is None and isinstance(rec.data.get("turns"), list) and rec.data["turns"]:
            prompt = rec.data["turns"][0].get("content")  # v0.1 layout
        if not isinstance(prompt, str):
            raise rec.fail("missing field 'prompt'", key="prompt")
        out.append(ArenaQuestion(uid, rec.require("category", str), str(rec.data.get("subcategory", "")), prompt))
    return out


@dataclass(frozen=True)
class ArenaAnswer:
    """A question with the evaluated model's answer and the baseline's (input of a judge run)."""

    uid: str
    category: str
    prompt: str
    answer: str
    baseline_answer: str


def load_answers(path: str | Path, questions: Sequence[ArenaQuestion] | None = None) -> list[ArenaAnswer]:
    """Rows with `uid`, `answer`, `baseline_answer` (and `category` + `prompt` unless `questions`
    supplies them): what a judge run on Arena-Hard needs."""
    by_uid = {q.uid: q for q in questions} if questions else {}
    out: list[ArenaAnswer] = []
    for rec, uid in unique_ids(read_records(path), "uid"):
        q = by_uid.get(uid)
        if by_uid and q is None:
            raise rec.fail(f"question {uid!r} is not in the questions file", key="uid")
        category = q.category if q else rec.require("category", str)
        prompt = q.prompt if q else rec.require("prompt", str)
        out.append(ArenaAnswer(uid, category, prompt, rec.require("answer", str), rec.require("baseline_answer", str)))
    return out


def battle_outcomes(game1: str | None, game2: str | None, weight: int = STRONG_WEIGHT) -> list[float] | None:
    """Outcomes for the evaluated model from its two games (None if either game failed).

    Game 1: baseline is A, so A winning is a loss; game 2: the model is A.
    """
    if game1 is None or game2 is None:
        return None
    out: list[float] = []
    for verdict, model_is_a in ((game2, True), (game1, False)):
        v = verdicts.normalize(verdict)
        s = verdicts.sign(v)
        value = 0.5 if s == 0 else float((s == -1) == model_is_a)
        out.extend([value] * (weight if v in ("A>>B", "B>>A") else 1))
    return out


def bootstrap_mean(outcomes: Sequence[float], n_boot: int = N_BOOTSTRAP, seed: int = 0) -> tuple[float, float, float]:
    """(mean, 5% quantile, 95% quantile) of `n_boot` bootstrap means over the battles."""
    x = np.asarray(outcomes, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    means = x[idx].mean(axis=1)
    return float(means.mean()), float(np.quantile(means, 0.05)), float(np.quantile(means, 0.95))


# --- style features -----------------------------------------------------------------------------

_HEADER = re.compile(r"^#{1,6} ", re.M)
_ORDERED = re.compile(r"^\s*\d+\. ", re.M)
_UNORDERED = re.compile(r"^\s*[-*+] ", re.M)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
_CODE = re.compile(r"```.*?```", re.S)


def style_metadata(text: str) -> dict[str, Any]:
    """Length and markdown counts of an answer, in arena-hard-auto's metadata layout.

    Token length is a whitespace word count here (upstream uses tiktoken); only ratios between
    the two answers enter the features, so the unit cancels to first order. Code blocks are
    ignored for markdown counts, as upstream does.
    """
    plain = _CODE.sub("", text)
    return {
        "token_len": len(text.split()),
        "header_count": {"h": len(_HEADER.findall(plain))},
        "list_count": {"ordered": len(_ORDERED.findall(plain)), "unordered": len(_UNORDERED.findall(plain))},
        "bold_count": {"**": len(_BOLD.findall(plain))},
    }


def _counts(meta: Mapping[str, Any]) -> np.ndarray:
    def total(v: Any) -> float:
        return float(sum(v.values())) if isinstance(v, Mapping) else float(v)

    return np.array([total(meta["token_len"]), total(meta["header_count"]), total(meta["list_count"]),
                     total(meta["bold_count"])])


def style_features(model_meta: Mapping[str, Any], baseline_meta: Mapping[str, Any]) -> np.ndarray:
    """[length diff, header / list / bold density diffs], each normalised to (-1, 1)."""
    m, b = _counts(model_meta), _counts(baseline_meta)
    out = np.zeros(4)
    out[0] = (m[0] - b[0]) / max(m[0] + b[0], 1.0)
    md = m[1:] / max(m[0], 1.0)
    bd = b[1:] / max(b[0], 1.0)
    out[1:] = (md - bd) / (md + bd + 1)
    return out


def answer_style(answer: str, baseline_answer: str) -> tuple[float, ...]:
    """Style features of an answer against the baseline's, from the two texts."""
    return tuple(style_features(style_metadata(answer), style_metadata(baseline_answer)))


def _fit_bt(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logistic regression with soft labels (ties = 0.5), intercept first; scipy L-BFGS."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    X = np.hstack([np.ones((len(x), 1)), x])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = X @ w
        val = -(y * log_expit(z) + (1 - y) * log_expit(-z)).sum()
        grad = X.T @ (expit(z) - y)
        return float(val), grad

    return minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B").x


def style_controlled(
    outcomes: Sequence[float], features: np.ndarray, n_boot: int = N_BOOTSTRAP, seed: int = 0
) -> tuple[float, float, float, list[float]]:
    """(median, 5%, 95%) of the bootstrapped style-controlled win rate, plus median coefficients."""
    from scipy.special import expit

    y = np.asarray(outcomes, dtype=float)
    x = np.asarray(features, dtype=float)
    std = x.std(axis=0)
    keep = std > 1e-12
    x = x[:, keep] / std[keep]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    coefs = np.stack([_fit_bt(x[i], y[i]) for i in idx])
    rates = expit(coefs[:, 0])
    full = np.zeros(4)
    full[keep] = np.median(coefs[:, 1:], axis=0) if keep.any() else []
    return float(np.median(rates)), float(np.quantile(rates, 0.05)), float(np.quantile(rates, 0.95)), full.tolist()


# --- judgments ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgment:
    """The two games of one question; `style` = per-battle features when style data was given."""

    uid: str
    category: str
    games: tuple[str | None, str | None]
    style: tuple[float, ...] | None = None
    line: int = 0


@dataclass
class CategoryScore:
    score: float
    ci_low: float
    ci_high: float
    n: int
    dropped: int = 0
    style_coefs: list[float] | None = None

    def to_json(self) -> dict:
        out = {"score": self.score, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n,
               "dropped": self.dropped}
        if self.style_coefs is not None:
            out["style_coefs"] = self.style_coefs
        return out


@dataclass
class ArenaHardResult:
    categories: dict[str, CategoryScore] = field(default_factory=dict)
    seed: int = 0
    n_boot: int = N_BOOTSTRAP
    style_control: bool = False

    def to_json(self) -> dict:
        return {c: s.to_json() for c, s in self.categories.items()}


def _games(rec: Record) -> tuple[str | None, str | None]:
    raw = rec.require("games", list)
    if len(raw) != 2:
        raise rec.fail(f"'games' holds {len(raw)} values; expected 2 (baseline as A, then as B)", key="games")
    out = []
    for g in raw:
        if isinstance(g, Mapping):  # arena-hard-auto layout: {"score": "A>B", "judgment": ...}
            g = g.get("score")
        try:
            out.append(verdicts.normalize(g))
        except ValueError as exc:
            raise rec.fail(str(exc), key="games") from None
    return out[0], out[1]


def _style(rec: Record) -> tuple[float, ...] | None:
    meta = rec.data.get("metadata")
    try:
        if isinstance(meta, Mapping) and "model" in meta and "baseline" in meta:
            return tuple(style_features(meta["model"], meta["baseline"]))
        if isinstance(rec.data.get("answer"), str) and isinstance(rec.data.get("baseline_answer"), str):
            return answer_style(rec.data["answer"], rec.data["baseline_answer"])
    except (KeyError, TypeError, ValueError) as exc:
        raise rec.fail(f"bad style metadata: {exc}", key="metadata") from None
    return None


def load_judgments(path: str | Path) -> list[Judgment]:
    """Rows with `uid`, `category` and `games` = [game 1, game 2] verdicts (A>>B..B>>A or null);
    optional `metadata` = {model, baseline} (arena-hard answer metadata) or `answer` +
    `baseline_answer` texts enable style control."""
    out: list[Judgment] = []
    seen: set[tuple[str, str]] = set()
    for rec in read_records(path):
        uid = str(rec.require("uid"))
        category = rec.require("category", str)
        if (category, uid) in seen:
            raise rec.fail(f"duplicate judgment for question {uid!r}", key="uid")
        seen.add((category, uid))
        out.append(Judgment(uid, category, _games(rec), _style(rec), rec.line))
    return out


def score(
    judgments: Iterable[Judgment],
    seed: int = 0,
    n_boot: int = N_BOOTSTRAP,
    weight: int = STRONG_WEIGHT,
    style_control: bool = False,
) -> ArenaHardResult:
    """Per-category score with 5-95% interval, in percent."""
    battles: dict[str, list[float]] = defaultdict(list)
    feats: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    kept: dict[str, int] = defaultdict(int)
    dropped: dict[str, int] = defaultdict(int)
    for j in judgments:
        outcomes = battle_outcomes(*j.games, weight=weight)
        if outcomes is None:
            dropped[j.category] += 1
            continue
        kept[j.category] += 1
        battles[j.category].extend(outcomes)
        if style_control:
            if j.style is None:
                raise UserError(f"style control needs answer metadata; question {j.uid!r} has none",
                                line=j.line or None, key="metadata",
                                hint="give 'metadata' {model, baseline} or 'answer' and 'baseline_answer'")
            feats[j.category].extend([j.style] * len(outcomes))
    if not kept and not dropped:
        raise UserError("no Arena-Hard judgments to score")
    result = ArenaHardResult(seed=seed, n_boot=n_boot, style_control=style_control)
    for cat in sorted(set(kept) | set(dropped), key=lambda c: (CATEGORIES.index(c) if c in CATEGORIES else 9, c)):
        if not kept[cat]:
            result.categories[cat] = CategoryScore(0.0, 0.0, 0.0, 0, dropped[cat])
            continue
        coefs = None
        if style_control:
            mean, lo, hi, coefs = style_controlled(battles[cat], np.array(feats[cat]), n_boot, seed)
        else:
            mean, lo, hi = bootstrap_mean(battles[cat], n_boot, seed)
        result.categories[cat] = CategoryScore(
            round(100 * mean, 2), round(100 * lo, 2), round(100 * hi, 2), kept[cat], dropped[cat],
            [round(c, 4) for c in coefs] if coefs is not None else None,
        )
    return result


def score_file(path: str | Path, seed: int = 0, n_boot: int = N_BOOTSTRAP, style_control: bool = False) -> ArenaHardResult:
    return score(load_judgments(path), seed=seed, n_boot=n_boot, style_control=style_control)
