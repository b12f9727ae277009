"""One Pulumi operation in a fresh interpreter: ``python -m automation.daemon.engine_worker``.

:class:`~automation.daemon.automation_driver.AutomationDriver` starts this process for every
operation. It reads one request (JSON) on standard input, runs it through a
:class:`~automation.daemon.automation_driver.PulumiSession`, and writes JSON lines on standard
output: ``{"progress": "..."}`` while the engine works, then exactly one ``{"result": ...}`` or
``{"error": ...}``. The request travels on standard input, never in argv, because its environment
may hold the secrets passphrase.

SIGINT asks the running operation to stop at a safe point (the engine saves its state), which is
how the daemon cancels on shutdown.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

from automation.daemon import driver as driver_module
from automation.daemon.automation_driver import AutomationOptions, PulumiSession
from automation.daemon.driver import (
    ChangeCounts,
    DriftResult,
    DriverError,
    OperationResult,
    ProgramError,
    RecoveryReport,
    ResourceChange,
    StackLockedError,
    StackTarget,
)

OPERATIONS = ("preview", "up", "refresh", "check_drift", "destroy", "outputs", "recover_pending")


# --- the wire format, shared with the driver ---------------------------------------------------


def options_to_json(options: AutomationOptions) -> dict[str, Any]:
    return {
        "project_dir": str(options.project_dir),
        "state_dir": str(options.state_dir),
        "backend_url": options.backend_url,
        "secrets_provider": options.secrets_provider,
        "pulumi_home": options.pulumi_home,
        "pulumi_root": options.pulumi_root,
        "env": dict(options.env),
        "config": dict(options.config),
        "parallel": options.parallel,
        "operation_timeout": options.operation_timeout,
    }


def options_from_json(data: dict[str, Any]) -> AutomationOptions:
    return AutomationOptions(
        **{**data, "project_dir": Path(data["project_dir"]), "state_dir": Path(data["state_dir"])}
    )


def target_to_json(target: StackTarget) -> dict[str, Any]:
    return {
        "name": target.name,
        "stack_file": str(target.stack_file),
        "observations_file": None if target.observations_file is None else str(target.observations_file),
    }


def target_from_json(data: dict[str, Any]) -> StackTarget:
    observations = data.get("observations_file")
    return StackTarget(data["name"], Path(data["stack_file"]), Path(observations) if observations else None)


def _change_to_json(change: ResourceChange) -> dict[str, Any]:
    return {
        "op": change.op,
        "type": change.type,
        "name": change.name,
        "urn": change.urn,
        "fields": list(change.fields),
        "retained": change.retained,
    }


def _change_from_json(data: dict[str, Any]) -> ResourceChange:
    return ResourceChange(
        data["op"], data["type"], data["name"], data["urn"], tuple(data["fields"]), bool(data.get("retained"))
    )


def result_to_json(result: Any) -> dict[str, Any]:
    if isinstance(result, OperationResult):
        return {
            "operation": {
                "kind": result.kind,
                "changes": result.changes.to_json(),
                "duration": result.duration,
                "outputs": dict(result.outputs),
                "resources": [_change_to_json(c) for c in result.resources],
            }
        }
    if isinstance(result, DriftResult):
        return {
            "drift": {
                "resources": [_change_to_json(c) for c in result.resources],
                "duration": result.duration,
            }
        }
    if isinstance(result, RecoveryReport):
        return {
            "recovery": {
                "stack": result.stack,
                "found": list(result.found),
                "actions": list(result.actions),
                "manual": list(result.manual),
            }
        }
    return {"outputs": dict(result)}


def result_from_json(data: dict[str, Any]) -> Any:
    if "operation" in data:
        op = data["operation"]
        return OperationResult(
            op["kind"],
            ChangeCounts(**op["changes"]),
            op["duration"],
            op["outputs"],
            tuple(_change_from_json(c) for c in op["resources"]),
        )
    if "drift" in data:
        drift = data["drift"]
        return DriftResult(tuple(_change_from_json(c) for c in drift["resources"]), drift["duration"])
    if "recovery" in data:
        report = data["recovery"]
        return RecoveryReport(
            report["stack"], tuple(report["found"]), tuple(report["actions"]), tuple(report["manual"])
        )
    return data["outputs"]


def _error_classes() -> dict[str, type[DriverError]]:
    found: dict[str, type[DriverError]] = {}
    pending: list[type[DriverError]] = [DriverError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def error_to_json(error: DriverError) -> dict[str, Any]:
    data = {"class": type(error).__name__, "message": error.message, "detail": error.detail}
    if isinstance(error, StackLockedError) and error.person_step:
        data["person_step"] = error.person_step
    return data


def error_from_json(data: dict[str, Any]) -> DriverError:
    cls = _error_classes().get(data.get("class", ""), driver_module.UpdateFailedError)
    if cls.__module__ != driver_module.__name__:  # a private subclass: its public parent speaks for it
        cls = next(c for c in cls.__mro__ if c.__module__ == driver_module.__name__)
    error = cls(data.get("message", ""), detail=data.get("detail", ""))
    if isinstance(error, StackLockedError):
        error.person_step = data.get("person_step", "")
    return error


# --- the worker ---------------------------------------------------------------------------------


_channel: TextIO = sys.stdout


def _emit(message: dict[str, Any]) -> None:
    _channel.write(json.dumps(message) + "\n")
    _channel.flush()


def run(request: dict[str, Any]) -> dict[str, Any]:
    operation = request["operation"]
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}")
    session = PulumiSession(options_from_json(request["options"]), environ=request.get("environ"))
    target = target_from_json(request["target"])
    signal.signal(signal.SIGINT, lambda *_: session.cancel(target))

    def progress(line: str) -> None:
        _emit({"progress": line})

    try:
        if operation == "up":
            result = session.up(target, refresh=bool(request.get("refresh")), progress=progress)
        elif operation in ("outputs", "recover_pending"):
            result = getattr(session, operation)(target)
        else:
            result = getattr(session, operation)(target, progress)
    except DriverError as error:
        return {"error": error_to_json(error)}
    except Exception as exc:  # noqa: BLE001  # the program or SDK broke outside the engine: the stack's error
        return {"error": error_to_json(ProgramError(f"{type(exc).__name__}: {exc}"))}
    return {"result": result_to_json(result)}


def main() -> int:
    global _channel
    # The protocol gets the original standard output to itself; anything the program prints goes
    # to standard error instead of corrupting it.
    _channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    request = json.loads(sys.stdin.read())
    _emit(run(request))
    return 0


if __name__ == "__main__":
    sys.exit(main())
