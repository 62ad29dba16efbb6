"""The pure core: values, PKCE, the sign-in state machine, credential resolution, redaction, errors, ports.

Imports the standard library and attrs only; never reads the clock, the environment, files, the network or a
random source itself. Modules are imported one by one (this file re-exports nothing) so that the CLI's fast
paths load only what they use.
"""
