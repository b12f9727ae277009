"""Generate a large stack set for the benchmarks: many stacks of every kind, plus what was observed.

``python bench/generate.py OUT`` writes, under ``OUT`` (never into the project's ``stacks/``):

- ``stacks/bench-NNN.yaml``: one file per stack. Every stack has a DomainPool, a Registry and its
  share of Kapsa Projects (3 environments, previews on); WazuhClusters, FivetranConnectors and
  WandBs are spread evenly over the stacks.
- ``observations/bench-NNN.json``: each stack's observations (git heads of its projects'
  repositories: ``main`` plus one branch per preview; first-seen times of those previews, an hour
  ago; the last good image of ``main``), for rendering a stack directly.
- ``observation-store.json``: the same observations in the daemon's observation store format, to
  seed a daemon state directory so its first run renders exactly what ``observations/`` describes.
- ``manifest.json``: the counts, for the benchmarks and their reports.

Everything is local: repository URLs point at ``127.0.0.1`` (the daemon benchmark rewrites them to
local bare repositories with ``url.<base>.insteadOf``), registry servers are ``127.0.0.1:5000``
and are never contacted unless registry verification is configured, and no Vault is named.

The set is deterministic for given counts and ``now``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
if str(PROJECT_DIR) not in sys.path:  # run as `python bench/generate.py`
    sys.path.insert(0, str(PROJECT_DIR))

from components.kapsa.slugs import slugify  # noqa: E402

STACK_PREFIX = "bench"
REPO_BASE = "https://127.0.0.1:9/bench/"  # rewritten to local repositories by the daemon benchmark
REGISTRY_SERVER = "127.0.0.1:5000"
PREVIEW_BRANCH = "feature/bench-{n}"
PREVIEW_AGE = timedelta(hours=1)  # well inside the default ttlHours (168)


@dataclass(frozen=True)
class Counts:
    """How big a set to generate."""

    stacks: int = 200
    projects: int = 200
    environments: int = 3
    previews: int = 2
    wazuh: int = 20
    fivetran: int = 50
    wandb: int = 10

    @classmethod
    def small(cls) -> Counts:
        """A set that renders in seconds, for CI smoke runs."""
        return cls(stacks=4, projects=4, environments=3, previews=2, wazuh=1, fivetran=2, wandb=1)

    def documents(self) -> int:
        """Documents in the whole set (a DomainPool and a Registry per stack)."""
        return 2 * self.stacks + self.projects + self.wazuh + self.fivetran + self.wandb


def stack_name(index: int) -> str:
    return f"{STACK_PREFIX}-{index:03d}"


def repo_url(project: str) -> str:
    return f"{REPO_BASE}{project}.git"


def commit_of(*parts: str) -> str:
    """A stable, realistic-looking 40-hex commit id."""
    return hashlib.sha1("/".join(parts).encode(), usedforsecurity=False).hexdigest()


def spread(count: int, stacks: int) -> list[list[int]]:
    """Item numbers per stack: ``count`` items spread as evenly as possible over ``stacks``."""
    per_stack: list[list[int]] = [[] for _ in range(stacks)]
    for item in range(count):
        per_stack[item * stacks // count].append(item)
    return per_stack


# --- documents ------------------------------------------------------------------------------------


def domain_pool() -> dict[str, Any]:
    return {
        "kind": "DomainPool",
        "metadata": {"name": "apps"},
        "spec": {"baseDomain": "apps.bench.example", "clusterIssuer": "letsencrypt-prod"},
    }


def registry() -> dict[str, Any]:
    return {
        "kind": "Registry",
        "metadata": {"name": "harbor"},
        "spec": {
            "server": REGISTRY_SERVER,
            "repositoryPrefix": "bench",
            "credentialsSecret": "harbor-push-credentials",
        },
    }


def project(number: int, counts: Counts) -> dict[str, Any]:
    name = f"p{number:03d}"
    environments: list[dict[str, Any]] = []
    for index in range(counts.environments):
        environment: dict[str, Any] = {
            "name": ("dev", "staging", "prod")[index] if index < 3 else f"env{index}",
            "branch": "main",
            "autoSync": index != 2,  # prod is pinned and follows the last good image
            "replicas": 3 if index == 2 else 1,
        }
        if index == 2:
            environment["secretRefs"] = [{"name": f"{name}-secrets-prod"}]
            environment["resources"] = {
                "requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"memory": "512Mi"},
            }
        environments.append(environment)
    return {
        "kind": "Project",
        "metadata": {"name": name},
        "spec": {
            "repo": {"url": repo_url(name), "pollIntervalSeconds": 300},
            "domainPool": "apps",
            "registry": "harbor",
            "port": 8080,
            "environments": environments,
            "previewEnvironments": {
                "enabled": counts.previews > 0,
                "include": ["feature/*"],
                "exclude": ["main"],
                "ttlHours": 168,
            },
        },
    }


def wazuh(number: int) -> dict[str, Any]:
    name = f"siem-{number:02d}"
    return {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "WazuhCluster",
        "metadata": {"name": name, "namespace": name},
        "spec": {
            "version": "4.14.6",
            "indexer": {"replicas": 3, "storage": "50Gi"},
            "manager": {"master": {"storage": "20Gi"}, "workers": {"replicas": 2, "storage": "20Gi"}},
            "dashboard": {"enabled": True, "replicas": 1},
            "certificates": {"caValidityHours": 87600, "validityHours": 8760, "renewBeforeHours": 720},
            "logRotation": {"enabled": number % 2 == 0, "schedule": "0 3 * * *", "retentionDays": 7},
        },
    }


def fivetran(number: int) -> dict[str, Any]:
    """Alternately a secret-free S3 connector and a Salesforce one with Vault-held credentials."""
    name = f"conn-{number:03d}"
    if number % 2 == 0:
        spec: dict[str, Any] = {
            "groupId": "decent_dropsy",
            "service": "s3",
            "destinationSchema": {"name": f"s3_{number:03d}", "table": "events"},
            "config": {
                "bucket": f"acme-events-{number:03d}",
                "prefix": "exports/",
                "file_type": "json",
                "role_arn": "arn:aws:iam::123456789012:role/fivetran-s3-read",
            },
            "schedule": {"syncFrequency": 1440, "dailySyncTime": "03:00"},
        }
    else:
        spec = {
            "groupId": "decent_dropsy",
            "service": "salesforce",
            "destinationSchema": {"name": f"salesforce_{number:03d}"},
            "config": {"is_sandbox": False},
            "auth": {
                "client_access": {
                    "client_id": f"fivetran-{number:03d}",
                    "client_secret": f"vault://kv/fivetran/{name}#client_secret",
                },
                "refresh_token": f"vault://kv/fivetran/{name}#refresh_token",
            },
            "schedule": {"syncFrequency": 360},
            "schemaConfig": {
                "changeHandling": "ALLOW_ALL",
                "schemas": {
                    "salesforce": {
                        "tables": {
                            "contact": {"columns": {"email": {"hashed": True}}},
                            "opportunity_history": {"enabled": False},
                        }
                    }
                },
            },
        }
    return {"kind": "FivetranConnector", "metadata": {"name": name}, "spec": spec}


def wandb(number: int) -> dict[str, Any]:
    name = f"wandb-{number:02d}"
    return {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "WandB",
        "metadata": {"name": name, "namespace": name},
        "spec": {
            "infra": {
                "kafka": {"enabled": True, "replicas": 3, "storage": "20Gi", "version": "4.2.0"},
                "clickhouse": {"enabled": True, "replicas": 1, "storage": "20Gi"},
                "minio": {"enabled": True, "servers": 4, "volumesPerServer": 1, "storage": "20Gi"},
                "redis": {"enabled": True, "storage": "1Gi"},
                "mysql": {"enabled": True, "replicas": 3, "storage": "20Gi"},
            },
            "retainOnDelete": True,
        },
    }


# --- observations ---------------------------------------------------------------------------------


def heads_of(project_name: str, counts: Counts) -> dict[str, str]:
    """The branches the project's repository has: ``main`` and one per preview."""
    branches = ["main"] + [PREVIEW_BRANCH.format(n=n + 1) for n in range(counts.previews)]
    return {branch: commit_of(project_name, branch) for branch in branches}


