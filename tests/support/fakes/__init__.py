"""Local fake bot-API servers of the four platforms, held to ../platform-api (the
documented calls, parameters, units, auth, error bodies and rate limits).

Each fake is a real HTTP server on a free loopback port (uvicorn in a thread of the test
process), so the enforcer talks to it exactly as to the platform, from the test process or
from a child process."""
