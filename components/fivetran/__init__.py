"""Fivetran (source 000): a FivetranConnector document becomes one managed Fivetran connection.

- :mod:`.spec`: the validated document spec;
- :mod:`.checks`: load-time rules (one destination per connection, a package folder that exists);
- :mod:`.builders`: pure spec → provider arguments and live connection → status functions (no Pulumi);
- :mod:`.package`: the deterministic zip of a Connector SDK connector;
- :mod:`.component`: the ComponentResource that wires them together.
"""

from __future__ import annotations

from components.common.spec import spec_of
from components.context import StackContext
from components.documents import Document
from components.fivetran import package
from components.fivetran.adoption import add_command as add_import_command
from components.fivetran.checks import check_package, fivetran_rules
from components.fivetran.component import FivetranConnector, FivetranConnectorArgs
from components.fivetran.package import FivetranOptions
from components.fivetran.spec import FivetranConnectorSpec
from components.registry import KindRegistration


def create_fivetran_connector(document: Document, context: StackContext) -> FivetranConnector:
    """Build a document's FivetranConnector; a ``package`` is zipped here (:func:`check_package` has
    already made sure its folder exists)."""
    spec = spec_of(document, FivetranConnectorSpec)
    built = package.build_package(spec.package, context.settings) if spec.package is not None else None
    return FivetranConnector(document.name, FivetranConnectorArgs(spec=spec, context=context, package=built))


# Not a Kubernetes kind: it takes no metadata.namespace.
KINDS = (
    KindRegistration(
        kind="FivetranConnector",
        spec_model=FivetranConnectorSpec,
        create=create_fivetran_connector,
        namespaced=False,
        check_stack=fivetran_rules,
        check_in_context=check_package,
        options_model=FivetranOptions,
        add_commands=add_import_command,
    ),
)
