"""A short tour of xtrace: arrays, eager ops on XLA, jit, the IR and the StableHLO text."""
import time

import numpy as np

import xtrace
import xtrace.numpy as xnp


def main() -> None:
    print("devices:", xtrace.devices())
    x = xnp.arange(6.0).reshape(2, 3)
    print("x =", x)
    print("x @ x.T =", x @ x.T)

    def f(x):
        return xnp.sum(xnp.tanh(x * 2.0 + 1.0) ** 2)

    print("make_jaxpr(f):")
    print(xtrace.make_jaxpr(f)(x))
    jf = xtrace.jit(f)
    print("StableHLO of jit(f):")
    print(jf.lower(x).as_text())
    big = xnp.asarray(np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32))
    for name, fn in (("eager", f), ("jit", jf)):
        fn(big).block_until_ready()
        t = time.perf_counter()
        for _ in range(10):
            fn(big).block_until_ready()
        print(f"{name:5s}: {(time.perf_counter() - t) / 10 * 1e3:.2f} ms per call")
    print("f(big) =", float(jf(big)), " NumPy:", float(np.sum(np.tanh(np.asarray(big) * 2 + 1) ** 2)))


if __name__ == "__main__":
    main()
