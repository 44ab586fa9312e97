"""One Korean keyword analyzer for documents and queries: Kiwi morphemes filtered by part of speech.

Particles, endings, suffixes and punctuation are dropped; nouns, numbers, foreign words, roots and
verb/adjective lemmas are kept. Nouns written together ("과기정통부", "집적단지") are indexed both whole
and split, so a query can match either spelling. Its settings are saved in the index manifest and the
same analyzer is rebuilt from them at query time.

>>> a = KoreanAnalyzer()
>>> a.analyze("과기정통부는 GPU 1만장을 확보한다")
['과기', '정통부', '과기정통부', 'gpu', '1', '만', '확보']
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["AnalyzerConfig", "KoreanAnalyzer", "read_synonyms", "read_userdict"]

DEFAULT_TAGS = ("NNG", "NNP", "NR", "NP", "VV", "VA", "XR", "SL", "SN", "SH", "W_URL", "W_EMAIL", "W_SERIAL", "W_HASHTAG")
_NOUNS = ("NNG", "NNP")
# question words and light verbs: they carry no topic in a question ("얼마야?", "누구지?", "알려줘")
DEFAULT_STOPWORDS = ("뭐", "무엇", "누구", "어디", "언제", "얼마", "며칠", "몇", "어디어디", "무엇무엇", "누구누구",
                     "이름", "이유", "지금", "정도", "곳", "때", "것", "이것", "그것", "저것", "여기", "거기", "이거", "그거",
                     "되다", "하다", "있다", "없다", "알리다", "주다", "그렇다", "이렇다", "어떻다", "같다", "보다", "말하다")
_USER_TAGS = ("NNG", "NNP", "NR", "NP", "VV", "VA", "XR", "SL", "SH")


@dataclass(frozen=True)
class AnalyzerConfig:
    """Settings of :class:`KoreanAnalyzer`; stored in ``manifest.json`` under ``analyzer``."""

    tags: tuple[str, ...] = DEFAULT_TAGS
    compounds: bool = True  # adjacent nouns also indexed joined ("과기"+"정통부" -> "과기정통부")
    userdict: tuple[tuple[str, str, float], ...] = field(default_factory=tuple)  # (form, tag, score)
    stopwords: tuple[str, ...] = DEFAULT_STOPWORDS  # terms (after lemmatisation) never indexed
    synonyms: tuple[tuple[str, ...], ...] = field(default_factory=tuple)  # groups of equivalent terms
    # an adverb of two or more syllables that 하다 makes a verb or adjective ("주춤하다", "출렁했다", "가득한") is
    # indexed like the roots Kiwi tags XR ("꾸준한" -> 꾸준): Kiwi tags these MAG + XSV/XSA, and adverbs are not
    # indexed, so "주춤한 이유" found nothing that was "주춤한 모습". One syllable (잘하다, 못하다) says too little.
    adverb_roots: bool = True

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["tags"] = list(self.tags)
        d["userdict"] = [list(e) for e in self.userdict]
        d["stopwords"] = list(self.stopwords)
        d["synonyms"] = [list(g) for g in self.synonyms]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AnalyzerConfig:
        return cls(
            tags=tuple(d.get("tags", DEFAULT_TAGS)),
            compounds=bool(d.get("compounds", True)),
            userdict=tuple((str(f), str(t), float(s)) for f, t, s in d.get("userdict", [])),
            stopwords=tuple(d.get("stopwords", DEFAULT_STOPWORDS)),
            synonyms=tuple(tuple(str(x) for x in g) for g in d.get("synonyms", [])),
            adverb_roots=bool(d.get("adverb_roots", False)),  # indexes from before it analysed without it
        )


def read_userdict(path: str | Path) -> tuple[tuple[tuple[str, str, float], ...], list[str]]:
    """Parse a Kiwi user dictionary (``form<TAB>tag[<TAB>score]`` per line, ``#`` comments).

    Returns the entries and a warning per line that could not be used.
    """
    entries: list[tuple[str, str, float]] = []
    warnings: list[str] = []
    text = Path(path).read_text(encoding="utf-8-sig")
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].strip() or parts[1].strip() not in _USER_TAGS:
            warnings.append(f"{path}:{n}: expected 'form<TAB>TAG[<TAB>score]' with TAG in {', '.join(_USER_TAGS)}; line ignored")
            continue
        try:
            score = float(parts[2]) if len(parts) > 2 and parts[2].strip() else 0.0
        except ValueError:
            warnings.append(f"{path}:{n}: score {parts[2]!r} is not a number; line ignored")
            continue
        entries.append((parts[0].strip(), parts[1].strip(), score))
    return tuple(entries), warnings


_APOSTROPHES = frozenset("'‘’`")


def _abbreviated_year(before: Any, tok: Any) -> bool:
    """A two-digit year written after an apostrophe, as Korean official documents do ('21년, ’25.1)."""
    return (before is not None and before.form in _APOSTROPHES and before.start + before.len == tok.start
            and len(tok.form) >= 2 and tok.form[:2].isdigit() and (len(tok.form) == 2 or tok.form[2] == "."))


def read_synonyms(path: str | Path) -> tuple[tuple[tuple[str, ...], ...], list[str]]:
    """Parse a synonym file: one group of equivalent words per line, separated by tabs or commas.

    Returns the groups and a warning per line that could not be used.
    """
    groups: list[tuple[str, ...]] = []
    warnings: list[str] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = tuple(w.strip() for w in line.replace(",", "\t").split("\t") if w.strip())
        if len(words) < 2:
            warnings.append(f"{path}:{n}: a synonym group needs two or more words separated by tabs or commas; line ignored")
            continue
        groups.append(words)
    return tuple(groups), warnings


class KoreanAnalyzer:
    """Kiwi-based analyzer; thread-safe (calls into Kiwi are serialised).

    >>> KoreanAnalyzer().analyze("인공지능 분야의 추경은 1,076억원이다.")
    ['인공', '지능', '인공지능', '분야', '추경', '1076', '억']
    """

    def __init__(self, config: AnalyzerConfig | None = None) -> None:
        from kiwipiepy import Kiwi

        self.config = config or AnalyzerConfig()
        self._tags = frozenset(self.config.tags)
        self._stop = frozenset(self.config.stopwords)
        self._lock = threading.Lock()
        self._kiwi = Kiwi()
        # a dictionary word is indexed whole and as the parts Kiwi finds without the dictionary
        self._parts: dict[str, list[str]] = {}
        # synonyms: each member's whole term also emits the other members' terms (filled below; empty while the
        # dictionary words are analysed)
        self._syn: dict[str, list[str]] = {}
        for form, _tag, _score in self.config.userdict:
            # analysed in a tiny sentence frame: alone, Kiwi tends to keep an unknown word whole
            toks = [t for t in self._kiwi.tokenize(form + "는") if t.start + t.len <= len(form)]
            self._parts[form] = [t for t in self._filter(toks, compounds=False) if t != form]
        for form, tag, score in self.config.userdict:
            self._kiwi.add_user_word(form, tag, score)
        self.warnings: list[str] = []
        for group in self.config.synonyms:
            terms = []
            for word in group:
                analysed = self._filter(self._kiwi.tokenize(word))
                whole = word.lower() if word.isascii() else word
                if whole in analysed:
                    terms.append(whole)
                else:
                    self.warnings.append(f"synonym {word!r} is not one term for the analyzer ({analysed}); "
                                         f"add it to userdict.tsv to use it")
            for t in terms:
                self._syn.setdefault(t, []).extend(x for x in terms if x != t and x not in self._syn.get(t, []))

    @property
    def kiwi(self):  # kiwipiepy.Kiwi
        """The underlying ``kiwipiepy.Kiwi`` (use under :attr:`lock` from several threads)."""
        return self._kiwi

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def _filter(self, tokens: Iterable[Any], compounds: bool | None = None, predicates: bool = True) -> list[str]:
        compounds = self.config.compounds if compounds is None else compounds
        out: list[str] = []
        prev = None  # previous noun token, for joined compounds
        before: Any = None  # previous token of any kind (a kiwipiepy Token)
        last: Any
        toks = list(tokens)
        for i, tok in enumerate(toks):
            last, before = before, tok
            tag = tok.tag.split("-", 1)[0] if tok.tag.startswith(("VV", "VA")) else tok.tag
            if tag == "MAG" and self.config.adverb_roots and len(tok.form) >= 2 and i + 1 < len(toks) \
                    and toks[i + 1].tag in ("XSV", "XSA") and toks[i + 1].start == tok.start + tok.len:
                tag = "XR"  # 주춤/MAG + 하/XSV: the root of 주춤하다
            if tag not in self._tags or (not predicates and tag in ("VV", "VA")):
                prev = None
                continue
            form = tok.form
            if tag in ("VV", "VA"):
                form = tok.lemma if getattr(tok, "lemma", None) else form + "다"
            elif tag == "SL":
                form = form.lower()
            elif tag == "SN":
                form = form.replace(",", "")
                if _abbreviated_year(last, tok):
                    out.append("20" + form[:2])  # '21년 -> also 2021
            elif tag == "W_SERIAL" and _abbreviated_year(last, tok):
                out.append("20" + form[:2])  # '21.6.16. -> also 2021
            elif tag.startswith("W_"):
                form = form.lower()
            if form in self._stop:
                prev = None
                continue
            out.append(form)
            out.extend(self._syn.get(form, ()))
            parts = self._parts.get(form)
            if parts:
                out.extend(parts)
            if tag in _NOUNS:
                if compounds and prev is not None and prev.start + prev.len == tok.start:
                    joined = prev.form + tok.form
                    out.append(joined)
                    out.extend(self._syn.get(joined, ()))
                prev = tok
            else:
                prev = None
        return out

    def analyze(self, text: str, *, predicates: bool = True) -> list[str]:
        """Index terms of ``text``, in order (duplicates kept: they are term frequencies).

        ``predicates=False`` leaves out verb and adjective lemmas (what a question is about, not how it asks).
        """
        if not text or not text.strip():
            return []
        with self._lock:
            tokens = self._kiwi.tokenize(text)
        return self._filter(tokens, predicates=predicates)

    def proper_nouns(self, text: str) -> list[str]:
        """Proper nouns (Kiwi NNP) of ``text``, in order, without repeats: the entities a question names.

        >>> KoreanAnalyzer().proper_nouns("부산 인공지능 집적단지의 2023년 예산은?")
        ['부산']
        """
        if not text or not text.strip():
            return []
        with self._lock:
            tokens = self._kiwi.tokenize(text)
        return list(dict.fromkeys(t.form for t in tokens if t.tag == "NNP" and t.form not in self._stop))

    def analyze_many(self, texts: Sequence[str]) -> list[list[str]]:
        """:meth:`analyze` for many texts at once (Kiwi's batch mode)."""
        with self._lock:
            results = list(self._kiwi.tokenize(list(texts)))
        return [self._filter(toks) for toks in results]

    def sentences(self, text: str) -> list[tuple[int, int]]:
        """Sentence spans ``(start, end)`` of ``text``; a sentence never crosses a line break.

        >>> t = "첫 문장이다. 둘째 문장이다.\\n셋째"
        >>> [t[s:e] for s, e in KoreanAnalyzer().sentences(t)]
        ['첫 문장이다.', '둘째 문장이다.', '셋째']
        """
        spans: list[tuple[int, int]] = []
        lines: list[tuple[int, str]] = []
        pos = 0
        for line in text.split("\n"):
            if line.strip():
                lines.append((pos, line))
            pos += len(line) + 1
        if not lines:
            return spans
        with self._lock:
            results = list(self._kiwi.split_into_sents([line for _, line in lines], return_sub_sents=False))
        for (offset, line), sents in zip(lines, results):
            covered = 0
            for s in sents:
                start, end = offset + s.start, offset + s.end
                # Kiwi may drop characters between sentences; keep every character in some span
                if spans and start > offset + covered and spans[-1][1] >= offset:
                    spans[-1] = (spans[-1][0], start)
                spans.append((start, end))
                covered = s.end
            if spans and covered < len(line.rstrip()):
                spans[-1] = (spans[-1][0], offset + len(line.rstrip()))
        # trim whitespace inside each span
        out = []
        for s, e in spans:
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if e > s:
                out.append((s, e))
        return out
