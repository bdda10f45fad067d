"""The National Public Service Portal (DVCQG), in the wire style of DOMAIN.md §4.

Login, then service-style POSTs carrying `{session, madonvi, service, ...}`; PascalCase Vietnamese
field names; `yyyyMMddHHmmss` local times; numeric status codes travelling as strings; page number
and total for paging; success codes "00" or 0 depending on the version.
"""
