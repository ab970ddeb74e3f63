"""``python -m sandbox.fal``: serve a fal simulator on 127.0.0.1 until interrupted (for trying the adapter by hand)."""

from __future__ import annotations

import argparse

import uvicorn

from sandbox.fal import FalSimulator, create_app


def main() -> None:
    """Parse the port and key, then serve."""
    parser = argparse.ArgumentParser(description="Simulated fal.ai queue API")
    parser.add_argument("--port", type=int, default=8710)
    parser.add_argument("--api-key", default="test-fal-key")
    args = parser.parse_args()
    uvicorn.run(create_app(FalSimulator(args.api_key)), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
