"""The KIE.ai simulator's public surface (the implementation lives in :mod:`sandbox.kie`).

Run it alone with ``python -m sandbox.kie_simulator`` (port 8700, key ``test-kie-key``).
"""

from __future__ import annotations

from sandbox.kie import CallbackRecord, KieSimulator, Outcome, Scenario, SimTask, apply_prompt_markers, create_app

__all__ = ["CallbackRecord", "KieSimulator", "Outcome", "Scenario", "SimTask", "apply_prompt_markers", "create_app"]


def main() -> None:
    """Serve a simulator on 127.0.0.1 until interrupted (for trying the adapters by hand)."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description="Simulated KIE.ai API")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--api-key", default="test-kie-key")
    parser.add_argument("--completion-s", type=float, nargs=2, metavar=("LOW", "HIGH"))
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--moderation-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    sim = KieSimulator(
        args.api_key,
        seed=args.seed,
        completion_s=tuple(args.completion_s) if args.completion_s else None,
        failure_rate=args.failure_rate,
        moderation_rate=args.moderation_rate,
    )
    uvicorn.run(create_app(sim), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
