"""The README's account of the data states what the fixtures hold: every number is derived from them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml
from django.conf import settings

from commitments.seeding.commitment_records import commitment_files
from commitments.sources import SOURCES_DIR

FIXTURES = Path(settings.FIXTURES_DIR)
# Lines joined, so that a number and its words match across a line break.
README = " ".join((Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8").split())
RULES = " ".join((Path(settings.BASE_DIR) / "docs" / "fixtures.md").read_text(encoding="utf-8").split())
FOUNDATIONS = {
    "IDEAS": "Ideas",
    "BUSENV": "Business Environment",
    "INFRA": "Infrastructure",
    "PLACES": "Places",
    "PEOPLE": "People",
}


def _load(name: str) -> dict:
    return yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8")) or {}


def _commitments():
    """Every commitment of the fixtures: (its file's block, its area, the commitment, its parent or None)."""

    def walk(items, block, area, parent):
        for item in items:
            yield block, area, item, parent
            yield from walk(item.get("children") or [], block, area, item)

    for path in commitment_files(FIXTURES):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in data.get("blocks") or [data]:
            for area in block.get("areas") or []:
                yield from walk(area["commitments"], block, area.get("area"), None)


def _deal(block, item) -> str:
    return item.get("deal") or block.get("deal")


def _key_commitments(parents: bool) -> Counter:
    return Counter(
        (block["foundation"], area, item["actor"])
        for block, area, item, parent in _commitments()
        if _deal(block, item) == "SD2"
        and (item.get("section") or "key_commitments") == "key_commitments"
        and (parent is None) == parents
    )


def _printed_bullets() -> int:
    """Bullet markers on the "Key commitments" pages of Sector Deal 2, as extracted."""
    text = (SOURCES_DIR / "002_39c3279f54f75428.txt").read_text(encoding="utf-8")
    pages = text[
        text.index("Key commitments") : text.index("Establishing the Health Advanced Research Programme (HARP)")
    ]
    return pages.count("``")


def test_the_readme_counts_the_key_commitments_as_printed():
    parents, children = sum(_key_commitments(True).values()), sum(_key_commitments(False).values())
    bullets = _printed_bullets()
    assert f"{parents} commitments ({bullets} printed bullets and {parents - bullets} unbulleted action" in README
    assert f"and {children} sub-items" in README
    assert f"{parents} key commitments: {bullets} printed bullets and {parents - bullets} unbulleted action" in RULES
    assert f"with {children} sub-items" in RULES


def test_the_readme_table_gives_each_area_and_actor():
    parents, children = _key_commitments(True), _key_commitments(False)
    areas = {
        area["code"]: area["name"]
        for framework in _load("documents.yaml")["frameworks"]
        for theme in framework.get("themes") or []
        for area in theme.get("areas") or []
    }

    def cell(key) -> str:
        return f"{parents[key]} (+{children[key]})" if children[key] else str(parents[key])

    for foundation, area in sorted({(f, a) for f, a, _ in parents}):
        name = areas[area] if area else "(no areas printed)"
        row = f"| {FOUNDATIONS[foundation]} | {name} | {cell((foundation, area, 'sector'))} | "
        row += f"{cell((foundation, area, 'government'))} |"
        assert row in README, row
    for actor in ("sector", "government"):
        total = sum(n for (_, _, a), n in parents.items() if a == actor)
        subs = sum(n for (_, _, a), n in children.items() if a == actor)
        assert f"**{total} (+{subs})**" in README


def test_the_readme_counts_every_other_kind_of_record():
    commitments = list(_commitments())
    chapter = sum(1 for b, _, i, _ in commitments if _deal(b, i) == "SD2" and i.get("section") == "chapter")
    first_deal = sum(1 for b, _, i, _ in commitments if _deal(b, i) == "SD1")
    recommendations = sum(1 for b, _, i, _ in commitments if _deal(b, i) == "LSIS-2017")
    evidence = sum(
        len(yaml.safe_load(p.read_text(encoding="utf-8")).get("evidence") or []) for p in commitment_files(FIXTURES)
    )
    programmes = _load("programmes.yaml")["programmes"]
    amounts = sum(len(i.get("amounts") or []) for _, _, i, _ in commitments) + sum(
        len(p.get("amounts") or []) for p in programmes
    )
    for phrase in (
        f"{chapter} funded or dated commitments from the detailed chapters",
        f"{first_deal} Sector Deal 1 commitments",
        f"{recommendations} recommendations of the 2017 strategy",
        f"{evidence} dated status records",
        f"{len(_load('organisations.yaml')['organisations'])} organisations",
        f"{len(programmes)} programmes and funds",
        f"{amounts} funding amounts",
    ):
        assert phrase in README, phrase
