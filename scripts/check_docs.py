#!/usr/bin/env python3
"""Checks that the documentation cites only what the repository holds.

1. Every relative link in the Markdown files (README.md, BENCHMARKS.md, docs/, migrations/,
   fuzz/) names a file that exists and, with `#anchor`, a heading or `<a id>` of that file.
2. Every `docs/….md#anchor` or `BENCHMARKS.md#anchor` named in a comment of src/, tests/,
   examples/, fuzz/, .ci/, scripts/ or Cargo.toml exists.
3. No file outside migrations/sqlite/ (whose applied files may not change, not even their
   comments: sqlx checks their checksums) cites the product owner's notes, which are not in
   the repository: SPEC.md, "SPEC §", reliability-security, zalo-vn-domain, performance.md,
   "reliability plan".

Run from the repository root: `python3 scripts/check_docs.py`. Exit 1 on any problem.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
MD_FILES = ["README.md", "BENCHMARKS.md", "docs/*.md", "migrations/*.md", "fuzz/*.md"]
CODE_DIRS = ["src", "tests", "examples", "fuzz", ".ci", "scripts"]
CODE_FILES = ["Cargo.toml"]
FOREIGN = re.compile(
    r"SPEC\.md|SPEC §|reliability-security|zalo-vn-domain|performance\.md|reliability plan"
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
CITED = re.compile(r"\b((?:docs/[a-z0-9_-]+|BENCHMARKS)\.md)(#[A-Za-z0-9_-]+)?")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: pathlib.Path) -> set:
    found, seen, fence = set(), {}, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        found.update(re.findall(r'<a id="([^"]+)"', line))
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def check_target(source: pathlib.Path, base: pathlib.Path, target: str, problems: list):
    path, _, anchor = target.partition("#")
    file = (base / path).resolve() if path else source
    where = source.relative_to(ROOT)
    if not file.exists():
        problems.append(f"{where}: {target}: no such file")
    elif anchor and file.suffix == ".md" and anchor not in anchors(file):
        problems.append(f"{where}: {target}: no such anchor")


def main() -> int:
    problems = []
    for pattern in MD_FILES:
        for md in sorted(ROOT.glob(pattern)):
            for target in LINK.findall(md.read_text(encoding="utf-8")):
                if re.match(r"^[a-z]+:", target):
                    continue
                check_target(md, md.parent, target, problems)
    code = [ROOT / f for f in CODE_FILES]
    for d in CODE_DIRS:
        code += [p for p in (ROOT / d).rglob("*") if p.is_file()]
    code = [p for p in code if "corpus" not in p.parts and "target" not in p.parts]
    for path in sorted(code) + sorted(ROOT.glob("docs/*.md")) + [ROOT / "README.md"]:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if FOREIGN.search(line) and path.name != "check_docs.py":
                problems.append(f"{path.relative_to(ROOT)}:{n}: cites a file not in the repository")
            if path.suffix == ".md" or path.name == "check_docs.py":
                continue
            for file, anchor in CITED.findall(line):
                check_target(path, ROOT, file + anchor, problems)
    for p in problems:
        print(p)
    print(f"check_docs: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
