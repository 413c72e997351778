#!/usr/bin/env python3
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Every role README's variable section, generated from the role's meta/argument_specs.yml.

`make role-docs` rewrites the block between BEGIN and END in each roles/*/README.md; a README without
the block gets it at the end of its '## Variables' section, or in a new one at its end. Text outside
the block is the README's own and stays as it is. `--check` writes nothing and exits 1 naming every
README whose block differs from what the specs give (tests/unit/test_role_docs.py does the same).
Role names as arguments limit either to those roles.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN ROLE VARIABLES (generated: make role-docs) -->"
END = "<!-- END ROLE VARIABLES -->"
HEADING = "## Variables"
# Ansible's doc markup: C(code), V(value), O(option), E(env), M(module), I(italic), B(bold), U(url),
# L(text,url), P(fqcn#type), R(text,anchor). The argument ends at the first ')', as ansible-doc reads it.
MARKUP = re.compile(r"\b([CVOEMIBULPR])\(([^)]*)\)")


def _plain(text: str) -> str:
    """Text outside code: a table cell's '|' escaped, '<tag' kept from being read as HTML."""
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text.replace("|", "\\|"))


def _code(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def markdown(text: str) -> str:
    """One description paragraph in Markdown."""
    out, at = [], 0
    for match in MARKUP.finditer(text):
        out.append(_plain(text[at : match.start()]))
        kind, arg = match.groups()
        if kind in "CVOEM":
            out.append(_code(arg))
        elif kind == "P":
            out.append(_code(arg.split("#")[0]))
        elif kind in "IB":
            mark = "*" if kind == "I" else "**"
            out.append(mark + _plain(arg) + mark)
        elif kind == "U":
            out.append(f"<{arg}>")
        else:  # L(text,url), R(text,anchor): the text, linked when it is a URL
            label, _, target = arg.partition(",")
            out.append(f"[{_plain(label)}]({target.strip()})" if kind == "L" else _plain(label))
        at = match.end()
    out.append(_plain(text[at:]))
    return "".join(out)


def _description(spec: dict) -> str:
    text = spec.get("description", "")
    paragraphs = [text] if isinstance(text, str) else text
    return " ".join(markdown(" ".join(str(p).split())) for p in paragraphs)


def _value(value) -> str:
    if isinstance(value, str):
        return _code(value) if value else '`""`'
    dumped = yaml.safe_dump(value, default_flow_style=True, width=1 << 20, sort_keys=False)
    return _code(dumped.removesuffix("\n...\n").strip())


def _rows(options: dict, prefix: str = "") -> list[list[str]]:
    rows = []
    for name, spec in options.items():
        kind = spec.get("type", "str")
        shown = f"{kind} of {spec['elements']}" if "elements" in spec else kind
        rows.append(
            [
                _code(prefix + name),
                shown,
                _value(spec["default"]) if "default" in spec else "",
                "yes" if spec.get("required") else "no",
                ", ".join(_value(choice) for choice in spec.get("choices", [])),
                _description(spec),
            ]
        )
        if spec.get("options"):
            rows += _rows(spec["options"], f"{prefix}{name}{'[].' if kind == 'list' else '.'}")
    return rows


def _table(options: dict) -> list[str]:
    header = ["variable", "type", "default", "required", "choices", "description"]
    rows = _rows(options)
    keep = [i for i, title in enumerate(header) if title != "choices" or any(row[i] for row in rows)]
    lines = ["| " + " | ".join(header[i] for i in keep) + " |", "|" + " --- |" * len(keep)]
    return lines + ["| " + " | ".join(row[i] for i in keep) + " |" for row in rows]


def block(role_dir: Path) -> str:
    """The generated block (markers included) for one role, from its argument specs."""
    specs = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    entry_points = specs["argument_specs"]
    lines = [
        BEGIN,
        f"From `meta/argument_specs.yml` (edit descriptions there; `ansible-doc -t role "
        f"smallvps.hardening.{role_dir.name}` shows the same).",
    ]
    seen = {}
    for name, entry in entry_points.items():
        options = entry.get("options") or {}
        if len(entry_points) > 1:
            lines += ["", f"### Entry point `{name}`", "", markdown(entry.get("short_description", ""))]
        same = next((other for other, opts in seen.items() if opts == options), None)
        if not options:
            lines += ["", "No variables."]
        elif same:
            lines += ["", f"The variables of `{same}`."]
        else:
            lines += [""] + _table(options)
        seen[name] = options
    return "\n".join(lines + [END]) + "\n"


def updated(text: str, generated: str) -> str:
    """The README text with its block replaced by `generated`, or the block added."""
    start, end = text.find(BEGIN), text.find(END)
    if start >= 0 and end > start:
        return text[:start] + generated + text[end + len(END) :].removeprefix("\n")
    heading = re.search(rf"^{re.escape(HEADING)}\n", text, re.M)
    if heading:
        following = re.search(r"^## ", text[heading.end() :], re.M)
        cut = heading.end() + following.start() if following else len(text)
        before = text[:cut].rstrip("\n") + "\n\n"
        return before + generated + ("\n" + text[cut:] if following else "")
    return text.rstrip("\n") + f"\n\n{HEADING}\n\n" + generated


def readmes(root: Path = ROOT, roles: list[str] | None = None) -> dict[Path, tuple[str, str]]:
    """Every role README (or those of `roles`): (its text now, the text with the generated block)."""
    result = {}
    for role_dir in sorted((root / "roles").iterdir()):
        if (role_dir / "meta" / "argument_specs.yml").is_file() and (not roles or role_dir.name in roles):
            path = role_dir / "README.md"
            text = path.read_text(encoding="utf-8") if path.exists() else f"# smallvps.hardening.{role_dir.name}\n"
            result[path] = (text, updated(text, block(role_dir)))
    return result


def main(argv: list[str]) -> int:
    check = "--check" in argv
    roles = [arg for arg in argv if arg != "--check"]
    unknown = [role for role in roles if not (ROOT / "roles" / role / "meta" / "argument_specs.yml").is_file()]
    if unknown:
        print(
            f"usage: role_docs.py [--check] [ROLE...]; no roles/{unknown[0]}/meta/argument_specs.yml", file=sys.stderr
        )
        return 2
    stale = {path: wanted for path, (now, wanted) in readmes(ROOT, roles).items() if now != wanted}
    for path, wanted in stale.items():
        if check:
            print(
                f"{path.relative_to(ROOT)}: its variables block differs from meta/argument_specs.yml", file=sys.stderr
            )
        else:
            path.write_text(wanted, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if check and stale:
        print("run: make role-docs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
