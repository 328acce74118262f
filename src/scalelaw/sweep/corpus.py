"""A real text corpus that needs no download, a byte-level tokenizer and a train/validation split.

Corpora
-------
``python-stdlib``
    The source text of Python's standard library: every ``.py`` file under the interpreter's ``Lib``
    directory, comments and docstrings included, minus test suites (``test``, ``tests``,
    ``idle_test`` folders), codec tables (``encodings``), ``site-packages`` and caches. Files are taken
    in sorted order of their path relative to ``Lib`` and joined with a blank line. On CPython 3.11.7 that
    is 612 files, 10.7 MB, so 10.7 M byte tokens.
``python-docs``
    The prose of the Python language reference and library topics that ``pydoc`` shows
    (``pydoc_data.topics``, 79 topics, 0.47 MB on 3.11.7), in sorted order of topic name. Small: a
    sweep longer than about half a million tokens repeats it.

Both ship with every CPython, so no network is needed, but the text differs a little between Python
releases: :attr:`Corpus.fingerprint` (SHA-256 of the selected text) identifies exactly what a run was
trained on, and the sweep's run store records it through the run's ``config_hash``.

Tokenizer
---------
Byte level: a token is one byte of the UTF-8 text (vocabulary 256, no merges, no unknown token), which
is deterministic and needs no training. Loss is therefore in nats per byte.

Split
-----
By document, so no file straddles the split: a document goes to validation when the first 8 hex digits
of the SHA-256 of its name, read as a number in ``[0, 1)``, fall below ``val_fraction``. The split of a
document never depends on the other documents, so it is stable when a Python release adds or drops a
file.

>>> tok = ByteTokenizer()
>>> tok.encode("héllo").tolist()
[104, 195, 169, 108, 108, 111]
>>> tok.decode(tok.encode("héllo"))
'héllo'
"""

from __future__ import annotations

import hashlib
import os
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from scalelaw.errors import DataError

#: Corpora that ship with Python, by name, and what they hold.
CORPORA: dict[str, str] = {
    "python-stdlib": "source text of the Python standard library (Lib/**/*.py without tests), ~10.7 MB",
    "python-docs": "pydoc topics: prose of the Python language reference (pydoc_data.topics), ~0.47 MB",
}

#: Folders of ``Lib`` left out of ``python-stdlib``: test suites, codec tables, third-party packages, caches.
EXCLUDED_DIRS = frozenset({"test", "tests", "idle_test", "encodings", "site-packages", "__pycache__"})

SEPARATOR = b"\n\n"


class ByteTokenizer:
    """UTF-8 bytes as tokens: vocabulary 256, deterministic, lossless."""

    vocab_size = 256

    def encode(self, text: str | bytes) -> np.ndarray:
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        return np.frombuffer(data, dtype=np.uint8).copy()

    def decode(self, tokens: np.ndarray | list[int]) -> str:
        return bytes(np.asarray(tokens, dtype=np.uint8).tobytes()).decode("utf-8", errors="replace")


@dataclass(frozen=True, eq=False)
class Corpus:
    """Tokenized train and validation text of one corpus.

    Attributes
    ----------
    name : str
        One of :data:`CORPORA`.
    train, val : ndarray of uint8
        Byte tokens of the training and validation documents, joined with a blank line.
    documents : tuple of str
        Names of all selected documents, in order.
    val_documents : tuple of str
        Names of the documents in the validation split.
    fingerprint : str
        ``sha256:`` of the selected documents' names and text, in order.
    """

    name: str
    train: np.ndarray = field(repr=False)
    val: np.ndarray = field(repr=False)
    documents: tuple[str, ...] = field(repr=False)
    val_documents: tuple[str, ...] = field(repr=False)
    fingerprint: str = ""

    @property
    def vocab_size(self) -> int:
        return ByteTokenizer.vocab_size

    def describe(self) -> dict[str, object]:
        """Size and split of the corpus, for logs and reports."""
        return {
            "name": self.name,
            "documents": len(self.documents),
            "val_documents": len(self.val_documents),
            "train_tokens": int(self.train.size),
            "val_tokens": int(self.val.size),
            "fingerprint": self.fingerprint,
        }

    def __repr__(self) -> str:
        return (
            f"Corpus({self.name!r}: {len(self.documents)} documents, {self.train.size:,} train and "
            f"{self.val.size:,} validation byte tokens)"
        )


