"""The key tables of ``scenarios/README.md``, rendered from the declarations in
:mod:`simulator.scenario.keys`."""

from __future__ import annotations

from simulator.scenario.keys import SECTIONS
from simulator.scenario.schema import FROM_LEVEL, FROM_PRODUCT, REQUIRED

SCORING_DOC = (
    "Overrides of `assets/rubric.toml`: any of its numeric keys (component points, pass mark, "
    "critical limits) with a number from 0 to 1000."
)


def schema_markdown() -> str:
    """The key tables of ``scenarios/README.md``, rendered from the declarations."""
    out: list[str] = []
    for sec in SECTIONS:
        head = f"[[{sec.name}]]" if sec.array else f"[{sec.name}]"
        req = " (required)" if sec.required else ""
        out.append(f"### `{head}`{req}\n\n{sec.doc}\n")
        out.append("| key | unit | default | allowed | what it does |")
        out.append("|---|---|---|---|---|")
        for k in sec.keys:
            default = (
                repr(k.default)
                if k.default in (REQUIRED, FROM_LEVEL, FROM_PRODUCT)
                else f"`{str(k.default).lower() if isinstance(k.default, bool) else k.default}`"
            )
            doc = k.doc + (f" ({k.why}.)" if k.why else "")
            out.append(f"| `{k.name}` | {k.unit or '—'} | {default} | {k.allowed()} | {doc} |")
        out.append("")
    out.append(f"### `[scoring]`\n\n{SCORING_DOC}\n")
    return "\n".join(out)
