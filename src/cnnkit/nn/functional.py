"""PyTorch-shaped functional API: ``import cnnkit.nn.functional as F``.

Same names, argument names and order as ``torch.nn.functional``. This is the API edge: every
function checks its arguments here and raises a ValueError/TypeError naming the bad one, then
calls an op from ``cnnkit.ops``, which trusts its inputs.
"""

from __future__ import annotations

from cnnkit.nn._checks import check_floating, ntuple, positive_tuple, to_tensor  # noqa: F401

# --- activations and elementwise -----------------------------------------------------------

# --- convolution, transposed convolution, unfold/fold -------------------------------------

# --- pooling -------------------------------------------------------------------------------

# --- interpolation and pixel shuffle -------------------------------------------------------

# --- normalisation, dropout, linear --------------------------------------------------------

# --- losses --------------------------------------------------------------------------------
