#!/usr/bin/env python3
"""Regenerates the Prometheus/OpenMetrics exposition fixtures with the official Python client.

    pip install prometheus-client    # the fixtures were made with 0.26.0
    python3 make_fixtures.py

Writes, next to this script:

  python_client.prom        generate_latest()                     (text/plain; version=0.0.4)
  python_client.om.txt      openmetrics.exposition.generate_latest (application/openmetrics-text; version=1.0.0)
  python_client_utf8.prom   the same registry plus UTF-8 (dotted) names, escaping=allow-utf-8
  python_client_utf8.om.txt

The client reads the clock for `_created` samples, exemplar timestamps and set_to_current_time(); the script
pins `time.time()` to fixed instants so that the output is reproducible. ExpositionTests.swift asserts
concrete samples of these files, so regenerate them only together with the tests.
"""
import math
import os
import time

import prometheus_client
from prometheus_client import (CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, Summary,
                               generate_latest)
from prometheus_client.core import (CounterMetricFamily, GaugeHistogramMetricFamily,
                                    GaugeMetricFamily, StateSetMetricFamily)
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.validation import disable_legacy_validation

HERE = os.path.dirname(os.path.abspath(__file__))

# 2023-11-14T22:13:20.123Z, then later instants for exemplars.
CREATED = 1700000000.123
EXEMPLAR_TIME = 1700000042.5


class FixedClock:
    def __init__(self, now):
        self.now = now
        self.saved = None

    def __enter__(self):
        self.saved = time.time
        time.time = lambda: self.now
        return self

    def __exit__(self, *args):
        time.time = self.saved


class CustomCollector:
    """Metrics with explicit timestamps and the OpenMetrics-only types."""

    def collect(self):
        c = CounterMetricFamily('batch_jobs', 'Batch jobs completed.', labels=['queue'])
        c.add_metric(['default'], 42, timestamp=1700000100.25)
        c.add_metric(['priority'], 7, timestamp=1700000100)
        yield c
        g = GaugeMetricFamily('queue_depth', 'Items waiting, as last reported.', labels=['queue'])
        g.add_metric(['default'], 3, timestamp=1700000100.5)
        yield g
        gh = GaugeHistogramMetricFamily('inflight_request_size_bytes', 'Sizes of the requests in flight.',
                                        buckets=[('100.0', 4), ('1000.0', 9), ('+Inf', 10)], gsum_value=5230.5)
        yield gh
        s = StateSetMetricFamily('feature_flags', 'Feature flags.', labels=['service'])
        s.add_metric(['api'], {'dark_mode': True, 'beta_search': False})
        yield s


def build(registry, utf8):
    with FixedClock(CREATED):
        requests = Counter('http_requests', 'Total HTTP requests.', ['method', 'code', 'path'], registry=registry)
        requests.labels('GET', '200', '/').inc(1027)
        requests.labels('POST', '400', '/api/v1/"quoted"').inc(3)
        requests.labels('GET', '500', 'C:\\DIR\\FILE.TXT').inc(2)
        requests.labels('GET', '200', 'line one\nline two').inc(1)
        requests.labels('GET', '200', '/grüße/路径/😀').inc(5)

        rpc = Counter('rpc_calls', 'RPC calls, with exemplars.', ['service'], registry=registry)
        checkout = rpc.labels('checkout')
        with FixedClock(EXEMPLAR_TIME):
            checkout.inc(17, exemplar={'trace_id': 'KOO5S4vxi0o', 'span_id': 'e7b5'})

        temperature = Gauge('room_temperature', 'Temperature of the room.\nSecond line with \\ backslash and "quotes".',
                            ['room'], unit='celsius', registry=registry)
        temperature.labels('kitchen').set(21.5)
        temperature.labels('freezer').set(-18.25)
        temperature.labels('broken').set(float('nan'))
        temperature.labels('sun').set(float('inf'))
        temperature.labels('space').set(-math.inf)

        big = Gauge('big_numbers', 'Large and small values.', ['kind'], registry=registry)
        big.labels('large').set(1.5e300)
        big.labels('small').set(2.5e-300)
        big.labels('integer').set(9007199254740993)
        big.labels('million').set(1234567)

        latency = Histogram('request_latency_seconds', 'Request latency.', ['handler'],
                            buckets=[0.005, 0.01, 0.1, 1, 10], registry=registry)
        for value in [0.003, 0.02, 0.2, 0.7, 3]:
            latency.labels('/api').observe(value)
        with FixedClock(EXEMPLAR_TIME):
            latency.labels('/api').observe(0.05, exemplar={'trace_id': 'oHg5SJYRHA0'})

        payload = Summary('payload_bytes', 'Payload sizes.', registry=registry)
        for value in [100, 250, 4000]:
            payload.observe(value)

        info = Info('build', 'Build information.', registry=registry)
        info.info({'version': '1.2.3', 'revision': 'abc"def', 'branch': 'main'})

        state = Enum('task_state', 'State of the task.', ['task'], states=['starting', 'running', 'stopped'],
                     registry=registry)
        state.labels('indexer').state('running')

        if utf8:
            dotted = Counter('my.dotted.requests', 'Requests with a dotted name.', ['http.method'], registry=registry)
            dotted.labels('GET').inc(9)
            odd = Gauge('odd "name" with spaces', 'A gauge whose name needs escaping.', registry=registry)
            odd.set(1)

    registry.register(CustomCollector())


def write(name, data):
    with open(os.path.join(HERE, name), 'wb') as f:
        f.write(data)


def main():
    registry = CollectorRegistry()
    build(registry, utf8=False)
    write('python_client.prom', generate_latest(registry))
    write('python_client.om.txt', openmetrics.generate_latest(registry))

    disable_legacy_validation()
    registry = CollectorRegistry()
    build(registry, utf8=True)
    write('python_client_utf8.prom', generate_latest(registry, escaping=openmetrics.ALLOWUTF8))
    write('python_client_utf8.om.txt', openmetrics.generate_latest(registry, escaping=openmetrics.ALLOWUTF8))
    print('prometheus-client', getattr(prometheus_client, '__version__', '0.26.0'))


if __name__ == '__main__':
    main()
