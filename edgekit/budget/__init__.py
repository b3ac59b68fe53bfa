"""edgekit.budget: will this model fit this Cortex-M part, and how fast will it run?

Typical use::

    from edgekit.budget import budget, list_targets
    rep = budget("model.tflite", target="nrf52840", out="budget/")
    print(rep.table); rep.data["fits"]

Importing this package has no side effects: tools run only when called.
"""

from edgekit.budget.core import (DEFAULT_HEADROOM, BudgetError, BudgetReport, budget,
                                 parse_bytes)
from edgekit.budget.elf import elf_breakdown
from edgekit.budget.layers import layer_rows, op_macs
from edgekit.budget.sizing import WIDTH_PARAMS, SizeChoice, pick_width
from edgekit.budget.targets import (BudgetTarget, budget_target_names, format_targets,
                                    list_targets, resolve_target)

__all__ = ["DEFAULT_HEADROOM", "BudgetError", "BudgetReport", "BudgetTarget", "budget",
           "budget_target_names", "elf_breakdown", "format_targets", "layer_rows",
           "list_targets", "op_macs", "parse_bytes", "pick_width", "resolve_target",
           "SizeChoice", "WIDTH_PARAMS"]
