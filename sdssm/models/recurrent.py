"""Classic recurrent baselines: an Elman RNN (tanh) and an LSTM, one layer, hidden size N.

Tokens enter as one-hot vectors over the vocabulary (the input-to-hidden weights of a one-hot are a
learned embedding table), h_0 = c_0 = 0, and the readout (linear or MLP) reads the hidden vector h.

Each model owns one torch layer (nn.RNN / nn.LSTM) and every path reads that layer's weights, so the
paths agree to rounding. The RNN's `scan` is the fused layer; `step` applies its weights by hand. For
the LSTM the state vector is [h, c] and nn.LSTM returns c only for the last position, so `scan` is an
explicit loop over time (one addmm per step, token terms gathered from a [V, 4N] table) and the fused
layer serves `forward` and query-free `prefix_logits`, which need only h.

`RNNLayer` and `LSTMLayer` are the same recurrences over a continuous input, the blocks `layers: n` stacks
(sdssm/models/stack.py), each with its per-step reference (`ReferenceRNNLayer`, `ReferenceLSTMLayer`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sdssm.models.base import SequenceModel
from sdssm.models.readout import make_readout
from sdssm.models.stack import RecurrentLayer


def _one_hot(tokens: torch.Tensor, vocab_size: int, like: torch.Tensor) -> torch.Tensor:
    """tokens [B, L] -> one-hot [B, L, V] in the dtype and on the device of `like`."""
    return F.one_hot(tokens, vocab_size).to(dtype=like.dtype, device=like.device)


class _TorchRecurrent(SequenceModel):
    """Shared constructor of the torch-layer baselines: state size N and a readout head on h.

    Args: alphabet_size, num_classes, query_token (see `SequenceModel`); state_size N; readout
    "linear" | "mlp" on h; mlp_hidden, the MLP readout's hidden width.
    """

    def __init__(self, alphabet_size: int, num_classes: int, query_token: bool, state_size: int = 64,
                 readout: str = "linear", mlp_hidden: int = 64) -> None:
        super().__init__(alphabet_size, num_classes, query_token)
        if state_size < 1:
            raise ValueError(f"need state_size >= 1, got {state_size}")
        self.state_size = state_size
        self.head = make_readout(readout, state_size, num_classes, mlp_hidden)


class ElmanRNN(_TorchRecurrent):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), h_0 = 0; state = h ([N])."""

    def __init__(self, alphabet_size: int, num_classes: int, query_token: bool, state_size: int = 64,
                 readout: str = "linear", mlp_hidden: int = 64) -> None:
        super().__init__(alphabet_size, num_classes, query_token, state_size, readout, mlp_hidden)
        self.rnn = nn.RNN(self.vocab_size, state_size, nonlinearity="tanh", batch_first=True)

    @property
    def state_dim(self) -> int:
        return self.state_size

    def scan(self, tokens: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(_one_hot(tokens, self.vocab_size, self.rnn.weight_ih_l0))
        return h

    def step(self, states: torch.Tensor, token: int) -> torch.Tensor:
        r = self.rnn
        # W_ih x for a one-hot x is column `token` of W_ih.
        pre = r.weight_ih_l0[:, token] + r.bias_ih_l0 + states @ r.weight_hh_l0.t() + r.bias_hh_l0
        return torch.tanh(pre)

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(states)


class LSTMModel(_TorchRecurrent):
    """A one-layer LSTM (torch's gate order i, f, g, o), h_0 = c_0 = 0; state = [h, c] ([2N]);
    the readout reads only h."""

    def __init__(self, alphabet_size: int, num_classes: int, query_token: bool, state_size: int = 64,
                 readout: str = "linear", mlp_hidden: int = 64) -> None:
        super().__init__(alphabet_size, num_classes, query_token, state_size, readout, mlp_hidden)
        self.lstm = nn.LSTM(self.vocab_size, state_size, batch_first=True)

    @property
    def state_dim(self) -> int:
        return 2 * self.state_size

    def _token_table(self) -> torch.Tensor:
        """Each token's part of the gate pre-activations, W_ih x + b_ih + b_hh for one-hot x: [V, 4N]."""
        m = self.lstm
        return m.weight_ih_l0.t() + m.bias_ih_l0 + m.bias_hh_l0

    def _cell(self, pre: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h_t, c_t) from the gate pre-activations [..., 4N] and c_{t-1}."""
        i, f, g, o = pre.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def scan(self, tokens: torch.Tensor) -> torch.Tensor:
        # An explicit loop, as nn.LSTM returns c only for the last position. Time-major token terms keep
        # every step's slice contiguous; one addmm per step is the whole matrix work.
        table = self._token_table()
        token_terms = table[tokens.t()]  # [L, B, 4N]
        w_hh = self.lstm.weight_hh_l0.t()
        h = table.new_zeros(tokens.shape[0], self.state_size)
        c = torch.zeros_like(h)
        states = []
        for t in range(tokens.shape[1]):
            h, c = self._cell(torch.addmm(token_terms[t], h, w_hh), c)
            states.append(torch.cat([h, c], dim=-1))
        return torch.stack(states, dim=1)

    def step(self, states: torch.Tensor, token: int) -> torch.Tensor:
        h, c = states[..., : self.state_size], states[..., self.state_size:]
        h, c = self._cell(self._token_table()[token] + h @ self.lstm.weight_hh_l0.t(), c)
        return torch.cat([h, c], dim=-1)

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(states[..., : self.state_size])

    # Fast paths: where no step follows, c is never needed, and torch's fused nn.LSTM gives every h.

    def _hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """h after each token from the fused layer: [B, L] -> [B, L, N]."""
        h, _ = self.lstm(_one_hot(tokens, self.vocab_size, self.lstm.weight_ih_l0))
        return h

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.query_token:
            tokens = torch.cat([tokens, torch.full_like(tokens[:, :1], self.query_id)], dim=1)
        return self.head(self._hidden(tokens)[:, -1])

    def prefix_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.query_token:
            return super().prefix_logits(tokens)
        return self.head(self._hidden(tokens))


class RNNLayer(RecurrentLayer):
    """The Elman recurrence over a continuous input x_t in R^d, for `layers` > 1 (stack.py):
    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), h_{-1} = 0. Fast path: torch's fused nn.RNN(d, N);
    `ReferenceRNNLayer` is the cell equation one step at a time. State h, N reals."""

    def __init__(self, d_model: int, state_size: int) -> None:
        super().__init__()
        self.state_size = state_size
        self.rnn = nn.RNN(d_model, state_size, nonlinearity="tanh", batch_first=True)

    @property
    def state_dim(self) -> int:
        return self.state_size

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]

    def step(self, states: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        r = self.rnn
        return torch.tanh(F.linear(x, r.weight_ih_l0, r.bias_ih_l0) + F.linear(states, r.weight_hh_l0, r.bias_hh_l0))


class ReferenceRNNLayer(RNNLayer):
    """RNNLayer per step, straight from the cell equation (for tests): same parameters."""

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        r = self.rnn
        h = x.new_zeros(x.shape[0], self.state_size)
        states = []
        for t in range(x.shape[1]):
            h = torch.tanh(x[:, t] @ r.weight_ih_l0.t() + r.bias_ih_l0 + h @ r.weight_hh_l0.t() + r.bias_hh_l0)
            states.append(h)
        return torch.stack(states, dim=1)


class LSTMLayer(RecurrentLayer):
    """The LSTM recurrence over a continuous input x_t in R^d, for `layers` > 1 (stack.py), torch's gate
    order i, f, g, o, h_{-1} = c_{-1} = 0; state [h, c] (2N), and the block passes h up the stream.

    Fast path: the input terms W_ih x_t + b_ih + b_hh of every position in one GEMM, then one addmm and
    the gates per step (nn.LSTM returns c only for the last position, and the stack's state holds every
    c). `ReferenceLSTMLayer` is the cell equations one step at a time.
    """

    def __init__(self, d_model: int, state_size: int) -> None:
        super().__init__()
        self.state_size = state_size
        self.lstm = nn.LSTM(d_model, state_size, batch_first=True)

    @property
    def state_dim(self) -> int:
        return 2 * self.state_size

    @property
    def output_dim(self) -> int:
        return self.state_size

    def output(self, states: torch.Tensor) -> torch.Tensor:
        return states[..., : self.state_size]

    def _cell(self, pre: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        i, f, g, o = pre.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        m = self.lstm
        inputs = F.linear(x.transpose(0, 1), m.weight_ih_l0, m.bias_ih_l0 + m.bias_hh_l0)  # [L, B, 4N]
        w_hh = m.weight_hh_l0.t()
        h = x.new_zeros(x.shape[0], self.state_size)
        c = torch.zeros_like(h)
        states = []
        for t in range(x.shape[1]):
            h, c = self._cell(torch.addmm(inputs[t], h, w_hh), c)
            states.append(torch.cat([h, c], dim=-1))
        return torch.stack(states, dim=1) if states else x.new_zeros(x.shape[0], 0, self.state_dim)

    def step(self, states: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        m = self.lstm
        h, c = states[..., : self.state_size], states[..., self.state_size:]
        pre = F.linear(x, m.weight_ih_l0, m.bias_ih_l0) + F.linear(h, m.weight_hh_l0, m.bias_hh_l0)
        return torch.cat(self._cell(pre, c), dim=-1)


class ReferenceLSTMLayer(LSTMLayer):
    """LSTMLayer per step, straight from the cell equations (for tests): same parameters.
    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi), f, g (tanh), o likewise; c' = f c + i g; h' = o tanh(c')."""

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        m, n = self.lstm, self.state_size
        h = x.new_zeros(x.shape[0], n)
        c = torch.zeros_like(h)
        states = []
        for t in range(x.shape[1]):
            pre = x[:, t] @ m.weight_ih_l0.t() + m.bias_ih_l0 + h @ m.weight_hh_l0.t() + m.bias_hh_l0
            i, f = torch.sigmoid(pre[:, :n]), torch.sigmoid(pre[:, n:2 * n])
            g, o = torch.tanh(pre[:, 2 * n:3 * n]), torch.sigmoid(pre[:, 3 * n:])
            c = f * c + i * g
            h = o * torch.tanh(c)
            states.append(torch.cat([h, c], dim=-1))
        return torch.stack(states, dim=1)
