"""Quality figures shared by tests and benchmarks: character error rate, skew residuals."""

from __future__ import annotations


def levenshtein(a: str, b: str) -> int:
    """Edit distance (rapidfuzz when installed; a plain dynamic programme otherwise)."""
    try:
        from rapidfuzz.distance import Levenshtein

        return int(Levenshtein.distance(a, b))
    except ImportError:  # pragma: no cover - rapidfuzz is a dev dependency
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]


def strip_ws(text: str) -> str:
    return "".join(text.split())


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate, whitespace ignored (Chinese has none; engines add some)."""
    ref, hyp = strip_ws(reference), strip_ws(hypothesis)
    return levenshtein(ref, hyp) / max(1, len(ref))
