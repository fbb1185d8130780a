"""A fake Genesys Cloud for the demo, the tests and the benchmarks (mounted at /simulator/).

Layout:
- models.py      SimEntity (every Genesys object as JSON), SimToken, SimRateWindow, SimFault
- clock.py       the one clock; tests patch simulator.clock.now
- http.py        endpoint(): bearer auth, per-token quota, faults, correlation ids, ErrorBody
- auth.py, ratelimit.py, faults.py, errors.py, paging.py, query.py, customfields.py
- store.py       read/write SimEntity rows; render.py turns them into Genesys JSON shapes
- workitems.py   work-item validation and behaviour; views/ one module per API area
- demo.py        seed_demo_org() (manage.py simulator_seed)
- transport.py   InProcessTransport / simulator_session(): requests straight into Django
Next to come: Process Automation triggers and work-item events (views/triggers.py).
"""
