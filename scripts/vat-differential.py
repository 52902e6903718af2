#!/usr/bin/env python3
"""Differential test of our VAT number check against python-stdnum.

Generates random candidates for every prefix `shared::domain::vat` or python-stdnum accepts (the
28 VIES prefixes, the GR alias and python-stdnum's One Stop Shop prefixes EU and IM; the script
checks that list against both), seeded: numbers in each country's formats with random digits,
numbers repaired until python-stdnum accepts them, single-character mutations, case and space
variants of those, and random strings. Our verdicts come from `vat-verdicts` (devtools), python-stdnum's from
`stdnum.eu.vat`. Every disagreement fails the run, except the variants listed in the table under
"Deliberate differences from python-stdnum" in docs/verification.md (prefix, regex over the
number after the prefix, our verdict; the reason is in the doc). When both accept a number, the
canonical forms must be equal too.

    .cache/venv/bin/python scripts/vat-differential.py [--seed N] [--per-prefix N]

Needs python-stdnum (scripts/tools.sh installs it into .cache/venv) and cargo.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import subprocess
import sys
import time

import stdnum
from stdnum.eu import vat as stdnum_vat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "verification.md")
DOC_HEADING = "### Deliberate differences from python-stdnum"

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FR_KEY = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
IE_LETTERS = "WABCDEFGHIJKLMNOPQRSTUV"
ES_CIF = "ABCDEFGHJNPQRSUVW"

# Template characters: d digit, l letter, k French key character, w Irish check letter, c Spanish
# organisation letter, x any digit or letter; b birth date YYMMDD (CZ/SK birth numbers, with the
# month offsets), e Bulgarian EGN date, v Latvian DDMMYY and century digit; anything else (upper
# case letters, digits, + and *) is literal.
TEMPLATES: dict[str, list[str]] = {
    "AT": ["Udddddddd", "ldddddddd"],
    "BE": ["0ddddddddd", "1ddddddddd", "ddddddddd", "dddddddddd"],
    "BG": ["ddddddddd", "dddddddddd", "edddd"],
    "CY": ["ddddddddl", "12ddddddl"],
    "CZ": ["dddddddd", "6dddddddd", "ddddddddd", "dddddddddd", "bddd", "bdddd"],
    "DE": ["ddddddddd"],
    "DK": ["dddddddd"],
    "EE": ["ddddddddd"],
    "EL": ["ddddddddd", "dddddddd"],
    "GR": ["ddddddddd", "dddddddd"],
    "ES": ["ddddddddl", "Kdddddddl", "Ldddddddl", "Mdddddddl", "Xdddddddl", "Ydddddddl",
           "Zdddddddl", "cdddddddd", "cdddddddl", "lddddddddl"],
    "FI": ["dddddddd"],
    "FR": ["ddddddddddd", "dlddddddddd", "ldddddddddd", "llddddddddd", "kk000dddddd",
           "kkddddddddd"],
    "HR": ["ddddddddddd"],
    "HU": ["dddddddd"],
    "IE": ["dddddddw", "dddddddww", "dldddddw", "d+dddddw", "d*dddddw"],
    "IT": ["ddddddd001d", "ddddddd0ddd", "ddddddd1ddd", "ddddddd888d", "ddddddd999d",
           "ddddddddddd"],
    "LT": ["ddddddd1d", "dddddddddd1d", "ddddddddd", "dddddddddddd"],
    "LU": ["dddddddd"],
    "LV": ["ddddddddddd", "vdddd", "32ddddddddd"],
    "MT": ["dddddddd"],
    "NL": ["dddddddddBdd", "0ddddddddBdd", "00dddddddBdd", "ddddddddBdd", "dddddddBdd",
           "dddddddddldd"],
    "PL": ["dddddddddd"],
    "PT": ["ddddddddd"],
    "RO": ["dd", "ddd", "dddd", "ddddd", "dddddd", "ddddddd", "dddddddd", "ddddddddd",
           "dddddddddd", "ddddddddddddd"],
    "SE": ["dddddddddd01", "dddddddddddd"],
    "SI": ["dddddddd"],
    "SK": ["dddddddddd", "bdddd"],
    "XI": ["ddddddddd", "dddddddddddd", "GDddd", "HAddd", "GD8888ddddd", "HA8888ddddd",
           "llddd"],
    # One Stop Shop numbers (python-stdnum's stdnum.eu.oss; the first three digits are the
    # numeric code of the member state that issued them, 528 for the Netherlands).
    "EU": ["528dddddd", "ddddddddd"],
    "IM": ["528ddddddd", "dddddddddd"],
}


def birth_date(rng: random.Random, kind: str) -> str:
    year = rng.randrange(100)
    month = rng.randint(1, 12)
    day = rng.randint(1, 31)  # sometimes impossible, on purpose
    if kind == "b":  # CZ/SK: +50 women, +20 extra series
        month += rng.choice([0, 0, 50, 20, 70])
        return f"{year:02d}{month:02d}{day:02d}"
    if kind == "e":  # BG EGN: +20 before 1900, +40 from 2000
        month += rng.choice([0, 0, 20, 40])
        return f"{year:02d}{month:02d}{day:02d}"
    # V: LV DDMMYY followed by the century digit (0: 1800s, 1: 1900s, 2: 2000s)
    return f"{day:02d}{month:02d}{year:02d}{rng.choice('0122')}"


def expand(rng: random.Random, template: str) -> str:
    classes = {"d": DIGITS, "l": LETTERS, "k": FR_KEY, "w": IE_LETTERS, "c": ES_CIF,
               "x": DIGITS + LETTERS}
    out = []
    for t in template:
        if t in classes:
            out.append(rng.choice(classes[t]))
        elif t in "bev":
            out.append(birth_date(rng, t))
        else:
            out.append(t)
    return "".join(out)


def stdnum_valid(candidate: str) -> bool:
    return stdnum_vat.is_valid(candidate)


def repair(rng: random.Random, prefix: str, number: str) -> str | None:
    """A number one character away from `number` that python-stdnum accepts (the same character
    class at that position), or None."""
    positions = list(range(len(number)))
    rng.shuffle(positions)
    for i in positions:
        alphabet = DIGITS if number[i].isdigit() else LETTERS if number[i].isalpha() else ""
        choices = list(alphabet)
        rng.shuffle(choices)
        for c in choices:
            attempt = number[:i] + c + number[i + 1:]
            if stdnum_valid(prefix + attempt):
                return attempt
    return None


def mutate(rng: random.Random, number: str) -> str:
    kind = rng.randrange(5)
    i = rng.randrange(len(number)) if number else 0
    if kind == 0 and number:  # substitute
        pool = DIGITS if number[i].isdigit() else LETTERS
        return number[:i] + rng.choice(pool) + number[i + 1:]
    if kind == 1 and len(number) > 1:  # transpose neighbours
        i = min(i, len(number) - 2)
        return number[:i] + number[i + 1] + number[i] + number[i + 2:]
    if kind == 2 and number:  # delete
        return number[:i] + number[i + 1:]
    if kind == 3:  # insert
        return number[:i] + rng.choice(DIGITS + LETTERS) + number[i:]
    return number[:i] + number[i] * 2 + number[i + 1:] if number else "0"


def dress(rng: random.Random, candidate: str) -> str:
    """Lower case and spaces (both implementations ignore them) on some candidates."""
    r = rng.random()
    if r < 0.1:
        candidate = candidate.lower()
    elif r < 0.2:
        cut = rng.randrange(2, len(candidate) + 1)
        candidate = candidate[:2] + " " + candidate[2:cut] + " " + candidate[cut:]
    return candidate


def candidates(rng: random.Random, prefix: str, count: int) -> list[str]:
    templates = TEMPLATES[prefix]
    out: list[str] = []
    repaired: list[str] = []
    while len(out) < count:
        r = rng.random()
        if r < 0.40:  # a country format, random digits
            number = expand(rng, rng.choice(templates))
        elif r < 0.60:  # a country format, repaired until python-stdnum accepts it
            number = expand(rng, rng.choice(templates))
            fixed = repair(rng, prefix, number)
            if fixed is not None:
                repaired.append(fixed)
                number = fixed
        elif r < 0.85 and repaired:  # one edit away from an accepted number
            number = mutate(rng, rng.choice(repaired))
        else:  # anything
            alphabet = DIGITS * 3 + LETTERS
            number = "".join(rng.choice(alphabet) for _ in range(rng.randrange(15)))
        out.append(dress(rng, prefix + number))
    return out


def our_verdicts(lines: list[str]) -> list[str]:
    build = ["cargo", "build", "-q", "--locked", "-p", "devtools", "--bin", "vat-verdicts",
             "--message-format=json"]
    built = subprocess.run(build, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
    binary = next(m["executable"] for m in map(json.loads, built.stdout.splitlines())
                  if m.get("reason") == "compiler-artifact" and m.get("executable")
                  and m["target"]["name"] == "vat-verdicts")
    done = subprocess.run([binary], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, check=True)
    verdicts = done.stdout.splitlines()
    if len(verdicts) != len(lines):
        sys.exit(f"vat-verdicts answered {len(verdicts)} lines for {len(lines)} candidates")
    return verdicts


def check_prefixes(ours_for: dict[str, str]) -> None:
    """Every two-letter prefix that we or python-stdnum know has candidates in TEMPLATES."""
    known = set()
    for prefix, verdict in ours_for.items():
        if verdict != "invalid country":
            known.add(prefix)
        # python-stdnum's own lookup of a prefix's module (stdnum.eu.vat), as validate() uses it.
        if stdnum_vat._get_cc_module(prefix) is not None:
            known.add(prefix)
    if known != set(TEMPLATES):
        sys.exit(f"prefixes known to us or python-stdnum {sorted(known)} are not the prefixes "
                 f"this script generates candidates for {sorted(TEMPLATES)}")


def deliberate_differences() -> list[tuple[str, re.Pattern[str], bool, str]]:
    """(prefix, pattern over the number after the prefix, whether we accept, label) per row of
    the table under DOC_HEADING."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    if DOC_HEADING not in text:
        sys.exit(f"{DOC} has no section '{DOC_HEADING}'")
    section = text.split(DOC_HEADING, 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not re.fullmatch(r"`[A-Z]{2}`", cells[0]):
            continue
        prefix = cells[0].strip("`")
        pattern = re.compile(cells[1].strip("`"))
        if cells[2] not in ("accept", "refuse"):
            sys.exit(f"{DOC}: 'we' must be accept or refuse in: {line}")
        label = f"{prefix} {cells[1]} (we {cells[2]})"
        rows.append((prefix, pattern, cells[2] == "accept", label))
    if not rows:
        sys.exit(f"{DOC}: no rows under '{DOC_HEADING}'")
    return rows


def compact(candidate: str) -> tuple[str, str]:
    c = candidate.replace(" ", "").upper()
    prefix = "EL" if c[:2] == "GR" else c[:2]
    return prefix, c[2:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=int(os.environ.get("VAT_DIFF_SEED", 12)))
    parser.add_argument("--per-prefix", type=int,
                        default=int(os.environ.get("VAT_DIFF_PER_PREFIX", 3000)))
    args = parser.parse_args()

    started = time.monotonic()
    rng = random.Random(args.seed)
    lines: list[str] = []
    for prefix in TEMPLATES:
        lines.extend(candidates(rng, prefix, args.per_prefix))
    prefixes = [a + b for a in LETTERS for b in LETTERS]
    ours = our_verdicts(lines + [p + "1" for p in prefixes])
    check_prefixes(dict(zip(prefixes, ours[len(lines):])))
    ours = ours[:len(lines)]
    allowed = deliberate_differences()

    stats: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    explained: collections.Counter[str] = collections.Counter()
    unexplained: list[str] = []
    for candidate, verdict in zip(lines, ours):
        prefix, number = compact(candidate)
        row = stats[candidate[:2].upper()]
        row["candidates"] += 1
        we_accept = verdict.startswith("valid ")
        try:
            theirs: str | None = stdnum_vat.validate(candidate)
        except stdnum.exceptions.ValidationError:
            theirs = None
        row["ours"] += we_accept
        row["stdnum"] += theirs is not None
        if we_accept and theirs is not None:
            canonical = "EL" + theirs[2:] if theirs.startswith("GR") else theirs
            if verdict != "valid " + canonical:
                unexplained.append(f"{candidate!r}: ours {verdict!r}, stdnum {canonical!r}")
            continue
        if we_accept == (theirs is not None):
            continue
        row["disagree"] += 1
        match = next((r for r in allowed if r[0] == prefix and r[2] == we_accept
                      and r[1].fullmatch(number)), None)
        if match is not None:
            explained[match[3]] += 1
            row["deliberate"] += 1
        else:
            unexplained.append(f"{candidate!r}: ours {verdict!r}, stdnum "
                               f"{'accepts' if theirs else 'refuses'}")

    print(f"vat differential: seed {args.seed}, {len(lines)} candidates over {len(stats)} "
          f"prefixes, python-stdnum {stdnum.__version__}, {time.monotonic() - started:.0f} s")
    print(f"{'prefix':6} {'candidates':>10} {'we accept':>10} {'stdnum':>8} {'differ':>7} "
          f"{'listed':>7}")
    total: collections.Counter[str] = collections.Counter()
    for prefix, row in stats.items():
        total.update(row)
        print(f"{prefix:6} {row['candidates']:>10} {row['ours']:>10} {row['stdnum']:>8} "
              f"{row['disagree']:>7} {row['deliberate']:>7}")
    print(f"{'all':6} {total['candidates']:>10} {total['ours']:>10} {total['stdnum']:>8} "
          f"{total['disagree']:>7} {total['deliberate']:>7}")
    for label, n in sorted(explained.items()):
        print(f"  {n:>5} listed in docs/verification.md: {label}")
    if unexplained:
        print(f"{len(unexplained)} disagreements not listed in docs/verification.md:",
              file=sys.stderr)
        for line in unexplained[:40]:
            print("  " + line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
