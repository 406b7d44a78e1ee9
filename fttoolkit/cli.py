"""The command line: ``python -m fttoolkit COMMAND ...``.

Commands
--------
``run ALGO --nodes N --seed S --until TICKS [--loss P] [--trace FILE]``
    Run a protocol with its default client workload; write the JSON Lines
    trace to FILE, or a readable transcript to standard output.
``algorithms``
    List the algorithms and what they are.

A user's mistake (unknown algorithm, probability outside [0, 1]...) prints one
line starting ``fttoolkit: error:`` and exits with status 2; no traceback.
"""

import argparse
import sys

from .core.errors import FtError
from .doors import REGISTRY, door_for

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors name the program and never show a traceback."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"fttoolkit: error: {message}\n")


def _algorithms_text():
    width = max((len(n) for n in REGISTRY), default=0)
    return "\n".join(f"  {name:<{width}}  {REGISTRY[name].summary}" for name in sorted(REGISTRY))


def build_parser():
    """Return the argument parser of ``python -m fttoolkit``."""
    parser = _Parser(
        prog="python -m fttoolkit",
        description="fttoolkit: fault tolerance in distributed systems, simulated step by step.",
        epilog="algorithms:\n" + _algorithms_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run", help="run an algorithm and print or save its trace",
        description="Run ALGO with its default client workload on a simulated cluster.",
        epilog="algorithms:\n" + _algorithms_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("algo", metavar="ALGO", help="algorithm name (see the list below)")
    run.add_argument("--nodes", type=int, default=3, metavar="N", help="number of nodes (default 3)")
    run.add_argument("--seed", type=int, default=0, metavar="S", help="master seed (default 0)")
    run.add_argument("--until", type=int, required=True, metavar="TICKS",
                     help="simulated time to run, in ticks (1 tick = 1 ms)")
    run.add_argument("--loss", type=float, default=0.0, metavar="P",
                     help="probability that a message is lost, in [0, 1] (default 0)")
    run.add_argument("--requests", type=int, default=3, metavar="K",
                     help="client requests in the default workload (default 3)")
    run.add_argument("--trace", metavar="FILE",
                     help="write the trace as JSON Lines to FILE instead of a transcript to stdout")

    commands.add_parser("algorithms", help="list the algorithms",
                        description="List the algorithms fttoolkit can run.")
    return parser


def _run(args):
    door_class = door_for(args.algo)
    if args.nodes < 1:
        raise FtError(f"--nodes must be at least 1; got {args.nodes}")
    if args.until < 0:
        raise FtError(f"--until must be a tick >= 0; got {args.until}")
    if args.requests < 0:
        raise FtError(f"--requests must be >= 0; got {args.requests}")
    door = door_class(nodes=args.nodes, seed=args.seed, loss=args.loss)
    door.workload(args.until, requests=args.requests)
    door.run(until=args.until)
    if args.trace:
        try:
            with open(args.trace, "w", encoding="utf-8", newline="\n") as fp:
                door.trace.write_jsonl(fp)
        except OSError as exc:
            raise FtError(f"cannot write the trace to {args.trace!r}: {exc.strerror}") from None
        print(f"{len(door.trace)} events written to {args.trace}")
    else:
        print(door.trace.transcript())
        print(f"# {door.name}: {len(door.ids)} nodes, seed {door.seed}, {len(door.trace)} events, t={door.now}")
    return EXIT_OK


def main(argv=None):
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "algorithms":
            print(_algorithms_text())
            return EXIT_OK
        return _run(args)
    except FtError as exc:
        print(f"fttoolkit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK
