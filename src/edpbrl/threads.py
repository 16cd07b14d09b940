"""Thread settings of the numerical libraries for processes that run many requests at once."""

from __future__ import annotations


def limit_blas_threads(n: int = 1) -> None:
    """Let NumPy's and SciPy's BLAS/LAPACK (OpenBLAS, MKL, ...) use at most ``n`` threads each call.

    A server computes in many request threads at once; each BLAS call would otherwise start a
    parallel region over every core, whose workers spin while waiting and compete with the other
    requests for the same cores. Uses threadpoolctl."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=max(1, int(n)), user_api="blas")
