"""Fivetran (source 000): a FivetranConnector document becomes one managed Fivetran connection."""

from components.fivetran.adoption import FivetranOptions
from components.fivetran.adoption import add_command as add_import_command
from components.fivetran.checks import fivetran_rules
from components.fivetran.component import check_package, create
from components.fivetran.spec import FivetranConnectorSpec
from components.registry import KindRegistration

# Not a Kubernetes kind: it takes no metadata.namespace.
KINDS = (
    KindRegistration(
        kind="FivetranConnector",
        spec_model=FivetranConnectorSpec,
        create=create,
        namespaced=False,
        check_stack=fivetran_rules,
        check_in_context=check_package,
        options_model=FivetranOptions,
        add_commands=add_import_command,
    ),
)
