"""The project speaks of itself, not of how it was made: no file names a
round of development, a work item or its targets, a stop, a commit as the
build a figure was measured on, or a date of such a measurement. Technical
words that look alike stay (a tmux session, a thread's target, a plan's
target table, a netlink round trip, the man pages' dates).

The tree is the files git tracks; outside a git checkout (an unpacked
sdist) it is every text file under the directory the tests sit in. This
file holds the planted examples, so it is the one file not scanned."""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.relpath(os.path.abspath(__file__), ROOT)

# Directories that are build outputs or caches, never part of the project.
SKIP_DIRS = {".git", ".venv", ".cache", "vm-out", "build", "dist", "__pycache__",
             ".pytest_cache", ".hypothesis", ".mypy_cache"}

# A commit-like token: 7 to 40 lowercase hex digits, at least one a-f and
# one digit (so neither a plain number nor a word like "decade").
_HASH = r"(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}"

PATTERNS = [
    ("a numbered development round",
     re.compile(r"\bsessions?[ -]?\d+|\bs\d{1,3}/ab\d", re.I)),
    ("a development round",
     re.compile(r"\b(?:this|that|last|previous|next|same|earlier|later|second|first|"
                r"whole|one)\s+session\b(?!\s+(?:id|key|ticket|cookie|table|layer))"
                r"|\bsession's\b|\bin (?:the|a) session\b|\bsession-\d", re.I)),
    ("a work-item number",
     re.compile(r"\b(?:issues?|tickets?|work[- ]items?|bugs?)\s*#?\s?\d+\b"
                r"|(?<![\w&/#'\"])#\d{1,5}\b(?!\s*[;,)]?\s*(?:%|\w+\())", re.I)),
    ("a stop of the work",
     re.compile(r"\bstop \d+\b", re.I)),
    ("a work item's targets",
     re.compile(r"\btargets?\s+(?:(?:was|were|is|are|not|all|both|now|still)\s+)*"
                r"(?:not\s+)?met\b|(?<!\w)\(target\b(?![=)\w])|\btarget\s+(?:of\s+)?"
                r"(?:>=|<=|≤|≥|<|>)?\s*[\d.]+\s*x?\b(?!\.\d)|\btargets?\s+(?:left|missed|reached)\b",
                re.I)),
    ("a commit named as where a figure comes from",
     re.compile(r"\b(?:at|since|before|after|commit|from|of|the|build|install|run)\s+`?"
                + _HASH + r"\b|\(" + _HASH + r"[,)]|\b" + _HASH + r"\s+(?:run|build|install)\b")),
    ("the date of a measurement or of a round of work",
     re.compile(r"\b20\d\d-[01]\d-[0-3]\d\b")),
    ("who or what wrote a change",
     re.compile(r"\bco-authored-by\b|\b(?:claude|chatgpt|copilot|anthropic|openai)\b"
                r"|\b(?:written|generated|made)\s+by\s+(?:an?\s+)?(?:ai|llm|assistant|agent|bot)\b"
                r"|\blead engineer\b|\bfarm-(?:bench|studio)\b|/\.library\b", re.I)),
]


def _allowed(path, line):
    # a man page's title line carries the page's date, as every man page's does
    return path.endswith(".8") and line.startswith(".TH ")


def findings(text, path="text"):
    """Every (line number, what, line) of `text` that speaks of the making."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if _allowed(path, line):
            continue
        for what, rx in PATTERNS:
            if rx.search(line):
                out.append((n, what, line.strip()))
    return out


def _git_files(root):
    try:
        r = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True,
                           timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode or not r.stdout:
        return None
    return [p for p in r.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def _walked_files(root):
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for f in sorted(files):
            yield os.path.relpath(os.path.join(top, f), root)


def tree_files(root):
    """The project's files: git's list, or the walked tree outside git."""
    files = _git_files(root) if os.path.isdir(os.path.join(root, ".git")) else None
    return files if files is not None else list(_walked_files(root))


def scan(root, skip=()):
    out = []
    for rel in tree_files(root):
        if rel in skip:
            continue
        try:
            with open(os.path.join(root, rel), "rb") as f:
                data = f.read()
        except OSError:        # listed by git but gone from the work tree
            continue
        if b"\0" in data or data[:2] == b"\x1f\x8b":
            continue           # binary: captured bytes, compressed data
        for n, what, line in findings(data.decode("utf-8", "replace"), rel):
            out.append("%s:%d: %s: %s" % (rel, n, what, line))
    return out


def test_the_tree_speaks_of_itself():
    files = tree_files(ROOT)
    assert any(f.endswith("README.md") for f in files), "found no project files to scan"
    bad = scan(ROOT, skip={HERE})
    assert not bad, "words about how the project was made:\n" + "\n".join(bad)


PLANTED = [
    "as measured in session 12, the twin",
    "the last session's end (0ed8584)",
    "Earlier in the session, at 5000x4",
    "Issue 15's targets not met:",
    "fixes #27 by reading the file once",
    "the CI machine of stop 18",
    "`-Ln`'s slope ≤ 0.15 (target 0.25x, not met)",
    "Decoder benchmarks (issue 4's targets) are below",
    "`dumps_vs_reference` at d49804c, ours installed",
    "the ba80470 run on both kernels",
    "The run before (5bb08bb, the same install)",
    "Last run: 2026-11-26, shared 2-core host",
    "Co-authored-by: someone",
    "this change was written by an AI assistant",
    "vm-out/s12/ab2.py, 9 rounds",
    "work item 7 asked for it",
    "the C decoder's target of 20x",
]

TECHNICAL = [
    'tmux("new-session", "-d", "-s", "w", "-x", "150", "-y", "40", cmd)',
    "a longer one for long-lived TCP sessions.",
    "t = threading.Thread(target=helper, name=\"ipvs-netns\", daemon=True)",
    "ops = c.plan(target)  # the target table",
    "      - targets: ['127.0.0.1:%d']",
    "two round trips a line instead of one netlink dump round trip",
    "(\"  -> 0A000002:0050      Masq    1      0          0\"); split_line()",
    "low = -10000000 if program.exact else None",
    "3 interleaved rounds, medians of 5 runs",
    "A target to reach: the table you want",
    "'#%d' % n and #include <stdint.h>",
    "the firewall mark 0x1f4a9c3 is printed",
    "an SSL session cookie, a session table",
]


@pytest.mark.parametrize("line", PLANTED)
def test_the_matcher_finds_each_planted_word(line):
    assert findings(line), line


@pytest.mark.parametrize("line", TECHNICAL)
def test_the_matcher_leaves_technical_words(line):
    assert findings(line) == [], line


def test_a_man_pages_title_date_is_its_own():
    th = '.TH IPVSADM 8 "2026-12-01" "ipvs 0.1.0" "System Administration"'
    assert findings(th, "man/ipvsadm.8") == []
    assert findings(th, "docs/notes.md")


def test_a_walked_tree_is_scanned_without_its_caches(tmp_path):
    # what an unpacked sdist looks like: no .git, so the tree is walked
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.md").write_text("fine\nsee issue 15 for the rest\n")
    (tmp_path / "ok.py").write_text("# the plan's target table\n")
    (tmp_path / "data.bin").write_bytes(b"issue 15\0\1")
    for cache in (".venv", "build", "pkg.egg-info"):
        (tmp_path / cache).mkdir()
        (tmp_path / cache / "x.md").write_text("session 3\n")
    assert scan(str(tmp_path)) == [
        "docs/notes.md:2: a work-item number: see issue 15 for the rest"]
