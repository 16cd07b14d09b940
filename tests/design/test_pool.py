"""Information of candidate queries and lazy greedy log-det selection, against direct computation
and exhaustive search."""

import itertools

import torch

from edpbrl.design.information import query_fisher
from edpbrl.design.pool import greedy_logdet, info_factors, logdet_gains, risk_gains, variance_gains


def _candidates(n=40, K=3, H=2, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, K, H, d, generator=g, dtype=torch.float64)
    return X / X.norm(dim=-1, keepdim=True)


def test_info_factors_equal_the_fisher_of_the_questions():
    X = _candidates()
    theta = torch.randn(5, dtype=torch.float64)
    for th in (None, theta):
        U = info_factors(X, th)
        for e in (0, 7):
            F = query_fisher(X[e].permute(1, 0, 2), th)  # H questions with K options each
            assert torch.allclose(U[e] @ U[e].T, F, atol=1e-10)


def test_logdet_gains_match_direct_logdets():
    U = info_factors(_candidates())
    M = 0.5 * torch.eye(5, dtype=torch.float64) + U[3] @ U[3].T
    direct = torch.stack([torch.logdet(M + U[i] @ U[i].T) - torch.logdet(M) for i in range(len(U))])
    assert torch.allclose(logdet_gains(M, U), direct, atol=1e-8)


def test_variance_gains_match_direct_inverses():
    """The Woodbury form equals tr(V M⁻¹) − tr(V (M + U Uᵀ)⁻¹) with explicit inverses, and with
    V = I it is the A-criterion's gain."""
    U = info_factors(_candidates(), torch.randn(5, dtype=torch.float64))
    M = 0.5 * torch.eye(5, dtype=torch.float64) + U[3] @ U[3].T
    R = torch.randn(5, 2, dtype=torch.float64)
    for V in (R @ R.T, torch.eye(5, dtype=torch.float64)):
        direct = torch.stack(
            [
                torch.trace(V @ torch.linalg.inv(M)) - torch.trace(V @ torch.linalg.inv(M + U[i] @ U[i].T))
                for i in range(len(U))
            ]
        )
        gains = variance_gains(M, U, V)
        assert torch.allclose(gains, direct, atol=1e-9) and (gains >= -1e-12).all()
    # a V that sees only direction 0: candidates that inform direction 0 win
    e0 = torch.zeros(5, 5, dtype=torch.float64)
    e0[0, 0] = 1.0
    W = torch.zeros(2, 5, 1, dtype=torch.float64)
    W[0, 0, 0], W[1, 1, 0] = 1.0, 3.0  # candidate 1 is more informative, but about direction 1
    assert torch.argmax(variance_gains(torch.eye(5, dtype=torch.float64), W, e0)) == 0
    assert torch.argmax(logdet_gains(torch.eye(5, dtype=torch.float64), W)) == 1


def test_risk_gains_match_direct_inverses_and_the_error_at_one_theta():
    """The Woodbury form equals J(M) − J(M + U Uᵀ), J(M) = tr(CM⁻¹) + tr(M⁻¹CM⁻¹D), with explicit
    inverses for an indefinite D; D = 0 is variance_gains; and with D = bbᵀ − P, J is the
    linearised error at one θ, bias + variance, computed term by term."""
    U = info_factors(_candidates(), torch.randn(5, dtype=torch.float64))
    P = 0.5 * torch.eye(5, dtype=torch.float64) + 0.1 * torch.ones(5, 5, dtype=torch.float64)
    M = P + U[3] @ U[3].T
    R = torch.randn(5, 3, dtype=torch.float64)
    C = R @ R.T
    Z = torch.randn(5, 5, dtype=torch.float64)

    def J(M, D):
        Mi = torch.linalg.inv(M)
        return torch.trace(C @ Mi) + torch.trace(Mi @ C @ Mi @ D)

    for D in (Z + Z.T, torch.zeros(5, 5, dtype=torch.float64)):
        direct = torch.stack([J(M, D) - J(M + U[i] @ U[i].T, D) for i in range(len(U))])
        assert torch.allclose(risk_gains(M, U, C, D), direct, atol=1e-9)
    assert torch.allclose(risk_gains(M, U, C, 0 * Z), variance_gains(M, U, C), atol=1e-10)
    b = P @ torch.randn(5, dtype=torch.float64)  # P(m − θ)

    def error(M):  # bias² + variance of the MAP's C-weighted error, F = M − P the answers' information
        Mi = torch.linalg.inv(M)
        return b @ Mi @ C @ Mi @ b + torch.trace(C @ Mi @ (M - P) @ Mi)

    D = torch.outer(b, b) - P
    direct = torch.stack([error(M) - error(M + U[i] @ U[i].T) for i in range(len(U))])
    assert torch.allclose(risk_gains(M, U, C, D), direct, atol=1e-9)


def test_lazy_greedy_equals_plain_greedy_and_is_near_exhaustive():
    U = info_factors(_candidates(n=12))
    M0 = 0.3 * torch.eye(5, dtype=torch.float64)
    lazy = greedy_logdet(M0, U, 3, batch=2)
    plain, M = [], M0.clone()  # non-lazy greedy: re-score everything every round
    for _ in range(3):
        g = logdet_gains(M, U)
        g[plain] = -torch.inf
        j = int(torch.argmax(g))
        plain.append(j)
        M = M + U[j] @ U[j].T
    assert lazy == plain

    def value(S):
        return float(torch.logdet(M0 + sum(U[i] @ U[i].T for i in S)))

    best = max(value(S) for S in itertools.combinations(range(12), 3))
    # greedy on a monotone submodular function reaches at least (1 − 1/e) of the optimal gain
    base = value([])
    assert value(lazy) - base >= (1 - 1 / 2.718281828) * (best - base)
