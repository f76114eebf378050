"""Hyperbolic graph convolution (HGCN, Chami et al. 2019) on the Poincaré ball of geoopt.

One layer, points in and points out:

    h_i   = (W ⊗_c x_i) ⊕_c exp_0(b)                hyperbolic linear map (Möbius)
    m_i   = Σ_{j ∈ N(i) ∪ {i}} w_ij log_0(h_j) / Σ w_ij   aggregation in the tangent space at 0
    out_i = exp_0(σ(m_i))                           non-linearity in the tangent space

All manifold operations are geoopt's (`mobius_matvec`, `mobius_add`, `expmap0`, `logmap0`),
every output is projected back inside the ball. PyTorch Geometric has no hyperbolic layer;
this is a `MessagePassing` subclass so it composes with PyG data, sampling and batching.
"""

from __future__ import annotations

import geoopt
import torch
from torch import Tensor
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import add_remaining_self_loops


class HGCNConv(MessagePassing):
    """Hyperbolic graph convolution: Möbius linear, tangent-space weighted mean, activation.

    Args:
        in_channels, out_channels: dimensions of the input and output points.
        ball: the Poincaré ball (curvature -c) shared by inputs and outputs.
        act: non-linearity applied in the tangent space at the origin (None: identity).
        bias: add a learned hyperbolic bias (Möbius addition of exp_0(b)).
        self_loops: include each node in its own neighbourhood.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ball: geoopt.PoincareBall,
        act: torch.nn.Module | None = None,
        bias: bool = True,
        self_loops: bool = True,
    ) -> None:
        super().__init__(aggr="add")
        self.ball = ball
        self.weight = torch.nn.Parameter(torch.empty(out_channels, in_channels))
        self.bias = torch.nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.act = act
        self.self_loops = self_loops
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.weight, gain=2**-0.5)
        if self.bias is not None:
            torch.nn.init.zeros_(self.bias)

    def linear(self, x: Tensor) -> Tensor:
        """(W ⊗ x) ⊕ exp_0(b), on the ball."""
        h = self.ball.mobius_matvec(self.weight, x)
        if self.bias is not None:
            h = self.ball.mobius_add(h, self.ball.expmap0(self.bias))
        return self.ball.projx(h)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        n = x.size(0)
        if edge_weight is None:
            edge_weight = torch.ones(edge_index.size(1), dtype=x.dtype, device=x.device)
        if self.self_loops:
            edge_index, edge_weight = add_remaining_self_loops(
                edge_index, edge_weight, fill_value=1.0, num_nodes=n
            )
        tangent = self.ball.logmap0(self.linear(x))
        summed = self.propagate(edge_index, x=tangent, edge_weight=edge_weight)
        total = torch.zeros(n, dtype=x.dtype, device=x.device)
        total = total.index_add(0, edge_index[1], edge_weight)
        mean = summed / total.clamp(min=1e-12).unsqueeze(-1)
        if self.act is not None:
            mean = self.act(mean)
        return self.ball.projx(self.ball.expmap0(mean))

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        return edge_weight.unsqueeze(-1) * x_j

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.weight.size(1)}, {self.weight.size(0)}, "
            f"c={float(self.ball.c):g})"
        )
