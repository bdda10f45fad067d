"""Portal connectors: one subpackage per portal, each with its wire format, client and mock.

- `wire`: the portal's record format <-> the canonical `reconcile.model.Dossier`;
- `client`: the aiohttp client that pages through the portal's changes since a cursor;
- `mock`: an aiohttp application that speaks the same protocol, for tests and the demo.

`base` holds what every connector shares (cursor, page, the connector protocol), and `dataset`
generates the one set of dossiers both mocks serve, with known disagreements between them.
"""
