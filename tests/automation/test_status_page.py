"""The status page at ``/``: what it shows of a status document, that it escapes every value and
links only http(s) URLs, and that the status server serves it with the same hardening as the rest.

The page is parsed back with the standard library's HTML parser, as a browser tokenizes it, so a
value that escaped its text would show up as an element or an attribute here.
"""

from __future__ import annotations

import copy
import http.client
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest

from automation.http import StatusServer
from automation.metrics import Metrics
from automation.status_page import render_status_page

# --- a parsed page ------------------------------------------------------------------------------

VOID = {"meta", "br", "hr", "img", "input", "link"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def all(self, tag: str) -> list[Node]:
        return [node for node in self.walk() if node.tag == tag]

    def by_id(self, element_id: str) -> Node:
        found = [node for node in self.walk() if node.attrs.get("id") == element_id]
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]

    def has_id(self, element_id: str) -> bool:
        return any(node.attrs.get("id") == element_id for node in self.walk())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def rows(page: Node, table_id: str) -> list[list[str]]:
    """The body rows of a table, each cell's text."""
    table = page.by_id(table_id)
    assert table.tag == "table"
    body = table.all("tbody")[0]
    return [[cell.text() for cell in row.all("td")] for row in body.all("tr")]


def header(page: Node, table_id: str) -> list[str]:
    return [cell.text() for cell in page.by_id(table_id).all("th")]


# --- documents ----------------------------------------------------------------------------------


def condition(type_: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-11-20T10:00:00Z",
    }


def document() -> dict[str, Any]:
    """Two stacks as ``/stacks`` has them: dev with every newer field, sales as an older status
    (no ``components``, ``previews`` or ``owner``) that is stalled on a file holding markup."""
    return {
        "stacks": [
            {
                "name": "dev",
                "phase": "Drifted",
                "conditions": [
                    condition("Ready", "True", "UpSucceeded", "96 to create at 2026-11-20T10:00:00Z"),
                    condition("Reconciling", "False", "Idle"),
                    condition("Stalled", "False", "NotStalled"),
                    condition("Drifted", "True", "DriftDetected", "2 resource(s) differ"),
                ],
                "fingerprint": "sha256:abc",
                "lastOperation": {
                    "kind": "drift-check",
                    "result": "succeeded",
                    "startedAt": "2026-11-20T10:05:00Z",
                    "finishedAt": "2026-11-20T10:05:09Z",
                    "changes": {"create": 1, "update": 2, "delete": 3, "same": 90},
                    "trigger": "DriftTimer",
                },
                "drift": {
                    "checkedAt": "2026-11-20T10:05:09Z",
                    "resources": [
                        "update kubernetes:apps/v1:Deployment api-dev",
                        "delete kubernetes:core/v1:ConfigMap siem-config",
                    ],
                },
                "components": [
                    {
                        "kind": "WazuhCluster",
                        "name": "siem",
                        "ready": "True",
                        "reason": "AllComponentsReady",
                        "message": "indexer 3/3, manager 2/2, dashboard 1/1",
                    },
                    {
                        "kind": "WandB",
                        "name": "wandb",
                        "ready": "False",
                        "reason": "KafkaNotReady",
                        "message": "kafka 1/3 brokers",
                    },
                ],
                "previews": [
                    {
                        "component": "Project/api",
                        "slug": "feature-x",
                        "branch": "feature/x",
                        "url": "https://feature-x.apps.example.test/",
                        "expiresAt": "2026-11-27T10:00:00Z",
                    },
                    {
                        "component": "Project/api",
                        "slug": "evil",
                        "branch": "evil",
                        "url": "javascript:alert(1)",
                        "expiresAt": "2026-11-27T10:00:00Z",
                    },
                ],
                "owner": "driftless-1",
            },
            {
                "name": "sales",
                "phase": "Stalled",
                "conditions": [
                    condition("Ready", "False", "InvalidSpec", "see Stalled"),
                    condition("Reconciling", "False", "Idle"),
                    condition(
                        "Stalled",
                        "True",
                        "InvalidSpec",
                        "stacks/sales.yaml:2: FivetranConnector/<script>alert(1)</script>: metadata.name: …",
                    ),
                    condition("Drifted", "Unknown", "NotChecked", "no drift check has run"),
                ],
                "fingerprint": None,
                "lastOperation": None,
                "drift": None,
            },
        ],
        "registries": {
            "harbor.example.test": {
                "verified": True,
                "checkedAt": "2026-11-20T09:00:00Z",
                "message": "credentials accepted",
            },
            "ghcr.io": {
                "verified": False,
                "checkedAt": "2026-11-20T09:00:01Z",
                "message": "401 Unauthorized",
            },
        },
        "sources": [],
        "dryRun": True,
    }


