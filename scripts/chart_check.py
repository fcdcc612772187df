"""Chart tests (run by scripts/chart-test): renders charts/shelflife with helm-render for the
minimal and the full-featured values, validates every manifest against the Kubernetes
OpenAPI schemas (kubernetes-validate, strict: unknown fields fail) for the oldest supported,
a middle and the newest Kubernetes, checks what the chart promises (CronJob policy, pod
security, hook, arguments), runs `shelflife validate` on the chart's policy ConfigMap, and
checks that bad values are rejected with a message naming them.

usage: chart_check.py HELM_RENDER SHELFLIFE_BINARY
"""

import os
import subprocess
import sys
import tempfile

import jsonschema
import kubernetes_validate
import yaml

RENDER, SHELFLIFE = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHART = os.path.join(ROOT, "charts", "shelflife")
MINIMAL = os.path.join(CHART, "ci", "minimal-values.yaml")
FULL = os.path.join(CHART, "ci", "full-values.yaml")
KUBE_VERSIONS = ["1.27.0", "1.31.0", kubernetes_validate.latest_version()]
failures = []

# ServiceMonitor is a prometheus-operator CRD, not in the Kubernetes schemas: the fields this
# chart writes, checked strictly (names and the duration pattern from the CRD's API docs).
DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
SERVICE_MONITOR = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "labels": LABELS},
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchLabels": LABELS},
                },
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchNames": {"type": "array", "items": {"type": "string"}}},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": DURATION},
                        },
                    },
                },
            },
        },
    },
}


def check(name, condition, detail=""):
    if condition:
        print(f"chart: ok   {name}")
    else:
        print(f"chart: FAIL {name} {detail}")
        failures.append(name)


def render(*values, kube="1.31.0"):
    args = [RENDER, "--release", "prod", "--namespace", "data", "--kube-version", kube]
    for v in values:
        args += ["-f", v]
    return subprocess.run(args + [CHART], capture_output=True, text=True)


def documents(text):
    return [d for d in yaml.safe_load_all(text) if d]


def validate_all(label, docs, kube):
    for doc in docs:
        what = f"{label}: {doc['kind']}/{doc['metadata']['name']} on Kubernetes {kube}"
        try:
            if doc["kind"] == "ServiceMonitor":
                jsonschema.validate(doc, SERVICE_MONITOR)
            else:
                kubernetes_validate.validate(doc, kube, strict=True)
            check(what, True)
        except Exception as e:  # the validator's own message names the field
            where = getattr(e, "json_path", "")
            check(what, False, f"\n  {where}: {getattr(e, 'message', e)}")


def by_kind(docs):
    return {d["kind"]: d for d in docs if d["metadata"]["labels"].get("app.kubernetes.io/component") != "prune"}


def prune_cron(docs):
    found = [d for d in docs if d["kind"] == "CronJob" and d["metadata"]["labels"]["app.kubernetes.io/component"] == "prune"]
    return found[0] if found else None


def rendered(label, *values):
    out = render(*values)
    check(f"{label} renders", out.returncode == 0, out.stderr)
    return documents(out.stdout) if out.returncode == 0 else []


