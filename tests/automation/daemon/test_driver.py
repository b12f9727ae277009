"""Mapping what Pulumi raises onto retryable and permanent errors, on realistic CLI output."""

from __future__ import annotations

import pytest
from pulumi.automation import errors as automation_errors
from pulumi.automation._cmd import CommandResult
from pulumi.automation.errors import CommandError

from automation.daemon.driver import (
    PULUMI_INSTALL_HINT,
    CliMissingError,
    ConfigurationError,
    InvalidSpecError,
    OperationTimeoutError,
    PendingOperationsError,
    ProgramError,
    ProviderUnavailableError,
    StackLockedError,
    UpdateFailedError,
    classify_error,
    command_output,
)
from components.documents import SpecError, StackFileError
from tests.automation.daemon.helpers import LOCKED_STDERR, PROGRAM_STDOUT, UNAVAILABLE_STDERR, command_error


def plain_command_error(stderr: str, stdout: str = "") -> CommandError:
    """The generic CommandError, as the SDK raises it when its own matching misses."""
    return CommandError(CommandResult(stdout=stdout, stderr=stderr, code=255))


@pytest.mark.parametrize(
    ("raised", "expected", "message"),
    [
        pytest.param(
            command_error(LOCKED_STDERR),
            StackLockedError,
            "the stack is currently locked by 1 lock(s)",
            id="diy-lock-ConcurrentUpdateError",
        ),
        pytest.param(
            plain_command_error(LOCKED_STDERR),
            StackLockedError,
            "the stack is currently locked by 1 lock(s)",
            id="diy-lock-generic-CommandError",
        ),
        pytest.param(
            plain_command_error("", stdout="error: the stack is currently locked by 2 lock(s). Either wait"),
            StackLockedError,
            "currently locked by 2 lock(s)",
            id="lock-reported-on-stdout",
        ),
        pytest.param(
            command_error("error: [409] Conflict: Another update is currently in progress."),
            StackLockedError,
            "[409] Conflict",
            id="cloud-409",
        ),
        pytest.param(
            command_error(
                "error: update failed\n"
                "error: 1 error occurred:\n"
                '\t* resource "security/siem-indexer" was not successfully created by the Kubernetes API server: '
                "Timeout occurred polling for 'siem-indexer'"
            ),
            OperationTimeoutError,
            '1 error occurred: resource "security/siem-indexer" was not successfully created',
            id="kubernetes-await-timeout",
        ),
        pytest.param(
            command_error("error: rpc error: code = DeadlineExceeded desc = context deadline exceeded"),
            OperationTimeoutError,
            "context deadline exceeded",
            id="deadline-exceeded",
        ),
        pytest.param(
            command_error(UNAVAILABLE_STDERR),
            ProviderUnavailableError,
            "code 503",
            id="kubernetes-503",
        ),
        pytest.param(
            command_error(
                "error: fivetran:index/connector:Connector resource 'salesforce' failed: "
                "unexpected response: 502 Bad Gateway"
            ),
            ProviderUnavailableError,
            "502 Bad Gateway",
            id="fivetran-502",
        ),
        pytest.param(
            command_error(
                "error: configured Kubernetes cluster is unreachable: unable to load schema information from the "
                'API server: Get "https://127.0.0.1:6443/openapi/v2?timeout=32s": dial tcp 127.0.0.1:6443: '
                "connect: connection refused"
            ),
            ProviderUnavailableError,
            "cluster is unreachable",
            id="cluster-unreachable",
        ),
        pytest.param(
            command_error("error: update failed", stdout=PROGRAM_STDOUT),
            ProgramError,
            "program failed: ZeroDivisionError: integer division or modulo by zero",
            id="python-program-exception",
        ),
        pytest.param(
            command_error(
                "error: update failed",
                stdout=(
                    "    error: Program failed with an unhandled exception:\n"
                    "    Traceback (most recent call last):\n"
                    '      File "/srv/driftless/__main__.py", line 30, in main\n'
                    "    components.documents.StackFileError: stacks/prod.yaml:14: WazuhCluster/siem: "
                    "spec.indexer.replicas: must be >= 1\n"
                ),
            ),
            InvalidSpecError,
            "stacks/prod.yaml:14: WazuhCluster/siem: spec.indexer.replicas: must be >= 1",
            id="stack-file-rejected-inside-the-program",
        ),
        pytest.param(
            command_error(
                "error: getting secrets manager: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or "
                "PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
            ),
            ConfigurationError,
            "passphrase must be set",
            id="no-passphrase",
        ),
        pytest.param(
            command_error(
                "error: the current deployment has 1 resource(s) with pending operations:\n"
                "  * urn:pulumi:dev::driftless::kubernetes:apps/v1:Deployment::api-dev, interrupted while creating"
            ),
            PendingOperationsError,
            "pending operations",
            id="pending-operations",
        ),
        pytest.param(
            command_error(
                "error: update failed\n"
                "error: fivetran:index/connector:Connector resource 'salesforce' failed: "
                "invalid value for config.domain"
            ),
            UpdateFailedError,
            "resource 'salesforce' failed: invalid value for config.domain",
            id="unclassified-resource-failure",
        ),
    ],
)
def test_cli_failures_map_to_typed_errors(raised, expected, message):
    error = classify_error(raised)

    assert type(error) is expected
    assert message in error.message
    assert "\n" not in error.message