@pytest.fixture
def page() -> Node:
    return parse(render_status_page(document()))


# --- what it shows ------------------------------------------------------------------------------


def test_the_overview_lists_every_stack_with_its_phase_owner_and_what_matters_now(page: Node) -> None:
    assert header(page, "overview") == ["Stack", "Phase", "Owner", "Last operation", "Message"]
    assert rows(page, "overview") == [
        ["dev", "Drifted", "driftless-1", "drift-check succeeded", "DriftDetected: 2 resource(s) differ"],
        [
            "sales",
            "Stalled",
            "",
            "none yet",
            "InvalidSpec: stacks/sales.yaml:2: FivetranConnector/<script>alert(1)</script>: metadata.name: …",
        ],
    ]
    links = [a.attrs["href"] for a in page.by_id("overview").all("a")]
    assert links == ["#stack-dev", "#stack-sales"]
    assert page.has_id("stack-dev")
    assert page.has_id("stack-sales")


def test_every_condition_of_a_stack_is_shown(page: Node) -> None:
    assert header(page, "conditions-stack-dev") == ["Type", "Status", "Reason", "Message", "Since"]
    assert rows(page, "conditions-stack-dev") == [
        ["Ready", "True", "UpSucceeded", "96 to create at 2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z"],
        ["Reconciling", "False", "Idle", "", "2026-11-20T10:00:00Z"],
        ["Stalled", "False", "NotStalled", "", "2026-11-20T10:00:00Z"],
        ["Drifted", "True", "DriftDetected", "2 resource(s) differ", "2026-11-20T10:00:00Z"],
    ]


def test_the_last_operation_and_its_changes_are_shown(page: Node) -> None:
    assert header(page, "operation-stack-dev") == ["Kind", "Result", "Trigger", "Started", "Finished"]
    assert rows(page, "operation-stack-dev") == [
        ["drift-check", "succeeded", "DriftTimer", "2026-11-20T10:05:00Z", "2026-11-20T10:05:09Z"]
    ]
    assert header(page, "changes-stack-dev") == ["Create", "Update", "Delete", "Same"]
    assert rows(page, "changes-stack-dev") == [["1", "2", "3", "90"]]
    sales = page.by_id("stack-sales").text()
    assert "no operation has run yet" in sales


def test_a_failed_operation_shows_its_reason_and_message() -> None:
    status = document()
    status["stacks"][0]["lastOperation"].update(
        result="failed", reason="StackLocked", message="the stack is currently locked"
    )
    page = parse(render_status_page(status))
    assert header(page, "operation-stack-dev")[-2:] == ["Reason", "Message"]
    assert rows(page, "operation-stack-dev")[0][1:2] + rows(page, "operation-stack-dev")[0][-2:] == [
        "failed",
        "StackLocked",
        "the stack is currently locked",
    ]


def test_the_drifted_resources_are_listed(page: Node) -> None:
    drift = page.by_id("drift-stack-dev")
    assert [item.text() for item in drift.all("li")] == [
        "update kubernetes:apps/v1:Deployment api-dev",
        "delete kubernetes:core/v1:ConfigMap siem-config",
    ]
    assert "no drift check has run" in page.by_id("stack-sales").text()


def test_a_drift_check_that_found_nothing_says_so() -> None:
    status = document()
    status["stacks"][0]["drift"]["resources"] = []
    page = parse(render_status_page(status))
    assert page.by_id("drift-stack-dev").text() == "no drifted resources (checked 2026-11-20T10:05:09Z)"


def test_components_and_their_health_are_shown_and_an_older_status_has_none(page: Node) -> None:
    assert header(page, "components-stack-dev") == ["Kind", "Name", "Ready", "Reason", "Message"]
    assert rows(page, "components-stack-dev") == [
        ["WazuhCluster", "siem", "True", "AllComponentsReady", "indexer 3/3, manager 2/2, dashboard 1/1"],
        ["WandB", "wandb", "False", "KafkaNotReady", "kafka 1/3 brokers"],
    ]
    assert page.by_id("components-stack-sales").text() == "no components reported"


