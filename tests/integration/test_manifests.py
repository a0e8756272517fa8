"""deploy/kubernetes: the manifests parse, every flag they give the binary is one it takes, the
pipelines in their ConfigMaps validate, and the RBAC rules grant what the agent and the gateway
ask the API for."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from loupe_testlib import LOUPE_BINARY

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


def documents() -> list[dict]:
    found = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        found.extend(document for document in yaml.safe_load_all(path.read_text()) if document)
    return found


def by_kind(kind: str) -> list[dict]:
    return [document for document in documents() if document["kind"] == kind]


def test_every_flag_is_one_the_binary_takes():
    workloads = by_kind("DaemonSet") + by_kind("StatefulSet")
    assert {w["metadata"]["name"] for w in workloads} == {"loupe-agent", "loupe-gateway"}
    for workload in workloads:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            command, *flags = container["args"]
            usage = subprocess.run([str(LOUPE_BINARY), command, "--help"], capture_output=True, text=True, timeout=60).stdout
            known = set(re.findall(r"(--[a-z0-9-]+)", usage))
            for flag in flags:
                assert flag.split("=", 1)[0] in known, (workload["metadata"]["name"], flag)


def test_the_configmaps_pipelines_validate(tmp_path):
    maps = {config["metadata"]["name"]: config for config in by_kind("ConfigMap")}
    mounted = {volume["configMap"]["name"] for workload in by_kind("DaemonSet") + by_kind("StatefulSet")
               for volume in workload["spec"]["template"]["spec"]["volumes"] if "configMap" in volume}
    assert mounted == set(maps) == {"loupe-pipelines", "loupe-gateway-pipelines"}
    for name, config in maps.items():
        directory = tmp_path / name
        directory.mkdir()
        for file, text in config["data"].items():
            (directory / file).write_text(text)
        result = subprocess.run([str(LOUPE_BINARY), "pipelines", "validate", str(directory)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (name, result.stdout, result.stderr)


def test_the_rbac_grants_what_the_processes_ask_for():
    def granted(role_names: set[str]) -> set[tuple[str, str, str]]:
        rules = [rule for role in by_kind("ClusterRole") + by_kind("Role") if role["metadata"]["name"] in role_names for rule in role["rules"]]
        return {(group, resource, verb) for rule in rules for group in rule["apiGroups"] for resource in rule["resources"] for verb in rule["verbs"]}

    bound = {}
    for binding in by_kind("ClusterRoleBinding") + by_kind("RoleBinding"):
        for subject in binding["subjects"]:
            bound.setdefault(subject["name"], set()).add(binding["roleRef"]["name"])
    agent = granted(bound["loupe-agent"])
    for need in [("", "pods", "list"), ("", "pods", "watch"), ("", "services", "watch"), ("discovery.k8s.io", "endpointslices", "watch"),
                 ("apps", "deployments", "list"), ("apps", "statefulsets", "list"), ("apps", "daemonsets", "list"), ("batch", "jobs", "list"),
                 ("coordination.k8s.io", "leases", "get"), ("coordination.k8s.io", "leases", "create"), ("coordination.k8s.io", "leases", "update")]:
        assert need in agent, need
    gateway = granted(bound["loupe-gateway"])
    assert ("", "pods", "list") in gateway and ("", "pods", "watch") in gateway
    accounts = {account["metadata"]["name"] for account in by_kind("ServiceAccount")}
    for workload in by_kind("DaemonSet") + by_kind("StatefulSet"):
        assert workload["spec"]["template"]["spec"]["serviceAccountName"] in accounts


def test_the_readmes_pipeline_examples_validate(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = [block for block in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "apiVersion: telemetry.loupe.dev/" in block]
    assert len(blocks) >= 4
    for index, block in enumerate(blocks):
        path = tmp_path / f"readme-{index}.yaml"
        path.write_text(block)
        result = subprocess.run([str(LOUPE_BINARY), "pipelines", "validate", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (block, result.stdout, result.stderr)
