"""What the tests run papers against: a fault-injecting HTTP server (faultserver), the
six scholarly APIs faked in their documented formats (fakeapis), and a publisher site
(publisher)."""
