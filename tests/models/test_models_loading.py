"""Every zoo model saved by edgekit loads again in a fresh process."""

from __future__ import annotations

import subprocess
import sys

from edgekit.data import FeatureConfig
from edgekit.models.registry import ARCHITECTURES, build_model, default_recipe
from edgekit.models.train import save_model


def test_saved_zoo_models_load_in_a_new_process(tmp_path):
    cfg = FeatureConfig()
    dirs = []
    for arch in ARCHITECTURES:
        model = build_model(arch, cfg.shape, 10, seed=0, **default_recipe(arch)["hparams"])
        save_model(model, cfg, tmp_path / arch)
        dirs.append(str(tmp_path / arch))
    code = ("import sys\nfrom edgekit.models import load_model\n"
            "for d in sys.argv[1:]:\n    m = load_model(d)\n    print(d, m.count_params())\n")
    proc = subprocess.run([sys.executable, "-c", code, *dirs], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(proc.stdout.strip().splitlines()) == len(dirs)