def preview_key(project_name: str, branch: str) -> str:
    """``"<project>/<branch slug>"``, as the Kapsa domain computes it."""
    return f"{project_name}/{slugify(branch)}"


@dataclass
class StackObservations:
    git: dict[str, dict[str, str]]
    previews: dict[str, dict[str, str]]
    images: dict[str, dict[str, str]]

    def document(self, now: datetime) -> dict[str, Any]:
        """The observations file of the stack."""
        return {"now": iso(now), "git": self.git, "previews": self.previews, "images": self.images}


def observations_for(project_names: list[str], counts: Counts, now: datetime) -> StackObservations:
    observed = StackObservations({}, {}, {})
    first_seen = iso(now - PREVIEW_AGE)
    for name in project_names:
        heads = heads_of(name, counts)
        observed.git[repo_url(name)] = heads
        for branch in heads:
            if branch != "main":
                observed.previews[preview_key(name, branch)] = {"firstSeen": first_seen}
        digest = hashlib.sha256(heads["main"].encode()).hexdigest()
        observed.images[f"{name}/main"] = {
            "image": f"{REGISTRY_SERVER}/bench/{name}@sha256:{digest}",
            "commit": heads["main"],
        }
    return observed


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- writing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """What was generated, for the benchmarks' reports."""

    stacks: int
    documents: int
    projects: int
    environments: int
    previews: int
    wazuh: int
    fivetran: int
    wandb: int
    now: str

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def generate(out: Path, counts: Counts | None = None, now: datetime | None = None) -> Manifest:
    """Write the stack set under ``out`` (which must not be the project's own ``stacks/``)."""
    counts = counts or Counts()
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    if counts.stacks < 1:
        raise ValueError("at least one stack")
    out = Path(out)
    stacks_dir, observations_dir = out / "stacks", out / "observations"
    for directory in (stacks_dir, observations_dir):
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*"):  # a smaller set over a bigger one must not leave extras
            if stale.suffix in (".yaml", ".json"):
                stale.unlink()

    projects_of = spread(counts.projects, counts.stacks)
    wazuh_of = spread(counts.wazuh, counts.stacks)
    fivetran_of = spread(counts.fivetran, counts.stacks)
    wandb_of = spread(counts.wandb, counts.stacks)
    store: dict[str, Any] = {"version": 1, "git": {}, "previews": {}, "images": {}, "vault": {}}
    documents = 0
    for index in range(counts.stacks):
        name = stack_name(index)
        stack_documents = [domain_pool(), registry()]
        stack_documents += [project(n, counts) for n in projects_of[index]]
        stack_documents += [wazuh(n) for n in wazuh_of[index]]
        stack_documents += [fivetran(n) for n in fivetran_of[index]]
        stack_documents += [wandb(n) for n in wandb_of[index]]
        documents += len(stack_documents)
        header = f"# {name}: generated by bench/generate.py for the benchmarks; not a real stack\n"
        body = yaml.safe_dump_all(stack_documents, sort_keys=False, explicit_start=True, width=110)
        (stacks_dir / f"{name}.yaml").write_text(header + body, encoding="utf-8")

        observed = observations_for([f"p{n:03d}" for n in projects_of[index]], counts, now)
        (observations_dir / f"{name}.json").write_text(
            json.dumps(observed.document(now), indent=2) + "\n", encoding="utf-8"
        )
        store["git"].update(observed.git)
        store["previews"].update(observed.previews)
        store["images"].update(observed.images)

    (out / "observation-store.json").write_text(json.dumps(store, indent=2) + "\n", encoding="utf-8")
    manifest = Manifest(
        stacks=counts.stacks,
        documents=documents,
        projects=counts.projects,
        environments=counts.environments,
        previews=counts.previews,
        wazuh=counts.wazuh,
        fivetran=counts.fivetran,
        wandb=counts.wandb,
        now=iso(now),
    )
    manifest.write(out / "manifest.json")
    return manifest


def counts_from(args: argparse.Namespace) -> Counts:
    base = Counts.small() if args.small else Counts()
    overrides = {
        key: value
        for key in ("stacks", "projects", "wazuh", "fivetran", "wandb")
        if (value := getattr(args, key)) is not None
    }
    return Counts(**{**asdict(base), **overrides})


def add_count_options(parser: argparse.ArgumentParser) -> None:
    """``--small`` and per-kind counts, shared by every benchmark that generates a set."""
    parser.add_argument("--small", action="store_true", help="a small set (4 stacks) for CI smoke runs")
    for key in ("stacks", "projects", "wazuh", "fivetran", "wandb"):
        parser.add_argument(f"--{key}", type=int, help=f"number of {key} (default: {getattr(Counts(), key)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory to write into (not the project's stacks/)")
    add_count_options(parser)
    args = parser.parse_args(argv)
    project_stacks = (PROJECT_DIR / "stacks").resolve()
    if (args.out / "stacks").resolve() == project_stacks:
        parser.error("refusing to write into the project's own stacks/")
    manifest = generate(args.out, counts_from(args))
    print(json.dumps({"benchmark": "generate", **asdict(manifest), "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
