"""Knowledge distillation: teacher -> student, measured against no distillation.

:func:`distill` trains a copy of the student with the distillation loss
(soft teacher targets at temperature ``T``, weighted with the hard-label
cross-entropy, see :mod:`edgekit.compress.fit`) and, unless
``baseline=False``, a second copy from the *same initial weights* with the
hard labels only, same seed, epochs, optimizer and batch order.  Both
accuracies are reported; whether distillation helped is read off those two
numbers, nothing else: ``verdict`` is "helped" / "hurt" only when an exact
McNemar test on the test examples the two students disagree on gives
p < 0.05, else "no significant difference".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgekit.errors import ConfigError, ModelError

__all__ = ["DISTILL_EPOCHS", "DistillResult", "distill", "mcnemar_p"]


def mcnemar_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: ``b`` vs ``c`` discordant examples."""
    from math import comb

    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


@dataclass
class DistillResult:
    model: object                       # the distilled student
    baseline: object | None = None      # same student trained on hard labels only
    report: dict = field(default_factory=dict)


#: Distillation epochs when none are given (CLI, recipes and the library alike).
DISTILL_EPOCHS = 8


def distill(student, teacher, x, y, *, epochs: int = DISTILL_EPOCHS, temperature: float = 4.0,
            alpha: float = 0.3, learning_rate: float = 1e-3, batch_size: int = 64,
            seed: int = 0, baseline: bool = True, x_test=None, y_test=None,
            verbose: int = 0) -> DistillResult:
    """Distill ``teacher`` into (a copy of) ``student``.

    Parameters
    ----------
    student : keras.Model
        Student (a zoo model, fresh or trained, or a pruned model); not modified.
    teacher : keras.Model
        Any Keras classifier with the same input and number of classes.
    x, y : numpy.ndarray
        Training data (the teacher's soft targets are computed on it once).
    epochs, temperature, alpha, learning_rate, batch_size, seed
        See :func:`edgekit.compress.fit.fit`.
    baseline : bool
        Also train the hard-label baseline (same seed and epochs).
    x_test, y_test : numpy.ndarray, optional
        Test split for the accuracies in the report.
    """
    from edgekit.compress.fit import accuracy, clone_with_weights, fit, outputs_probabilities

    if tuple(teacher.input_shape[1:]) != tuple(student.input_shape[1:]):
        raise ModelError(f"teacher input {teacher.input_shape} != student input "
                         f"{student.input_shape}")
    if int(teacher.output_shape[-1]) != int(student.output_shape[-1]):
        raise ModelError(f"teacher has {teacher.output_shape[-1]} classes, student "
                         f"{student.output_shape[-1]}")
    if alpha >= 1.0:
        raise ConfigError("alpha = 1 is no distillation (hard labels only); use alpha < 1")
    x = np.asarray(x, np.float32)
    t_out = teacher.predict(x, batch_size=256, verbose=0)
    if not outputs_probabilities(teacher):
        from edgekit.compress.fit import soften

        t_out = soften(t_out, 1.0, from_logits=True)
    init = student.get_weights()
    rep: dict = {"epochs": epochs, "temperature": temperature, "alpha": alpha, "seed": seed,
                 "learning_rate": learning_rate}
    if x_test is not None:
        rep["teacher_accuracy"] = round(accuracy(teacher, x_test, y_test), 4)
        rep["student_initial_accuracy"] = round(accuracy(student, x_test, y_test), 4)
    kd = clone_with_weights(student)
    kd.set_weights(init)
    rep["distilled_seconds"] = fit(kd, x, y, epochs=epochs, batch_size=batch_size, seed=seed,
                                   learning_rate=learning_rate, teacher_probs=t_out,
                                   temperature=temperature, alpha=alpha,
                                   verbose=verbose)["seconds"]
    base = None
    if baseline:
        base = clone_with_weights(student)
        base.set_weights(init)
        fit(base, x, y, epochs=epochs, batch_size=batch_size, seed=seed,
            learning_rate=learning_rate, verbose=verbose)
    if x_test is not None:
        yt = np.asarray(y_test)
        ok_kd = np.argmax(kd.predict(np.asarray(x_test, np.float32), verbose=0), -1) == yt
        rep["distilled_accuracy"] = round(float(ok_kd.mean()), 4)
        if base is not None:
            ok_b = np.argmax(base.predict(np.asarray(x_test, np.float32), verbose=0), -1) == yt
            rep["baseline_accuracy"] = round(float(ok_b.mean()), 4)
            rep["gain"] = round(rep["distilled_accuracy"] - rep["baseline_accuracy"], 4)
            # exact McNemar test on the examples the two models disagree on
            only_kd, only_b = int(np.sum(ok_kd & ~ok_b)), int(np.sum(ok_b & ~ok_kd))
            p = mcnemar_p(only_kd, only_b)
            rep["only_distilled_right"], rep["only_baseline_right"] = only_kd, only_b
            rep["p_value"] = round(p, 4)
            rep["verdict"] = ("no significant difference" if p >= 0.05 else
                              "helped" if only_kd > only_b else "hurt")
    return DistillResult(model=kd, baseline=base, report=rep)
