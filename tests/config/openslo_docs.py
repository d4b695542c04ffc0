"""OpenSLO documents shared by the tests of the loader, the writer and ``convert``.

Each constant is one small file's text, named by what it shows; tests that need
a variation write their own document inline.
"""

#: An SLO on a rolling 30m window: it loads, but has no native form (native
#: windows are at least 1h), so writing it fails at ``documents[0] web/fast.window``.
FAST_30M = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: fast}
spec:
  service: web
  indicator:
    metadata: {name: sli}
    spec:
      ratioMetric:
        good: {metricSource: {type: Prometheus, spec: {query: ok_total}}}
        total: {metricSource: {type: Prometheus, spec: {query: all_total}}}
  timeWindow: [{duration: 30m, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
"""