def test_previews_show_url_and_expiry_and_only_http_urls_are_links(page: Node) -> None:
    assert header(page, "previews-stack-dev") == ["Component", "Slug", "Branch", "URL", "Expires at"]
    assert rows(page, "previews-stack-dev") == [
        [
            "Project/api",
            "feature-x",
            "feature/x",
            "https://feature-x.apps.example.test/",
            "2026-11-27T10:00:00Z",
        ],
        ["Project/api", "evil", "evil", "javascript:alert(1)", "2026-11-27T10:00:00Z"],
    ]
    links = page.by_id("previews-stack-dev").all("a")
    assert [a.attrs["href"] for a in links] == ["https://feature-x.apps.example.test/"]
    assert page.by_id("previews-stack-sales").text() == "no previews"


@pytest.mark.parametrize(
    "url",
    [
        "http://preview.example.test:8080/a?b=c#d",
        "https://preview.example.test",
        "HTTPS://PREVIEW.EXAMPLE.TEST/",
    ],
)
def test_an_http_or_https_url_is_a_link(url: str) -> None:
    status = document()
    status["stacks"][0]["previews"] = [{"component": "Project/api", "slug": "x", "url": url}]
    links = parse(render_status_page(status)).by_id("previews-stack-dev").all("a")
    assert [a.attrs["href"] for a in links] == [url]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        " javascript:alert(1)",
        "\x01https://x.example.test/",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "ftp://files.example.test/",
        "//preview.example.test/",
        "/relative/path",
        "https://",
        "https:///path-without-host",
        "https://exa mple.test/",
    ],
)
def test_any_other_url_is_text_never_a_link(url: str) -> None:
    status = document()
    status["stacks"][0]["previews"] = [{"component": "Project/api", "slug": "x", "url": url}]
    previews = parse(render_status_page(status)).by_id("previews-stack-dev")
    assert previews.all("a") == []
    assert rows_of(previews)[0][3] == url


def rows_of(table: Node) -> list[list[str]]:
    return [[cell.text() for cell in row.all("td")] for row in table.all("tbody")[0].all("tr")]


def test_registries_show_whether_they_are_verified(page: Node) -> None:
    assert header(page, "registries") == ["Registry", "Verified", "Checked at", "Message"]
    assert rows(page, "registries") == [
        ["ghcr.io", "NO", "2026-11-20T09:00:01Z", "401 Unauthorized"],
        ["harbor.example.test", "yes", "2026-11-20T09:00:00Z", "credentials accepted"],
    ]


def test_no_registries_is_said() -> None:
    status = document()
    del status["registries"]
    assert parse(render_status_page(status)).by_id("registries").text() == "no registry checked yet"


def test_the_owner_shows_only_when_a_stack_has_one() -> None:
    status = document()
    with_owner = parse(render_status_page(status))
    assert "owner: driftless-1" in with_owner.by_id("stack-dev").text()

    del status["stacks"][0]["owner"]
    without = parse(render_status_page(status))
    assert header(without, "overview") == ["Stack", "Phase", "Last operation", "Message"]
    assert "owner" not in without.by_id("stack-dev").text()


@pytest.mark.parametrize(("dry_run", "notice"), [(True, True), (False, False), (None, False)])
def test_the_dry_run_state_is_said_when_the_document_says_so(dry_run: bool | None, notice: bool) -> None:
    status = document()
    if dry_run is None:
        del status["dryRun"]
    else:
        status["dryRun"] = dry_run
    page = parse(render_status_page(status))
    assert page.has_id("dry-run") is notice
    if notice:
        assert page.by_id("dry-run").text().startswith("Dry-run state:")


def test_no_stacks_yet_is_said() -> None:
    page = parse(render_status_page({"stacks": []}))
    assert "no stacks have been reconciled yet" in page.text()
    assert not page.has_id("overview")


def test_the_page_reloads_itself_and_loads_nothing_else(page: Node) -> None:
    refresh = [m for m in page.all("meta") if m.attrs.get("http-equiv") == "refresh"]
    assert [m.attrs["content"] for m in refresh] == ["10"]
    assert page.all("script") == []
    assert page.all("link") == []
    assert page.all("form") == []
    assert not any("src" in node.attrs for node in page.walk())
    hrefs = [a.attrs["href"] or "" for a in page.all("a")]
    assert all(h.startswith(("#", "/stacks", "https://feature-x.")) for h in hrefs), hrefs


# --- escaping -----------------------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&amp; </td></table>"


def hostile(value: Any) -> Any:
    """Every string of a document (keys of free-form mappings too) replaced by markup."""
    if isinstance(value, str):
        return value + HOSTILE
    if isinstance(value, list):
        return [hostile(item) for item in value]
    if isinstance(value, dict):
        return {key: hostile(item) for key, item in value.items()}
    return value


