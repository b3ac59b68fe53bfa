"""Equal const arrays of the parameter blocks are emitted once (codegen.share_arrays)."""

from edgekit.firmware_export.codegen import share_arrays
from edgekit.firmware_export.templating import environment


def _block(index, **arrays):
    fields = [dict(name=k, kind="array", value=v) for k, v in arrays.items()]
    return dict(index=index, type="t", fields=fields + [dict(name="n", kind="scalar", value=3)])


def test_equal_arrays_share_the_first_definition():
    blocks = [_block(2, bias=[0, 0, 1], shift=[-3, -3, -3]),
              _block(5, bias=[0, 0, 1], shift=[-3, -3, -4]),
              _block(9, lut=[-3, -3, -3])]
    share_arrays(blocks)
    got = [(f["symbol"], f["emit"]) for b in blocks for f in b["fields"] if f["kind"] == "array"]
    assert got == [("ek_op2_bias", True), ("ek_op2_shift", True),
                   ("ek_op2_bias", False), ("ek_op5_shift", True),
                   ("ek_op2_shift", False)]      # same values, other field name: still shared


def test_template_defines_a_shared_array_once_and_points_at_it():
    blocks = [_block(2, bias=[7, 8]), _block(5, bias=[7, 8])]
    share_arrays(blocks)
    op_params = environment().get_template("ops/params.c.j2").module.op_params
    text = "".join(str(op_params(b)) for b in blocks)
    assert text.count("static const int32_t ek_op2_bias[2] = {") == 1
    assert "ek_op5_bias" not in text
    assert text.count(".bias = ek_op2_bias") == 2
