"""The status endpoint's page at ``/``: the ``/stacks`` document as plain HTML for people.

A pure function of the status document: it prints what the document holds and nothing else (the
document holds no secret), every value escaped, so a stack message that contains markup shows as
text. The page is read-only: no script, no form, no external asset; it reloads itself with a
``<meta http-equiv="refresh">``. Fields the document may lack (``components``, ``previews`` and
``owner`` of a stack, ``dryRun``, ``registries``; older statuses and other daemons) show as
empty, and a value of an unexpected type as nothing rather than an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from automation.daemon.health import READY_VALUES
from automation.daemon.status import PHASES

REFRESH_SECONDS = 10

# A link only for a plain absolute http(s) URL: no other scheme, no whitespace or control
# character a browser would strip before reading the scheme.
_LINKABLE_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f/?#]+[^\s\x00-\x1f\x7f]*", re.IGNORECASE)

_STYLE = """
:root { color-scheme: light; --ok: #1a7f37; --bad: #c62828; --warn: #9a6700; --muted: #57606a; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin: 0; }
h3 { font-size: .95rem; margin: 1rem 0 .35rem; color: var(--muted); }
.refresh, .empty, .time { color: var(--muted); }
.time { white-space: nowrap; }
.notice { border: 1px solid var(--warn); background: #fff8c5; padding: .5rem .75rem; border-radius: 6px; }
table { border-collapse: collapse; margin: .25rem 0; }
th, td { text-align: left; vertical-align: top; padding: .25rem .6rem; border-bottom: 1px solid #d0d7de; }
th { background: #f6f8fa; font-weight: 600; }
td.message { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 60rem; }
section.stack { border: 1px solid #d0d7de; border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; }
.stack-head { display: flex; gap: .75rem; align-items: baseline; flex-wrap: wrap; }
.badge { padding: 0 .5rem; border-radius: 1rem; border: 1px solid currentColor; font-size: .85rem; }
.phase-Ready, .status-True.ready, .verified-yes { color: var(--ok); }
.phase-Stalled, .phase-Retrying, .status-False.ready, .verified-no { color: var(--bad); }
.phase-Drifted, .phase-NotReady, .phase-Reconciling, .phase-Pending,
.status-Unknown.ready { color: var(--warn); }
.phase-Removed, .phase-unknown { color: var(--muted); }
ul.drift { margin: .25rem 0; padding-left: 1.25rem; font-family: ui-monospace, monospace; }
"""


def render_status_page(document: Mapping[str, Any], *, refresh_seconds: int = REFRESH_SECONDS) -> str:
    """The whole page for one status document (what ``/stacks`` serves)."""
    stacks = _mappings(document.get("stacks"))
    registries = document.get("registries")
    body = [
        "<header>",
        "<h1>driftless status</h1>",
        f'<p class="refresh">{_summary(stacks)}; this page reloads every {int(refresh_seconds)} s '
        '(<a href="/stacks">/stacks</a> has it as JSON).</p>',
        "</header>",
    ]
    if document.get("dryRun") is True:
        body.append(
            '<p class="notice" id="dry-run">Dry-run state: these stacks were reconciled by '
            "<code>run --dry-run</code> against the offline render, not by Pulumi; nothing was deployed.</p>"
        )
    body += _overview(stacks)
    body += [line for stack in stacks for line in _stack_section(stack)]
    body += _registries(registries if isinstance(registries, Mapping) else {})
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>driftless status</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


# --- sections -------------------------------------------------------------------------------


def _summary(stacks: Sequence[Mapping[str, Any]]) -> str:
    if not stacks:
        return "no stacks have been reconciled yet"
    counts: dict[str, int] = {}
    for stack in stacks:
        phase = str(stack.get("phase") or "Unknown")
        counts[phase] = counts.get(phase, 0) + 1
    phases = ", ".join(f"{count} {_e(phase)}" for phase, count in sorted(counts.items()))
    return f"{len(stacks)} stack(s): {phases}"


def _overview(stacks: Sequence[Mapping[str, Any]]) -> list[str]:
    if not stacks:
        return []
    sharded = any(stack.get("owner") is not None for stack in stacks)
    header = ["Stack", "Phase", *(["Owner"] if sharded else []), "Last operation", "Message"]
    rows = []
    for stack in stacks:
        name = stack.get("name")
        operation = _mapping(stack.get("lastOperation"))
        last = " ".join(_e(operation.get(key)) for key in ("kind", "result") if operation.get(key))
        cells = [
            f'<a href="#{_anchor(name)}">{_e(name)}</a>',
            _phase_badge(stack.get("phase")),
            *([_e(stack.get("owner"))] if sharded else []),
            last or '<span class="empty">none yet</span>',
            _td_message(_headline(stack)),
        ]
        rows.append(cells)
    return ["<h2>Stacks</h2>", *_table("overview", header, rows)]


def _stack_section(stack: Mapping[str, Any]) -> list[str]:
    name = stack.get("name")
    anchor = _anchor(name)
    head = [f"<h2>{_e(name)}</h2>", _phase_badge(stack.get("phase"))]
    if stack.get("owner") is not None:
        head.append(f'<span class="owner">owner: {_e(stack.get("owner"))}</span>')
    lines = [
        f'<section class="stack" id="{anchor}">',
        f'<div class="stack-head">{"".join(head)}</div>',
        "<h3>Conditions</h3>",
    ]
    conditions = _mappings(stack.get("conditions"))
    lines += _table(
        f"conditions-{anchor}",
        ["Type", "Status", "Reason", "Message", "Since"],
        [
            [
                _e(c.get("type")),
                f'<span class="{_status_class(c.get("status"), c.get("type") == "Ready")}">'
                f"{_e(c.get('status'))}</span>",
                _e(c.get("reason")),
                _td_message(c.get("message")),
                _time(c.get("lastTransitionTime")),
            ]
            for c in conditions
        ],
        "no conditions",
    )
    lines += _last_operation(anchor, _mapping(stack.get("lastOperation")))
    lines += _drift(anchor, stack.get("drift"))
    lines.append("<h3>Components</h3>")
    lines += _table(
        f"components-{anchor}",
        ["Kind", "Name", "Ready", "Reason", "Message"],
        [
            [
                _e(c.get("kind")),
                _e(c.get("name")),
                f'<span class="{_status_class(c.get("ready"), True)}">{_e(c.get("ready"))}</span>',
                _e(c.get("reason")),
                _td_message(c.get("message")),
            ]
            for c in _mappings(stack.get("components"))
        ],
        "no components reported",
    )
    lines.append("<h3>Previews</h3>")
    lines += _table(
        f"previews-{anchor}",
        ["Component", "Slug", "Branch", "URL", "Expires at"],
        [
            [
                _e(p.get("component")),
                _e(p.get("slug")),
                _e(p.get("branch")),
                _url(p.get("url")),
                _time(p.get("expiresAt")),
            ]
            for p in _mappings(stack.get("previews"))
        ],
        "no previews",
    )
    lines.append("</section>")
    return lines


def _last_operation(anchor: str, operation: Mapping[str, Any]) -> list[str]:
    lines = ["<h3>Last operation</h3>"]
    if not operation:
        return [*lines, '<p class="empty">no operation has run yet</p>']
    fields = [
        ("Kind", _e(operation.get("kind"))),
        ("Result", _e(operation.get("result"))),
        ("Trigger", _e(operation.get("trigger"))),
        ("Started", _time(operation.get("startedAt"))),
        ("Finished", _time(operation.get("finishedAt"))),
    ]
    if operation.get("reason"):
        fields.append(("Reason", _e(operation.get("reason"))))
    if operation.get("message"):
        fields.append(("Message", _td_message(operation.get("message"))))
    lines += _table(f"operation-{anchor}", [name for name, _ in fields], [[v for _, v in fields]])
    changes = _mapping(operation.get("changes"))
    lines += _table(
        f"changes-{anchor}",
        ["Create", "Update", "Delete", "Same"],
        [[_e(changes.get(key, 0)) for key in ("create", "update", "delete", "same")]],
    )
    return lines


def _drift(anchor: str, drift: Any) -> list[str]:
    lines = ["<h3>Drift</h3>"]
    if not isinstance(drift, Mapping):
        return [*lines, '<p class="empty">no drift check has run</p>']
    resources = [r for r in drift.get("resources") or [] if isinstance(r, str)]
    checked = f"checked {_time(drift.get('checkedAt'))}"
    if not resources:
        return [*lines, f'<p class="empty" id="drift-{anchor}">no drifted resources ({checked})</p>']
    items = "".join(f"<li>{_e(resource)}</li>" for resource in resources)
    return [
        *lines,
        f"<p>{len(resources)} drifted resource(s), {checked}:</p>",
        f'<ul class="drift" id="drift-{anchor}">{items}</ul>',
    ]


def _registries(registries: Mapping[str, Any]) -> list[str]:
    rows = []
    for server, check in sorted(registries.items(), key=lambda item: str(item[0])):
        check = _mapping(check)
        verified = check.get("verified") is True
        shown = ("yes" if verified else "NO") if "verified" in check else "not checked"
        message = check.get("message")
        secret = _mapping(check.get("credentialsSecret"))
        if secret:
            version = secret.get("resourceVersion")
            state = f"resourceVersion {version}" if version else "version unknown"
            said = f"credentials Secret {secret.get('secret')}: {state} ({secret.get('message')})"
            message = f"{message}; {said}" if message else said
        rows.append(
            [
                _e(server),
                f'<span class="verified-{"yes" if verified else "no"}">{shown}</span>',
                _time(check.get("checkedAt")),
                _td_message(message),
            ]
        )
    table = _table(
        "registries",
        ["Registry", "Verified", "Checked at", "Message"],
        rows,
        "no registry checked yet",
    )
    return ["<h2>Registries</h2>", *table]


# --- cells ----------------------------------------------------------------------------------


def _table(table_id: str, header: Sequence[str], rows: Sequence[Sequence[str]], empty: str = "") -> list[str]:
    """A table of cells, each markup already escaped (a whole ``<td>`` or its content); ``empty``
    is said instead of a table without rows."""
    if not rows and empty:
        return [f'<p class="empty" id="{table_id}">{_e(empty)}</p>']
    head = "".join(f"<th>{_e(cell)}</th>" for cell in header)
    body = [
        "<tr>" + "".join(cell if cell.startswith("<td") else f"<td>{cell}</td>" for cell in row) + "</tr>"
        for row in rows
    ]
    return [
        f'<table id="{table_id}">',
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
        *body,
        "</tbody>",
        "</table>",
    ]


def _td_message(message: Any) -> str:
    return f'<td class="message">{_e(message)}</td>'


def _time(value: Any) -> str:
    if not value:
        return '<span class="time">-</span>'
    return f'<span class="time">{_e(value)}</span>'


def _url(url: Any) -> str:
    if not isinstance(url, str) or not url:
        return ""
    if _LINKABLE_URL.fullmatch(url):
        return f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(url)}</a>'
    return _e(url)


def _phase_badge(phase: Any) -> str:
    known = phase if phase in PHASES else "unknown"
    return f'<span class="badge phase phase-{known}">{_e(phase or "Unknown")}</span>'


def _status_class(status: Any, readiness: bool) -> str:
    known = status if status in READY_VALUES else "Unknown"
    return f"status-{known}" + (" ready" if readiness else "")


def _headline(stack: Mapping[str, Any]) -> str:
    """The one condition that matters most now: a true Stalled, Reconciling or Drifted, else Ready."""
    conditions = {str(c.get("type")): c for c in _mappings(stack.get("conditions"))}
    for kind in ("Stalled", "Reconciling", "Drifted"):
        condition = conditions.get(kind)
        if condition is not None and condition.get("status") == "True" and condition.get("message"):
            return f"{condition.get('reason')}: {condition.get('message')}"
    ready = conditions.get("Ready")
    if ready is not None and ready.get("message"):
        return f"{ready.get('reason')}: {ready.get('message')}"
    return ""


def _anchor(name: Any) -> str:
    """An element id for a stack: its name, with anything but letters, digits, ``-_.`` replaced."""
    return "stack-" + re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))


def _e(value: Any) -> str:
    return "" if value is None else escape(str(value), quote=True)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [item for item in value if isinstance(item, Mapping)]