def test_every_value_is_escaped_so_markup_in_the_document_shows_as_text() -> None:
    status = hostile(document())
    status["registries"] = {key + HOSTILE: check for key, check in status["registries"].items()}
    status["dryRun"] = True

    page = parse(render_status_page(status))

    tags = {node.tag for node in page.walk()}
    assert tags <= {
        "#document", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3",
        "p", "a", "code", "table", "thead", "tbody", "tr", "th", "td", "span", "section", "div", "ul", "li",
    }  # fmt: skip
    assert not any(name.startswith("on") for node in page.walk() for name in node.attrs)
    # the stacks' own links, with ids of letters, digits and -_. only; a URL with markup and a
    # space in it is no link
    hrefs = [a.attrs["href"] or "" for a in page.all("a")]
    assert hrefs[0] == "/stacks"
    assert all(re.fullmatch(r"#stack-[A-Za-z0-9_.-]+", href) for href in hrefs[1:]), hrefs
    assert len(hrefs) == 3
    text = page.text()
    assert "dev" + HOSTILE in text
    assert "WazuhCluster" + HOSTILE in text
    assert "update kubernetes:apps/v1:Deployment api-dev" + HOSTILE in text
    assert "ghcr.io" + HOSTILE in text
    assert "driftless-1" + HOSTILE in text


def test_values_of_unexpected_types_show_as_nothing_rather_than_an_error() -> None:
    status: dict[str, Any] = {
        "stacks": [
            "not a stack",
            {
                "name": 7,
                "phase": None,
                "conditions": "Ready",
                "lastOperation": ["up"],
                "drift": {"resources": [1, None, "update a b"]},
                "components": [1, None, {"kind": "WandB"}],
                "previews": {"url": "https://x.example.test"},
            },
        ],
        "registries": ["ghcr.io"],
        "dryRun": "yes",
    }
    page = parse(render_status_page(status))
    assert rows(page, "overview") == [["7", "Unknown", "none yet", ""]]
    assert rows(page, "components-stack-7") == [["WandB", "", "", "", ""]]
    assert [item.text() for item in page.by_id("drift-stack-7").all("li")] == ["update a b"]
    assert page.by_id("previews-stack-7").text() == "no previews"
    assert not page.has_id("dry-run")


def test_rendering_leaves_the_document_as_it_was() -> None:
    status = document()
    before = copy.deepcopy(status)
    render_status_page(status)
    assert status == before


# --- served by the status server ----------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[StatusServer, dict[str, Any]]]:
    state: dict[str, Any] = {"document": document(), "broken": False}

    def status() -> dict[str, Any]:
        if state["broken"]:
            raise RuntimeError("status store unavailable")
        return state["document"]

    server = StatusServer(status, Metrics(), lambda: True, port=0)
    server.start()
    yield server, state
    server.stop()


def fetch(
    server: StatusServer, path: str, method: str = "GET", host: str | None = None
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    headers = {"Host": host} if host is not None else {}
    connection.request(method, path, headers=headers)
    return connection.getresponse()


def test_the_server_serves_the_page_at_the_root(served: tuple[StatusServer, dict[str, Any]]) -> None:
    server, state = served
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        policy = response.headers["Content-Security-Policy"]
        body = response.read().decode("utf-8")
    assert body == render_status_page(state["document"])
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert "frame-ancestors 'none'" in policy


def test_the_page_follows_the_status_as_it_changes(served: tuple[StatusServer, dict[str, Any]]) -> None:
    server, state = served
    state["document"] = {"stacks": [{"name": "fresh", "phase": "Pending", "conditions": []}]}
    page = parse(fetch(server, "/").read().decode())
    assert rows(page, "overview") == [["fresh", "Pending", "none yet", ""]]


def test_head_of_the_page_has_its_length_and_no_body(served: tuple[StatusServer, dict[str, Any]]) -> None:
    server, state = served
    response = fetch(server, "/", method="HEAD")
    assert response.status == 200
    assert int(response.headers["Content-Length"]) == len(render_status_page(state["document"]).encode())
    assert response.read() == b""


def test_the_page_is_refused_to_another_host_name(served: tuple[StatusServer, dict[str, Any]]) -> None:
    server, _ = served
    response = fetch(server, "/", host=f"evil.example:{server.port}")
    body = response.read()
    assert response.status == 421
    assert b"dev" not in body
    assert b"<html" not in body


def test_a_failing_status_is_a_500_on_the_page_too(served: tuple[StatusServer, dict[str, Any]]) -> None:
    server, state = served
    state["broken"] = True
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=5)
    assert failed.value.code == 500
    assert failed.value.read() == b"internal error\n"
    state["broken"] = False
    assert fetch(server, "/").status == 200
