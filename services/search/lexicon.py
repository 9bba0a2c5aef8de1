"""The pt-BR word list the speller leaves alone, without wordfreq in the serving processes.

wordfreq decodes its whole Portuguese frequency list to give the 60,000 most frequent words: measured in one process,
importing it and building the set left +13 MB for the import and +29 MB for the build (memory Python freed but kept),
in every gunicorn worker. So a child process asks wordfreq (`python -m services.search.lexicon SIZE`, the folded
words on stdout) and the worker keeps only 8-byte hashes of them in a sorted array (~0.5 MB). With a `cache_dir`
(the instance folder) the words are written there once per wordfreq version, and later processes read the file.
"""
from __future__ import annotations

import array
import bisect
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)
BUILD_TIMEOUT_S = 60


def word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little", signed=True)


class HashedWords:
    """A set of words kept as sorted 64-bit hashes: `word in words`. A false positive needs a 64-bit collision."""

    def __init__(self, words):
        self._hashes = array.array("q", sorted({word_hash(word) for word in words}))

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        wanted = word_hash(word)
        at = bisect.bisect_left(self._hashes, wanted)
        return at < len(self._hashes) and self._hashes[at] == wanted


def folded_words(size: int) -> list[str]:
    """The `size` most frequent Portuguese words, alphabetic only, folded (in the process that calls it)."""
    import wordfreq

    from utils.text import fold

    return sorted({fold(word) for word in wordfreq.top_n_list("pt", size) if word.isalpha()})


def load(size: int, cache_dir: str | None = None) -> HashedWords:
    """The lexicon from the cache file, else from a child process (then written to the cache for the next ones).
    Empty, with a warning, when neither works: the speller then corrects more eagerly, nothing fails."""
    try:
        version = metadata.version("wordfreq")
    except metadata.PackageNotFoundError:
        version = "unknown"
    cached = Path(cache_dir) / f"pt-lexicon-{version}-{size}.txt" if cache_dir else None
    if cached is not None and cached.is_file():
        return HashedWords(cached.read_text(encoding="utf-8").split())
    try:
        # Fixed arguments: this interpreter, this module, an int.
        built = subprocess.run([sys.executable, "-m", "services.search.lexicon", str(size)],  # noqa: S603
                               capture_output=True, text=True, encoding="utf-8", timeout=BUILD_TIMEOUT_S,
                               check=True, cwd=Path(__file__).resolve().parents[2])
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("pt-BR lexicon unavailable: the speller corrects every unknown word",
                    extra={"error": type(exc).__name__})
        return HashedWords(())
    if cached is not None:
        _write_atomically(cached, built.stdout)
    return HashedWords(built.stdout.split())


def _write_atomically(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                         prefix=path.name, suffix=".tmp") as handle:
            handle.write(text)
        os.replace(handle.name, path)  # another worker writing the same words at once is harmless
    except OSError as exc:
        log.info("pt-BR lexicon not cached", extra={"error": type(exc).__name__})


if __name__ == "__main__":
    sys.stdout.write("\n".join(folded_words(int(sys.argv[1]))) + "\n")