def test_retryable_and_permanent_families():
    assert classify_error(command_error(LOCKED_STDERR)).retryable
    assert classify_error(command_error(UNAVAILABLE_STDERR)).retryable
    assert not classify_error(command_error("error: update failed", stdout=PROGRAM_STDOUT)).retryable
    assert not classify_error(FileNotFoundError(2, "No such file or directory", "pulumi")).retryable


def test_a_missing_cli_says_how_to_install_it_in_one_line():
    error = classify_error(FileNotFoundError(2, "No such file or directory", "pulumi"))

    assert isinstance(error, CliMissingError)
    assert "curl -fsSL https://get.pulumi.com | sh" in error.message
    assert PULUMI_INSTALL_HINT in error.message
    assert "\n" not in error.message


def test_a_missing_other_file_is_not_a_missing_cli():
    assert not isinstance(
        classify_error(FileNotFoundError(2, "No such file", "stacks/dev.yaml")), CliMissingError
    )


def test_a_stack_file_error_keeps_every_problem():
    problems = [
        SpecError("stacks/dev.yaml", 3, "Note/a", "spec.size", "must be >= 1"),
        SpecError("stacks/dev.yaml", 9, "Note/b", "spec.x", "unknown field"),
    ]

    error = classify_error(StackFileError(problems))

    assert isinstance(error, InvalidSpecError)
    assert error.errors == tuple(problems)
    assert error.message == "stacks/dev.yaml:3: Note/a: spec.size: must be >= 1"


def test_command_output_splits_the_sdk_error_text():
    error = plain_command_error("error: boom", stdout="Updating (dev):\n done")

    assert command_output(error) == ("Updating (dev):\n done", "error: boom")


# --- classes are the SDK's, matched with isinstance -----------------------------------------------


def test_pythons_own_runtime_error_is_not_a_failing_program():
    error = classify_error(RuntimeError("dictionary changed size during iteration"))

    assert type(error) is UpdateFailedError
    assert error.message == "RuntimeError: dictionary changed size during iteration"


def test_the_sdks_error_classes_are_recognised_whatever_the_text():
    result = CommandResult(stdout="", stderr="error: something the patterns do not know", code=255)

    assert type(classify_error(automation_errors.RuntimeError(result))) is ProgramError
    assert type(classify_error(automation_errors.CompilationError(result))) is ProgramError
    assert type(classify_error(automation_errors.ConcurrentUpdateError(result))) is StackLockedError
    assert type(classify_error(automation_errors.StackNotFoundError(result))) is ConfigurationError


def test_a_look_alike_class_name_is_not_the_sdks_error():
    class ConcurrentUpdateError(Exception):  # named like the SDK's, on purpose
        pass

    assert type(classify_error(ConcurrentUpdateError("boom"))) is UpdateFailedError


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SystemExit(3)], ids=["ctrl-c", "exit"])
def test_an_interrupt_is_never_mapped_to_a_failure(interrupt):
    with pytest.raises(type(interrupt)):
        classify_error(interrupt)
