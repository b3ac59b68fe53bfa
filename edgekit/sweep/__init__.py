"""edgekit.sweep: search a design space on Ray Tune with measured device figures.

Typical use::

    from edgekit.sweep import sweep
    res = sweep("space.toml", target="nrf52840", trials=12, out="sweep")
    res.best          # the best completed trial that fits; res.out_dir / "best.toml"

A search space is a recipe with ranges or choices (:mod:`edgekit.sweep.space`);
each trial is the build plan run with one drawn recipe
(:mod:`edgekit.sweep.trial`); :mod:`edgekit.sweep.run` runs them as Ray Tune
trials and :mod:`edgekit.sweep.report` writes the outputs.  Importing this
package does not import Ray.
"""

from edgekit.sweep.run import SweepError, SweepResult, sweep
from edgekit.sweep.space import Space, load_space

__all__ = ["Space", "SweepError", "SweepResult", "load_space", "sweep"]
