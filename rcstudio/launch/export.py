"""`rcstudio export RUN DIR`: what someone needs to read, share or rerun a run.

The bundle holds the resolved spec, the compiled artifacts, the launch plan, results, package
versions and the git commit of the spec's repository (recorded at submission). Logs, checkpoints
and W&B files stay out: they are large and may hold more than the author means to share.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from rcstudio.errors import UserError
from rcstudio.launch.registry import RunRecord

SUBMISSION_FILE = "submission.json"
VERSIONED = ("rcstudio", "submitit", "pydantic", "omegaconf", "hydra-core", "typer", "wandb", "numpy", "scipy",
             "torch", "transformers", "trl", "datasets", "sentence-transformers", "openai", "textual")
COPIED = ("compiled", "launch.json", SUBMISSION_FILE, "results")  # and the resolved spec, named by rcstudio.spec.resolved


def git_info(path: Path) -> dict[str, Any] | None:
    """Commit (and whether the file has uncommitted changes) of the git repo holding `path`."""
    folder = path.resolve().parent
    try:
        top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=10)
        if top.returncode != 0:
            return None
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", str(path.resolve())],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"repo": top.stdout.strip(), "commit": commit.stdout.strip() or None,
            "spec_modified": bool(dirty.stdout.strip())}


def submission_info(spec_path: Path, overrides: list[str]) -> str:
    """What `submission.json` records: the spec's path, the --set overrides, its git commit."""
    info = {"spec": str(Path(spec_path).resolve()), "overrides": list(overrides), "git": git_info(Path(spec_path))}
    return json.dumps(info, indent=2, sort_keys=True) + "\n"


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _readme(record: RunRecord, submission: dict[str, Any] | None) -> str:
    git = (submission or {}).get("git") or {}
    lines = [
        f"# {record.name} ({record.run_id})",
        "",
        f"Experiment `{record.experiment}`, kind `{record.kind}`" + (f", engine `{record.engine}`" if record.engine else "")
        + f"; final state {record.state}.",
        f"Sweep point: `{json.dumps(record.point, sort_keys=True)}`." if record.point else "Not part of a sweep.",
        "",
        "Files: `spec.resolved.toml` (the exact spec of this run), `compiled/` (what the job executes),",
        "`launch.json` (how it was launched), `results/`, `versions.json` (package versions at export).",
        "",
        "Rerun it:",
        "",
        "```",
        "rcstudio submit spec.resolved.toml",
        "```",
    ]
    if git.get("commit"):
        lines += ["", f"Spec source: `{(submission or {}).get('spec')}` in git repo `{git.get('repo')}` at commit "
                      f"`{git['commit']}`" + (" (the spec had uncommitted changes)" if git.get("spec_modified") else "") + "."]
    return "\n".join(lines) + "\n"


def export_run(record: RunRecord, dest: Path) -> list[Path]:
    """Copy the run's shareable files into `dest` (which must be absent or empty)."""
    run_dir = Path(record.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run directory {run_dir} is gone", key="RUN")
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise UserError(f"{dest} is a file", key="DIR", hint="export into a new or empty directory")
    if dest.exists() and any(dest.iterdir()):
        raise UserError(f"{dest} is not empty", key="DIR", hint="export into a new or empty directory")
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    from rcstudio.spec.resolved import RESOLVED_NAME  # here: the spec package is slow to import for `ls`

    for name in (RESOLVED_NAME, *COPIED):
        src = run_dir / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        elif src.is_file():
            shutil.copy2(src, dest / name)
        else:
            continue
        written.append(dest / name)
    submission = None
    if (run_dir / SUBMISSION_FILE).is_file():
        submission = json.loads((run_dir / SUBMISSION_FILE).read_text())
    (dest / "versions.json").write_text(json.dumps(package_versions(), indent=2, sort_keys=True) + "\n")
    (dest / "run.json").write_text(json.dumps(record.to_dict(), indent=2, sort_keys=True, default=str) + "\n")
    (dest / "README.md").write_text(_readme(record, submission))
    written += [dest / "versions.json", dest / "run.json", dest / "README.md"]
    return written