def check_minimal(docs):
    kinds = sorted(d["kind"] for d in docs)
    check("minimal: CronJobs to run and to prune, migration Job, ServiceAccount", kinds == ["CronJob", "CronJob", "Job", "ServiceAccount"], kinds)
    cron = by_kind(docs)["CronJob"]
    spec = cron["spec"]
    job = spec["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    container = pod["containers"][0]
    check("minimal: runs `run --due`", container["args"] == ["run", "--due"], container["args"])
    check("minimal: concurrencyPolicy Forbid", spec["concurrencyPolicy"] == "Forbid")
    check("minimal: restartPolicy Never", pod["restartPolicy"] == "Never")
    rules = job["podFailurePolicy"]["rules"]
    fail = [r for r in rules if r["action"] == "FailJob"]
    check(
        "minimal: exit codes 2 and 3 fail the Job at once",
        fail and fail[0]["onPodConditions"] == [] and fail[0]["onExitCodes"] == {"containerName": "shelflife", "operator": "In", "values": [2, 3]},
        rules,
    )
    sc = container["securityContext"]
    check(
        "minimal: non-root, read-only root, all capabilities dropped",
        sc["readOnlyRootFilesystem"] and sc["runAsNonRoot"] and sc["capabilities"]["drop"] == ["ALL"]
        and not sc["allowPrivilegeEscalation"] and pod["securityContext"]["runAsNonRoot"],
        sc,
    )
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    check("minimal: /tmp is an emptyDir", mounts.get("tmp") == "/tmp" and "emptyDir" in volumes["tmp"])
    check(
        "minimal: policies from the existing ConfigMap",
        volumes["policies"]["configMap"]["name"] == "shelflife-policies",
        volumes.get("policies"),
    )
    env = {e["name"]: e for e in container["env"]}
    check(
        "minimal: DATABASE_URL from the existing Secret",
        env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "shelflife-db", "key": "DATABASE_URL"},
    )
    hook = by_kind(docs)["Job"]
    annotations = hook["metadata"]["annotations"]
    check("minimal: migration hook pre-install,pre-upgrade", annotations["helm.sh/hook"] == "pre-install,pre-upgrade")
    check("minimal: migration runs `db migrate`", hook["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "migrate"])
    prune = prune_cron(docs)
    check("minimal: a weekly CronJob runs `db prune`", prune is not None and prune["spec"]["schedule"] == "17 3 * * 0"
          and prune["metadata"]["name"] == "prod-shelflife-prune", prune)
    if prune:
        pod = prune["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        check("minimal: prune runs `db prune` with the plan retention", container["args"] == ["db", "prune"]
              and env.get("SHELFLIFE_KEEP_PLANS") == "30d", (container["args"], env))
        volumes = {v["name"]: v for v in pod["volumes"]}
        check("minimal: prune mounts the policies (they tell a removed target)",
              volumes["policies"]["configMap"]["name"] == "shelflife-policies", volumes)


def check_full(docs):
    kinds = sorted(d["kind"] for d in docs)
    expected = ["ConfigMap", "CronJob", "CronJob", "Deployment", "Job", "Service", "ServiceAccount", "ServiceMonitor"]
    check("full: every resource", kinds == expected, kinds)
    k = by_kind(docs)
    spec = k["CronJob"]["spec"]
    job = spec["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    args = pod["containers"][0]["args"]
    check("full: cron fields", (spec["schedule"], spec["timeZone"], spec["startingDeadlineSeconds"],
          spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == ("0 * * * *", "Europe/Berlin", 600, 5, 10), spec)
    job_fields = (job["backoffLimit"], job["activeDeadlineSeconds"], job["ttlSecondsAfterFinished"], job["parallelism"])
    check("full: job fields", job_fields == (4, 7200, 3600, 3), job_fields)
    check("full: several workers join the apply", "--join" in args, args)
    check("full: pushgateway", args[args.index("--pushgateway") + 1] == "http://pushgateway.monitoring.svc:9091", args)
    prune = prune_cron(docs)["spec"]
    prune_pod = prune["jobTemplate"]["spec"]["template"]["spec"]
    prune_fields = (prune["schedule"], prune["timeZone"], prune["jobTemplate"]["spec"]["activeDeadlineSeconds"])
    check("full: prune schedule, time zone and deadline", prune_fields == ("0 4 1 * *", "Europe/Berlin", 1800), prune_fields)
    for kind, spec_of in (("CronJob", lambda: pod), ("Deployment", lambda: k["Deployment"]["spec"]["template"]["spec"]),
                          ("prune CronJob", lambda: prune_pod)):
        env = {e["name"]: e.get("value") for e in spec_of()["containers"][0]["env"]}
        check(f"full: {kind} keeps plans as configured", env.get("SHELFLIFE_KEEP_PLANS") == "12w", env)
    check("full: selected policy and extra args", ["--policy", "inference-logs"] == args[2:4] and args[-4:] == ["--concurrency", "8", "--claim-ttl", "120"], args)
    check("full: IRSA annotation", k["ServiceAccount"]["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/shelflife"})
    check("full: pod runs as that ServiceAccount", pod["serviceAccountName"] == "shelflife-runner")
    check("full: migration under its own ServiceAccount", k["Job"]["spec"]["template"]["spec"]["serviceAccountName"] == "shelflife-migrate")
    check("full: scheduling", pod["nodeSelector"] == {"kubernetes.io/os": "linux"} and pod["tolerations"][0]["key"] == "dedicated" and "nodeAffinity" in pod["affinity"])
    serve = k["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    check("full: serve listens on the port", serve["args"][:3] == ["serve", "--listen", "0.0.0.0:8080"], serve["args"])
    check("full: probes", serve["livenessProbe"]["httpGet"]["path"] == "/healthz" and serve["readinessProbe"]["httpGet"]["path"] == "/readyz")
    selector = k["Deployment"]["spec"]["selector"]["matchLabels"]
    check("full: Service selects the serve pods", k["Service"]["spec"]["selector"] == selector)
    check("full: ServiceMonitor selects the Service", k["ServiceMonitor"]["spec"]["selector"]["matchLabels"] == selector
          and k["ServiceMonitor"]["spec"]["endpoints"][0]["port"] == k["Service"]["spec"]["ports"][0]["name"])
    cm = k["ConfigMap"]
    volume = {v["name"]: v for v in pod["volumes"]}["policies"]["configMap"]["name"]
    check("full: pods mount the chart's ConfigMap", volume == cm["metadata"]["name"])
    with tempfile.TemporaryDirectory() as d:
        for name, text in cm["data"].items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        out = subprocess.run([SHELFLIFE, "validate", d], capture_output=True, text=True)
        check("full: the ConfigMap's policies pass `shelflife validate`", out.returncode == 0, out.stdout + out.stderr)


# (what, values, text the error must contain)
BAD = [
    ("an unknown top-level key", "replicaCount: 2\n", "Additional property replicaCount is not allowed"),
    ("a misspelt nested key", "cronJob:\n  schedul: '@daily'\n", "Additional property schedul is not allowed"),
    ("a string for an integer", "cronJob:\n  parallelism: '3'\n", "cronJob.parallelism: Invalid type"),
    ("an unknown concurrencyPolicy", "cronJob:\n  concurrencyPolicy: Sometimes\n", "cronJob.concurrencyPolicy"),
    ("an unknown mode", "cronJob:\n  mode: weekly\n", "cronJob.mode"),
    ("zero workers", "cronJob:\n  parallelism: 0\n", "cronJob.parallelism: Must be greater than or equal to 1"),
    ("a non-string annotation", "serviceAccount:\n  annotations:\n    a: 1\n", "serviceAccount.annotations.a: Invalid type"),
    ("a bad pull policy", "image:\n  pullPolicy: Sometimes\n", "image.pullPolicy"),
    ("a plan retention that is not a duration", "keepPlans: 30 days\n", "keepPlans"),
    ("a string for prune.enabled", "prune:\n  enabled: 'yes'\n", "prune.enabled: Invalid type"),
    ("a policy file name without .yaml", "policies:\n  existingConfigMap: ''\n  files:\n    notes.txt: x\n", "policies.files"),
    ("a bad scrape interval", "serve:\n  serviceMonitor:\n    interval: soon\n", "serve.serviceMonitor.interval"),
]


def check_rejected():
    out = render()
    check("defaults alone: the database Secret is required", out.returncode != 0 and "database.existingSecret is required" in out.stderr, out.stderr)
    with tempfile.TemporaryDirectory() as d:
        for what, text, expected in BAD:
            path = os.path.join(d, "bad.yaml")
            with open(path, "w") as f:
                f.write(text)
            out = render(MINIMAL, path)
            check(f"rejected: {what}", out.returncode != 0 and expected in out.stderr, f"exit {out.returncode}: {out.stderr}")
        both = os.path.join(d, "both.yaml")
        with open(both, "w") as f:
            f.write("policies:\n  files:\n    a.yaml: x\n")
        out = render(MINIMAL, both)
        check("rejected: policies.files and existingConfigMap both set", out.returncode != 0 and "not both" in out.stderr, out.stderr)
        none = os.path.join(d, "none.yaml")
        with open(none, "w") as f:
            f.write("policies:\n  existingConfigMap: ''\n")
        out = render(MINIMAL, none)
        check("rejected: no policies", out.returncode != 0 and "no policies" in out.stderr, out.stderr)
        off = os.path.join(d, "off.yaml")
        with open(off, "w") as f:
            f.write("prune:\n  enabled: false\n")
        out = render(MINIMAL, off)
        check("prune.enabled false: no prune CronJob", out.returncode == 0 and prune_cron(documents(out.stdout)) is None, out.stderr)
    out = render(MINIMAL, kube="1.26.0")
    check("rejected: Kubernetes 1.26 (no CronJob timeZone)", out.returncode != 0 and "incompatible" in out.stderr, out.stderr)


def main():
    minimal = rendered("minimal", MINIMAL)
    full = rendered("full", FULL)
    for kube in KUBE_VERSIONS:
        out_min, out_full = render(MINIMAL, kube=kube), render(FULL, kube=kube)
        validate_all("minimal", documents(out_min.stdout), kube)
        validate_all("full", documents(out_full.stdout), kube)
    if minimal:
        check_minimal(minimal)
    if full:
        check_full(full)
    check_rejected()
    if failures:
        print(f"chart: {len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("chart: all checks passed")


main()
