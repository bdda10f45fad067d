"""The city one-stop system: a REST JSON API with its own field names and native statuses.

Modelled on a public one-stop system (OpenCPS): English status words mapped to the national codes
by configuration, `dd/MM/yyyy HH:mm:ss` local times, continuation-token pagination, API key.
"""
