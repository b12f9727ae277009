"""The program: checks that need the context run for every document before anything registers."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.common.spec import SpecModel
from components.context import ProgramSettings, StackContext
from components.documents import Document, SpecError, StackFileError, load_stack_text
from components.observations import Observations
from components.program import run_stack
from components.registry import KindRegistration, KindRegistry


class BucketSpec(SpecModel):
    folder: str


def test_a_context_check_failing_on_a_later_document_registers_nothing(tmp_path: Path):
    (tmp_path / "present").mkdir()
    created: list[str] = []

    def folder_exists(document: Document, context: StackContext) -> list[SpecError]:
        folder = context.settings.project_dir / document.spec.folder  # type: ignore[attr-defined]
        if folder.is_dir():
            return []
        return [
            SpecError(
                document.file,
                document.line_of(("spec", "folder")),
                document.subject,
                "spec.folder",
                "no such folder",
            )
        ]

    def create(document: Document, context: StackContext):
        created.append(document.name)

    registry = KindRegistry([KindRegistration("Bucket", BucketSpec, create, check_in_context=folder_exists)])
    text = "kind: Bucket\nmetadata: {name: a}\nspec: {folder: present}\n---\nkind: Bucket\nmetadata: {name: b}\nspec: {folder: absent}\n"
    documents = load_stack_text(text, "stacks/dev.yaml", registry)
    context = StackContext("dev", documents, Observations(), ProgramSettings(project_dir=tmp_path))

    with pytest.raises(StackFileError) as caught:
        run_stack(context, registry)

    assert [str(e) for e in caught.value.errors] == [
        "stacks/dev.yaml:7: Bucket/b: spec.folder: no such folder"
    ]
    assert created == []  # the valid first document was not built either