def _stdlib_documents() -> list[tuple[str, int, Callable[[], bytes]]]:
    lib = Path(sysconfig.get_paths()["stdlib"])
    if not lib.is_dir():
        raise DataError(f"the Python standard library folder {lib} is missing; corpus 'python-stdlib' needs it")
    docs = []
    for folder, subfolders, files in os.walk(lib):
        subfolders[:] = [d for d in subfolders if d not in EXCLUDED_DIRS]  # prune: site-packages is large
        for file in files:
            path = Path(folder, file)
            if file.endswith(".py") and path.is_file():
                docs.append((path.relative_to(lib).as_posix(), path.stat().st_size, path.read_bytes))
    docs.sort(key=lambda item: item[0])
    return docs


def _docs_documents() -> list[tuple[str, int, Callable[[], bytes]]]:
    from pydoc_data.topics import topics

    texts = {name: topics[name].encode("utf-8") for name in topics}
    return [(name, len(texts[name]), lambda text=texts[name]: text) for name in sorted(texts)]


def is_validation(name: str, val_fraction: float) -> bool:
    """Whether document ``name`` belongs to the validation split (stable: depends on the name only).

    >>> is_validation("json/decoder.py", 0.0), is_validation("json/decoder.py", 1.0)
    (False, True)
    """
    position = int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16) / 16**8
    return position < val_fraction


def load_corpus(name: str = "python-stdlib", val_fraction: float = 0.05, max_bytes: int | None = None) -> Corpus:
    """Select, tokenize and split a corpus that ships with Python.

    Parameters
    ----------
    name : str
        One of :data:`CORPORA`.
    val_fraction : float
        Expected share of documents in the validation split, in ``(0, 1)``.
    max_bytes : int, optional
        Keep a sample of documents of at most this many bytes in all (``None``: all): documents are taken
        in the order of the SHA-256 of ``"sample:" + name``, each one that still fits, so the sample spreads
        over the whole library; the kept documents stay in name order.

    Returns
    -------
    Corpus
        Cached per process: loading the same corpus again is free.

    Raises
    ------
    DataError
        Unknown corpus, a fraction outside ``(0, 1)``, or a split that leaves one side empty.
    """
    if name not in CORPORA:
        known = "; ".join(f"{k!r}: {v}" for k, v in CORPORA.items())
        raise DataError(f"unknown corpus {name!r}; choose one of {known}")
    if not 0 < val_fraction < 1:
        raise DataError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction!r}")
    if max_bytes is not None and max_bytes <= 0:
        raise DataError(f"max_bytes must be a positive number of bytes, got {max_bytes!r}")
    return _load(name, float(val_fraction), None if max_bytes is None else int(max_bytes))


@lru_cache(maxsize=4)
def _load(name: str, val_fraction: float, max_bytes: int | None) -> Corpus:
    docs = _stdlib_documents() if name == "python-stdlib" else _docs_documents()
    if max_bytes is not None:
        # A sample spread over the whole corpus, not its alphabetical start: documents in the order of a
        # hash of their name (salted, so the order is independent of the validation split) until the
        # budget is spent, then back in name order.
        kept, total = set(), 0
        for doc_name, size, _ in sorted(docs, key=lambda d: hashlib.sha256(b"sample:" + d[0].encode()).hexdigest()):
            if kept and total + size > max_bytes:
                continue
            kept.add(doc_name)
            total += size
        docs = [d for d in docs if d[0] in kept]
    digest = hashlib.sha256()
    train_parts: list[bytes] = []
    val_parts: list[bytes] = []
    val_names: list[str] = []
    for doc_name, _, read in docs:
        text = read()
        digest.update(doc_name.encode("utf-8") + b"\x00" + text + b"\x00")
        if is_validation(doc_name, val_fraction):
            val_parts.append(text)
            val_names.append(doc_name)
        else:
            train_parts.append(text)
    if not train_parts or not val_parts:
        side = "validation" if not val_parts else "training"
        raise DataError(
            f"corpus {name!r} with val_fraction = {val_fraction} and max_bytes = {max_bytes} leaves the {side} "
            f"split empty ({len(docs)} documents); raise max_bytes or change val_fraction"
        )
    tokenizer = ByteTokenizer()
    train, val = tokenizer.encode(SEPARATOR.join(train_parts)), tokenizer.encode(SEPARATOR.join(val_parts))
    train.setflags(write=False)  # shared by every run of the process: nobody may change it
    val.setflags(write=False)
    return Corpus(
        name=name,
        train=train,
        val=val,
        documents=tuple(d[0] for d in docs),
        val_documents=tuple(val_names),
        fingerprint="sha256:" + digest.hexdigest(),
    )
