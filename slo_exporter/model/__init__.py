"""The typed model every part of slo-exporter shares.

``config`` holds the frozen configuration classes, ``period`` the SLO period
(``calendar`` its calendar kind),
``alerting`` the alert window catalogue and ``identity`` what stored history
belongs to. Everything is re-exported here, so callers write
``from slo_exporter.model import SLO``.

Must not parse YAML, read files or clocks.
"""

from slo_exporter.model.alerting import (
    ALERT_WINDOWS,
    DEFAULT_ALERTING,
    SEVERITIES,
    Alerting,
    AlertSettings,
    AlertWindow,
)
from slo_exporter.model.calendar import (
    CALENDAR_UNITS,
    CalendarPeriod,
    CalendarUnit,
    parse_label,
)
from slo_exporter.model.config import (
    SLI,
    SLO,
    STANDARD_WINDOWS,
    BasicAuth,
    BoolGaugeSLI,
    Config,
    DNSProbe,
    HTTPProbe,
    LatencySLI,
    ProbeSLI,
    ProbeTarget,
    PrometheusConfig,
    Query,
    RatioSLI,
    RawRatioSLI,
    Selector,
    Service,
    StorageConfig,
    TCPProbe,
    Template,
    TLSConfig,
    TLSProbe,
    frozen_map,
)
from slo_exporter.model.identity import SLOId, fingerprint
from slo_exporter.model.period import Period, RollingPeriod
from slo_exporter.model.slm import (
    Budgeting,
    BudgetingMethod,
    CompositeComponent,
    CompositeMode,
    CompositeSLI,
    EmptySlices,
    MaintenanceWindow,
    RatioTimeslices,
    Timeslices,
)

__all__ = [
    "ALERT_WINDOWS",
    "CALENDAR_UNITS",
    "DEFAULT_ALERTING",
    "SEVERITIES",
    "SLI",
    "SLO",
    "STANDARD_WINDOWS",
    "AlertSettings",
    "AlertWindow",
    "Alerting",
    "BasicAuth",
    "BoolGaugeSLI",
    "Budgeting",
    "BudgetingMethod",
    "CalendarPeriod",
    "CalendarUnit",
    "CompositeComponent",
    "CompositeMode",
    "CompositeSLI",
    "Config",
    "DNSProbe",
    "EmptySlices",
    "HTTPProbe",
    "LatencySLI",
    "MaintenanceWindow",
    "Period",
    "ProbeSLI",
    "ProbeTarget",
    "PrometheusConfig",
    "Query",
    "RatioSLI",
    "RatioTimeslices",
    "RawRatioSLI",
    "RollingPeriod",
    "SLOId",
    "Selector",
    "Service",
    "StorageConfig",
    "TCPProbe",
    "TLSConfig",
    "TLSProbe",
    "Template",
    "Timeslices",
    "fingerprint",
    "frozen_map",
    "parse_label",
]
