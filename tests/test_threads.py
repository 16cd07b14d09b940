from threadpoolctl import threadpool_info, threadpool_limits

from edpbrl.threads import limit_blas_threads


def _blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_limit_blas_threads_caps_every_blas_library():
    before = _blas_threads()
    assert before, "numpy ships a BLAS that threadpoolctl sees"
    try:
        threadpool_limits(limits=2, user_api="blas")
        assert max(_blas_threads()) >= 1
        limit_blas_threads(1)
        assert _blas_threads() == [1] * len(before)
        limit_blas_threads(0)  # clamped to one thread, not "no limit"
        assert _blas_threads() == [1] * len(before)
    finally:
        threadpool_limits(limits=max(before), user_api="blas")
