"""The review diff: adds, field-by-field updates and deletes, with secrets kept masked."""

from __future__ import annotations

import json

from automation.cli import main
from automation.render.diff import diff_renders, to_markdown


def resource(name, inputs, type_="kubernetes:apps/v1:Deployment", parent="shop"):
    return {"type": type_, "name": name, "parent": parent, "inputs": inputs}


OLD = {
    "stack": "dev",
    "resources": [
        resource("web", {"spec": {"replicas": 2, "template": {"image": "nginx:1.26"}}}),
        resource("secret", {"stringData": "[secret]"}, type_="kubernetes:core/v1:Secret"),
        resource("old-job", {"spec": {"schedule": "0 0 * * *"}}, type_="kubernetes:batch/v1:CronJob"),
    ],
}
NEW = {
    "stack": "dev",
    "resources": [
        resource("web", {"spec": {"replicas": 3, "template": {"image": "nginx:1.26"}, "paused": True}}),
        resource("secret", {"stringData": "[secret]"}, type_="kubernetes:core/v1:Secret"),
        resource("api", {"spec": {"replicas": 1}}),
    ],
}


def test_diff_finds_adds_updates_and_deletes():
    diff = diff_renders(OLD, NEW)
    assert [r["name"] for r in diff.added] == ["api"]
    assert [r["name"] for r in diff.removed] == ["old-job"]
    ((updated, changes),) = diff.updated
    assert updated["name"] == "web"
    assert [(c.path, c.new) for c in changes] == [("spec.paused", True), ("spec.replicas", 3)]
    assert changes[1].old == 2


def test_markdown_is_fit_for_a_review_comment():
    markdown = to_markdown(diff_renders(OLD, NEW))
    assert markdown.startswith("### driftless: stack `dev`\n\n**1 to add, 1 to update, 1 to delete**")
    assert "- `+` `kubernetes:apps/v1:Deployment` **api** (in `shop`)" in markdown
    assert "  - `spec.replicas`: `2` → `3`" in markdown
    assert "  - `spec.paused`: _(absent)_ → `true`" in markdown
    assert "- `-` `kubernetes:batch/v1:CronJob` **old-job** (in `shop`)" in markdown
    assert "secret" not in markdown.split("#### Update")[1].split("#### Delete")[0]


def test_identical_renders_have_no_changes():
    assert to_markdown(diff_renders(OLD, OLD)) == "### driftless: stack `dev`\n\nNo changes.\n"


def test_diff_command_reads_two_render_files(tmp_path, capsys):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(OLD))
    new.write_text(json.dumps(NEW))
    assert main(["diff", str(old), str(new)]) == 0
    assert "**1 to add, 1 to update, 1 to delete**" in capsys.readouterr().out


def read(name, id_, type_="kubernetes:core/v1:Secret"):
    """A resource the program looks up (``Resource.get``): not managed by the stack."""
    return {"type": type_, "name": name, "parent": None, "inputs": {}, "read": id_}


def test_reads_are_not_changes_and_are_listed_apart():
    old = {"stack": "dev", "resources": [resource("web", {"a": 1}), read("gone-lookup", "ns/gone")]}
    new = {
        "stack": "dev",
        "resources": [
            resource("web", {"a": 1}),
            resource("api", {"a": 2}),
            read("tls", "ingress/wildcard-tls"),
        ],
    }

    diff = diff_renders(old, new)
    markdown = to_markdown(diff)

    assert [r["name"] for r in diff.added] == ["api"]
    assert diff.removed == []  # a lookup that went away deletes nothing
    assert [r["name"] for r in diff.reads] == ["tls"]
    assert "**1 to add, 0 to update, 0 to delete**" in markdown
    assert "**Reads** (1, existing resources looked up, never changed): " in markdown
    assert "`kubernetes:core/v1:Secret` **tls** (id `ingress/wildcard-tls`)" in markdown
    assert "`+` `kubernetes:core/v1:Secret`" not in markdown


def test_a_render_that_only_reads_has_no_changes():
    only_reads = {"stack": "dev", "resources": [read("tls", "ingress/wildcard-tls")]}

    markdown = to_markdown(diff_renders({"stack": "dev", "resources": []}, only_reads))

    assert markdown.startswith("### driftless: stack `dev`\n\nNo changes.\n\n**Reads** (1, ")
