from spct.backends.base import BACKENDS, Backend, BackendError, Completion, Sampling, load_backend

__all__ = ["BACKENDS", "Backend", "BackendError", "Completion", "Sampling", "load_backend"]
