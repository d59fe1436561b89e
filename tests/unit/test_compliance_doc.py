"""docs/COMPLIANCE.md stays true: every test and function it cites exists, each of the 31 behaviours has
one entry, a `proved` entry cites a test, and the tally at the top is the entries' own."""

from __future__ import annotations

import ast
import re
from collections import Counter
from functools import cache

from tests.unit.test_architecture_doc import NAMED, ROOT, missing_names

DOC = ROOT / "docs" / "COMPLIANCE.md"
BEHAVIOURS = 31
#: `tests/integration/test_links.py::test_opening_the_link_changes_nothing`, optionally `[a parametrised id]`
CITED_TEST = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[[^\]`]*\])?`")
ENTRY = re.compile(r"^### (\d+)\. ", re.MULTILINE)
STATUS = re.compile(r"^- \*\*Status:\*\* (proved|partly|not yet)$", re.MULTILINE)
TALLY = re.compile(r"\*\*Today: (\d+) proved, (\d+) partly, (\d+) not yet\.\*\*")


def entries() -> dict[int, str]:
    """Each behaviour's number and the text of its entry, up to the next heading."""
    text = DOC.read_text()
    starts = list(ENTRY.finditer(text))
    ends = [m.start() for m in starts[1:]] + [len(text)]
    # An entry ends at the next entry or at the next section's heading, whichever comes first.
    return {
        int(m.group(1)): re.split(r"^## ", text[m.start() : end], flags=re.MULTILINE)[0]
        for m, end in zip(starts, ends, strict=True)
    }


@cache
def defined_tests(path: str) -> frozenset[str]:
    """The test functions a file defines, read from its syntax tree (nothing is imported or run)."""
    tree = ast.parse((ROOT / path).read_text())
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    )


def test_each_behaviour_has_exactly_one_entry() -> None:
    numbers = Counter(int(n) for n in ENTRY.findall(DOC.read_text()))
    assert sorted(numbers) == list(range(1, BEHAVIOURS + 1))
    assert [n for n, times in numbers.items() if times > 1] == []


def test_every_cited_test_exists() -> None:
    cited = CITED_TEST.findall(DOC.read_text())
    assert len(cited) >= BEHAVIOURS
    missing = [
        f"{path}::{name}"
        for path, name in cited
        if not (ROOT / path).is_file() or name not in defined_tests(path)
    ]
    assert missing == []


def test_every_cited_function_exists() -> None:
    named = NAMED.findall(DOC.read_text())
    assert len(named) >= BEHAVIOURS
    assert missing_names(named) == []


def test_every_entry_has_a_status_and_a_proved_one_cites_a_test() -> None:
    statuses = {number: STATUS.findall(text) for number, text in entries().items()}
    assert {n: s for n, s in statuses.items() if len(s) != 1} == {}
    proved = [n for n, found in statuses.items() if found == ["proved"]]
    unproved = [n for n in proved if not CITED_TEST.search(entries()[n])]
    assert unproved == []


def test_the_tally_at_the_top_counts_the_entries() -> None:
    tally = TALLY.search(DOC.read_text())
    assert tally is not None, "the document says how many behaviours are proved, partly and not yet"
    counted = Counter(status for text in entries().values() for status in STATUS.findall(text))
    assert tuple(int(n) for n in tally.groups()) == (counted["proved"], counted["partly"], counted["not yet"])


def test_the_readme_tells_senders_dkim_must_sign_both_one_click_headers() -> None:
    """RFC 8058 §4: a one-click header the DKIM signature does not cover is ignored by receivers."""
    readme = (ROOT / "README.md").read_text()
    paragraph = next((p for p in readme.split("\n\n") if "DKIM" in p), "")
    assert "`List-Unsubscribe`" in paragraph and "`List-Unsubscribe-Post`" in paragraph
    assert re.search(r"DKIM must sign both", paragraph)
