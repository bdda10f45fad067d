"""syncd: keeps the city one-stop system and the national portal in step, and counts truly.

Modules: `config` (TOML settings, validated), `store` (Redis key schema and scripts), `embedded`
(a private redis-server for laptops), `service` (poll and reconcile cycles), `reports` (the form
rendered as text, CSV, JSON), `cli` (the `syncd` command), `i18n` (Vietnamese and English texts),
`logs` (structlog set-up and personal-data redaction).
"""
