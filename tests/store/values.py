"""Constants shared by the event store specifications."""

RES = 60.0
T0 = 1_700_000_040.0  # a multiple of 60
KEY = "checkout/availability"
