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
- triggers.py    Process Automation triggers (views/triggers.py); jsonpath.py for match criteria
- events.py      work-item event bodies and envelopes, posted like a trigger's data action would
- lifecycle.py   moves submitted items through their statuses (manage.py simulator_lifecycle)
- views/workitem_events.py  emits add/edit/delete events once a work-item write commits
"""
