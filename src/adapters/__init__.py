"""Real technology behind the domain's ports: HTTP, the loopback listener, the browser, the stores, the clock.

Every library exception is translated into an error of ``hyperframes_auth.domain.errors`` here.
"""
