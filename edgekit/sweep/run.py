"""``edgekit sweep``: draw configurations, reject what cannot fit, run the rest on Ray Tune.

By default a local Ray is started with the machine's cores (no dashboard,
quiet logs); ``address`` (``auto`` or ``ray://HOST:PORT``) joins an existing
cluster.  Each configuration is one Ray Tune trial
(:func:`edgekit.sweep.trial.trainable`); ASHA stops poor trials early on
their per-epoch accuracy.  Everything is written into a temporary directory
beside ``out`` and moved into place at the end.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgekit.errors import ConfigError, EdgekitError

__all__ = ["SweepError", "SweepResult", "sweep"]


class SweepError(EdgekitError):
    """The sweep could not run (no trial fits, Ray failed to start or join)."""


@dataclass
class SweepResult:
    """What a sweep wrote and found.

    Attributes
    ----------
    out_dir : pathlib.Path
        Holds trials.csv, trials.json, pareto.png, report.md, best.toml, trials/.
    trials : list of dict
        One row per configuration (see :func:`edgekit.sweep.report.trial_rows`).
    best : dict or None
        The best completed trial that fits the target (None if none did).
    files : list of str
    """

    out_dir: Path
    trials: list
    best: dict | None
    files: list = field(default_factory=list)


def _init_ray(address: str | None, num_cpus: int | None):
    import ray  # noqa: PLC0415

    quiet = {"include_dashboard": False, "log_to_driver": False,
             "logging_level": logging.WARNING, "configure_logging": True}
    env = {k: v for k, v in os.environ.items()
           if k.startswith("EDGEKIT_") or k in ("PYTHONPATH", "CI")}
    try:
        if address:
            return ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING,
                            runtime_env={"env_vars": env} if env else None)
        return ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise SweepError(f"cannot start or join {where}: {exc}{_cause(exc)}") from None


def _cause(exc: BaseException) -> str:
    """The first line of what made ``exc``: Ray's "Failed to connect to Ray cluster at ..."
    hides the reason (a wrong authentication token, an unreachable address)."""
    seen = []
    c = exc.__cause__
    while c is not None and c not in seen:
        seen.append(c)
        c = c.__cause__
    for c in reversed(seen):
        lines = [ln.strip() for ln in str(c).splitlines() if ln.strip()]
        if lines:
            return f" ({type(c).__name__}: {lines[-1][:300]})"
    return ""


def sweep(space, *, target: str = "cortex-m", trials: int | None = None,
          address: str | None = None, out="sweep", data: str | None = None,
          num_cpus: int | None = None, evaluation: str | None = None, progress=None):
    """Search ``space`` on Ray Tune for the best model that fits ``target``.

    Parameters
    ----------
    space : path or dict
        A search space (:mod:`edgekit.sweep.space`).
    target : str
        A core (``cortex-m4``) or a board (``nrf52840``; ``edgekit targets``):
        its flash and RAM bound the trials.
    trials : int, optional
        Configurations to draw (default: the space's ``[sweep] trials``).
    address : str, optional
        ``auto`` or ``ray://HOST:PORT``: join that Ray cluster; default: start
        a local Ray with ``num_cpus`` (default: the machine's cores).
    out : path
        Output directory (replaced atomically).
    data : str, optional
        Dataset location (must exist at that path on every Ray node).
    progress : edgekit.log.Progress, optional

    Returns
    -------
    SweepResult

    Raises
    ------
    ConfigError
        A bad space or target (before any trial starts).
    SweepError
        No configuration fits the target (before any trial starts); Ray
        could not start or be joined.
    """
    from edgekit.budget import resolve_target  # noqa: PLC0415
    from edgekit.emulator import check_toolchain  # noqa: PLC0415
    from edgekit.log import Progress  # noqa: PLC0415
    from edgekit.outputs import atomic_dir  # noqa: PLC0415
    from edgekit.sweep import report as rep  # noqa: PLC0415
    from edgekit.sweep.space import load_space  # noqa: PLC0415
    from edgekit.sweep.trial import EPOCH_METRIC, estimate, trainable  # noqa: PLC0415

    progress = progress or Progress()
    sp = load_space(space)
    tgt = resolve_target(target)
    s = sp.settings
    if evaluation is not None:
        from edgekit.evaluation import check_eval  # noqa: PLC0415
        from edgekit.sweep.space import METRICS  # noqa: PLC0415

        s["eval"] = check_eval(evaluation)
        if s["metric"] not in METRICS[s["eval"]]:
            s["metric"] = METRICS[s["eval"]][0]
    if s["eval"] == "loso":
        from edgekit.evaluation import loso_speakers  # noqa: PLC0415

        for c in sp.sample(1):
            loso_speakers(c["recipe"])
    if trials is not None and (isinstance(trials, bool) or int(trials) < 1):
        raise ConfigError(f"--trials must be >= 1 (got {trials})")
    check_toolchain()
    check_toolchain(host=True)
    configs = sp.sample(trials)
    progress.info(f"{len(configs)} configuration(s) from {sp.path}; estimating each on "
                  f"{tgt.name} (flash {tgt.flash_bytes:,} B, RAM {tgt.ram_bytes:,} B)")
    cache: dict = {}
    for i, c in enumerate(configs):
        c["index"] = i
        try:
            c["estimate"] = est = estimate(c["recipe"], tgt.name, float(s["headroom"]), cache)
        except ConfigError as exc:
            raise ConfigError(f"space {sp.path}: trial {i} {c['params']}: {exc}") from None
        c["rejected"] = None if est["fits"] or est["pruned"] else "; ".join(est["overflows"])
    runnable = [c for c in configs if not c["rejected"]]
    if not runnable:
        raise SweepError(f"no configuration of {sp.path} fits {tgt.name} (before training): "
                         + " | ".join(f"trial {c['index']} {c['params']}: {c['rejected']}"
                                      for c in configs[:3]))
    for c in configs:
        if c["rejected"]:
            progress.warn(f"trial {c['index']} rejected before training: {c['rejected']}")

    from edgekit.recipe import train_config  # noqa: PLC0415

    epochs = max(train_config(c["recipe"])["epochs"] for c in runnable)
    max_t = (6 if s["eval"] == "loso" else epochs) + 1     # + the final report
    import ray  # noqa: PLC0415
    from ray import tune  # noqa: PLC0415
    from ray.tune.schedulers import ASHAScheduler  # noqa: PLC0415

    with atomic_dir(out) as work:
        work = Path(work).resolve()
        param = [{"index": c["index"], "recipe": c["recipe"], "out": str(work / "trials" /
                  f"{c['index']:03d}"), "target": tgt.core.name, "data": data,
                  "eval": s["eval"], "cases": s["cases"], "audio_clips": s["audio_clips"]}
                 for c in runnable]
        started = not ray.is_initialized()
        ctx = _init_ray(address, num_cpus) if started else None
        storage = tempfile.mkdtemp(prefix="edgekit-ray-")
        try:
            progress.info(f"Ray {ray.__version__}: {len(param)} trial(s) on "
                          f"{'a local Ray' if not address else address}"
                          + (f" ({ctx.dashboard_url or 'no dashboard'})" if ctx is not None
                             else ""))
            cluster = {"version": ray.__version__,
                       "address": ray.get_runtime_context().gcs_address,
                       "local": started and not address,
                       "cpus": ray.cluster_resources().get("CPU"),
                       "nodes": len([n for n in ray.nodes() if n.get("Alive")])}
            tuner = tune.Tuner(
                tune.with_resources(trainable, {"cpu": 1}),
                param_space={"trial": tune.grid_search(param)},
                tune_config=tune.TuneConfig(
                    scheduler=ASHAScheduler(time_attr="training_iteration", metric=EPOCH_METRIC,
                                            mode="max", max_t=max_t,
                                            grace_period=min(int(s["grace_period"]), max_t),
                                            reduction_factor=2),
                    num_samples=1),
                run_config=tune.RunConfig(name="sweep", storage_path=storage, verbose=0,
                                          log_to_file=True))
            old = os.environ.get("RAY_AIR_NEW_OUTPUT")
            os.environ["RAY_AIR_NEW_OUTPUT"] = "0"     # verbose=0 is silent only in this mode
            try:
                grid = tuner.fit()
            finally:
                if old is None:
                    os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
                else:
                    os.environ["RAY_AIR_NEW_OUTPUT"] = old
            results = {}
            for r in grid:
                idx = r.config["trial"]["index"]
                results[idx] = {"metrics": dict(r.metrics or {}),
                                "error": None if r.error is None
                                else str(r.error).strip().splitlines()[-1][:300]}
        finally:
            shutil.rmtree(storage, ignore_errors=True)
            if started:
                ray.shutdown()
        rows = rep.trial_rows(configs, results, sp, tgt)
        best = rep.best_trial(rows, s["metric"])
        files = rep.write_outputs(work, rows, best, sp, tgt, configs, cluster)
    progress.info(f"{sum(r['status'] == 'completed' for r in rows)} completed, "
                  f"{sum(r['status'] == 'stopped' for r in rows)} stopped early, "
                  f"{sum(r['status'] == 'rejected' for r in rows)} rejected; best: "
                  + (f"trial {best['index']} {s['metric']} {best[s['metric']]:.4f}" if best
                     else "none fits"))
    return SweepResult(out_dir=Path(out).resolve(), trials=rows, best=best, files=files)
