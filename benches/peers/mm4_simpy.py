"""M/M/4 at load 0.8 in SimPy: the same model as mm4.toml, for a speed comparison.

Poisson arrivals at 3.2/s, exponential service with mean 1 s, 4 servers, FIFO queue.
Prints customers, wall seconds, customers per second, and the mean wait (Erlang C: 0.7455 s).
Usage: python3 mm4_simpy.py [customers]
"""
import random
import sys
import time

import simpy

LAMBDA, MU, SERVERS = 3.2, 1.0, 4


def main():
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = random.Random(1)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=SERVERS)
    waits = []

    def customer(arrived):
        with servers.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(rng.expovariate(MU))

    def source():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(LAMBDA))
            env.process(customer(env.now))

    env.process(source())
    start = time.perf_counter()
    env.run()
    wall = time.perf_counter() - start
    print(f"simpy customers={customers} wall_s={wall:.3f} customers_per_s={customers / wall:.0f} mean_wait_s={sum(waits) / len(waits):.4f}")


if __name__ == "__main__":
    main()
